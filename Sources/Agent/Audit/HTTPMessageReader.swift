import DockerStream

/// Follows one direction of an HTTP/1.1 connection through its messages: a head, then
/// the body the caller says its framing gives, then the next head. It never changes a
/// byte; what the messages mean is the taps' business.
struct HTTPMessageReader {
    private enum Part {
        case head(HTTPHeadReader)
        case body(remaining: UInt64)
        case chunked(ChunkedDecoder)
    }

    private var part = Part.head(HTTPHeadReader())

    /// What the bytes given to `read` led to.
    enum Step {
        /// All of them belong to a head still arriving.
        case headIncomplete
        /// A head ended after `consumed` of them. Next comes the body the caller starts
        /// (`startBody`, `startChunkedBody`), or else the next head.
        case head(HTTPHead, consumed: Int)
        /// Not a head the proxy understands.
        case invalidHead(String)
        /// All of them belong to a body that goes on.
        case bodyContinues
        /// The body ended after `consumed` of them; a head comes next.
        case bodyEnded(consumed: Int)
        /// A chunked body the proxy cannot frame.
        case invalidBody(String)
        /// (`readFraming` only) body bytes that may pass unread come next, after
        /// `consumed` of the given bytes (framing); see `skippable`.
        case atSkippableData(consumed: Int)
    }

    /// Reads from the start of `bytes` (not empty) up to the next step; a body's bytes
    /// (without the chunked framing) go to `take`.
    mutating func read(_ bytes: UnsafeRawBufferPointer, take: (UnsafeRawBufferPointer) -> Void = { _ in }) -> Step {
        switch part {
        case .head(var reader):
            let outcome = reader.feed(bytes)
            part = .head(reader)
            switch outcome {
            case .needMore: return .headIncomplete
            case .invalid(let why): return .invalidHead(why)
            case .head(let head, let consumed): return .head(head, consumed: consumed)
            }
        case .body(let remaining):
            let n = Int(min(UInt64(bytes.count), remaining))
            take(UnsafeRawBufferPointer(rebasing: bytes[..<n]))
            guard UInt64(n) < remaining else { return bodyEnded(consumed: n) }
            part = .body(remaining: remaining - UInt64(n))
            return .bodyContinues
        case .chunked(var decoder):
            let status = decoder.feed(bytes, emit: take)
            part = .chunked(decoder)
            switch status {
            case .ok: return .bodyContinues
            case .ended(let unconsumed): return bodyEnded(consumed: bytes.count - unconsumed)
            case .failed(let error): return .invalidBody("\(error)")
            }
        }
    }

    /// As `read`, for a caller that does not want a body's content: it stops where
    /// body bytes begin (a Content-Length body, chunk data), which the caller then
    /// passes over with `skip`.
    mutating func readFraming(_ bytes: UnsafeRawBufferPointer) -> Step {
        switch part {
        case .head:
            return read(bytes)
        case .body:
            return .atSkippableData(consumed: 0)
        case .chunked(var decoder):
            let (consumed, status) = decoder.feedFraming(bytes)
            part = .chunked(decoder)
            switch status {
            case .ok: return decoder.dataRemaining > 0 ? .atSkippableData(consumed: consumed) : .bodyContinues
            case .ended(let unconsumed): return bodyEnded(consumed: bytes.count - unconsumed)
            case .failed(let error): return .invalidBody("\(error)")
            }
        }
    }

    /// Body bytes that come next and may pass unread: the rest of a Content-Length
    /// body, or of the current chunk's data (0 in a head or in chunked framing).
    var skippable: UInt64 {
        switch part {
        case .head: 0
        case .body(let remaining): remaining
        case .chunked(let decoder): decoder.dataRemaining
        }
    }

    /// Passes over `count` (1 up to `skippable`) body bytes without their content.
    mutating func skip(_ count: Int) -> Step {
        switch part {
        case .head:
            preconditionFailure("skipping bytes of a head")
        case .body(let remaining):
            guard UInt64(count) < remaining else { return bodyEnded(consumed: count) }
            part = .body(remaining: remaining - UInt64(count))
            return .bodyContinues
        case .chunked(var decoder):
            decoder.skipData(UInt64(count))
            part = .chunked(decoder)
            return .bodyContinues
        }
    }

    /// After a head: a body of `length` bytes (more than 0) follows.
    mutating func startBody(length: UInt64) { part = .body(remaining: length) }

    /// After a head: a chunked body follows.
    mutating func startChunkedBody() { part = .chunked(ChunkedDecoder()) }

    private mutating func bodyEnded(consumed: Int) -> Step {
        part = .head(HTTPHeadReader())
        return .bodyEnded(consumed: consumed)
    }
}
