/// Incremental decoder for an HTTP/1.1 chunked body (RFC 9112 §7.1):
///
///     chunk-size [ chunk-ext ] CRLF  chunk-data CRLF  ...  0 [ chunk-ext ] CRLF  *( field-line CRLF )  CRLF
///
/// Chunk data is handed out as it arrives, as slices of the caller's buffer; nothing
/// is collected per chunk, and the framing between chunks is checked byte by byte
/// with counters only, so the state is a fixed-size value with no heap storage.
///
/// Strictness, chosen for a proxy that must see exactly what the client sees:
/// - Lines end in CRLF only. A bare LF is an error, not a line end. RFC 9112 §2.2
///   lets recipients accept a bare LF for the start line and header fields, but the
///   chunk grammar says CRLF, Docker (Go net/http) always writes CRLF, and Go itself
///   rejects bare LF in chunk lines since the CVE-2025-22871 fix. Accepting it would
///   let the proxy and the client disagree on where data ends (smuggling), which is
///   worse than reporting a protocol error and stopping the scan.
/// - The chunk size is 1+ hex digits, at most 2^63-1. SP/HTAB may follow it, before
///   `;` extensions or the CRLF (Go trims such whitespace too). Extensions are
///   skipped; they may hold any byte except controls other than HTAB. The whole size
///   line (without CRLF) is capped at `maxLineLength`.
/// - Data must be followed by exactly CRLF.
/// - Trailer lines must look like fields (a `:` that is not the first byte, no
///   leading whitespace, no controls other than HTAB) and the trailer section is
///   capped at `maxTrailerLength`. Their content is skipped, never buffered.
/// - After the final CRLF the body has ended: `feed` returns `.ended(unconsumed:)`
///   with the count of bytes that belong to whatever follows (the next response on a
///   keep-alive connection), and examines nothing more.
public struct ChunkedDecoder: Sendable {
    public static let defaultMaxLineLength = 1024
    public static let defaultMaxTrailerLength = 16 * 1024

    public let maxLineLength: Int
    public let maxTrailerLength: Int

    /// Raw body bytes accepted so far (up to the offending byte once an error occurred;
    /// up to the final LF once the body ended).
    public private(set) var bytesConsumed: UInt64 = 0
    /// Data bytes emitted so far.
    public private(set) var dataBytes: UInt64 = 0
    /// Chunks whose size line has been read, not counting the last (zero-size) chunk.
    public private(set) var chunks: UInt64 = 0
    /// The sticky error, once one occurred.
    public private(set) var error: ProtocolError?
    /// True once the last chunk and the trailer section have been read.
    public var isComplete: Bool { state == .done }

    private enum State: UInt8, Sendable {
        case sizeDigits, sizeWhitespace, sizeExtension, sizeLF
        case data, dataCR, dataLF
        case trailerLineStart, trailerLine, trailerLF, endLF
        case done
    }

    private var state = State.sizeDigits
    private var size: UInt64 = 0
    private var remaining: UInt64 = 0
    private var hasDigit = false
    private var lineLength = 0
    private var trailerLength = 0
    private var trailerHasColon = false

    public init(maxLineLength: Int = defaultMaxLineLength, maxTrailerLength: Int = defaultMaxTrailerLength) {
        self.maxLineLength = maxLineLength
        self.maxTrailerLength = maxTrailerLength
    }

    /// Decodes `bytes`, calling `emit` with each run of chunk data (never empty) in
    /// order. The slices point into `bytes` and are valid only during the call.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) -> ParseStatus {
        if let error { return .failed(error) }
        if state == .done { return .ended(unconsumed: bytes.count) }
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return .ok }
        let end = bytes.count
        var i = 0
        while i < end {
            if state == .data {
                let n = Int(min(remaining, UInt64(end - i)))
                emit(UnsafeRawBufferPointer(start: base + i, count: n))
                remaining -= UInt64(n)
                dataBytes &+= UInt64(n)
                i += n
                if remaining == 0 { state = .dataCR }
                continue
            }
            if let reason = step(base.load(fromByteOffset: i, as: UInt8.self)) {
                let failure = ProtocolError(reason, at: bytesConsumed + UInt64(i))
                error = failure
                bytesConsumed += UInt64(i)
                return .failed(failure)
            }
            i += 1
            if state == .done {
                bytesConsumed += UInt64(i)
                return .ended(unconsumed: end - i)
            }
        }
        bytesConsumed += UInt64(end)
        return .ok
    }

    /// Reads the framing only, and stops where chunk data begins: for a caller that
    /// moves the data without looking at it (`skipData`). Returns how many of `bytes`
    /// it consumed, and the status as `feed` gives it (`.ok`: it consumed them all,
    /// or stopped at data, `dataRemaining` > 0).
    public mutating func feedFraming(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, status: ParseStatus) {
        if let error { return (0, .failed(error)) }
        if state == .done { return (0, .ended(unconsumed: bytes.count)) }
        var i = 0
        while i < bytes.count, state != .data {
            if let reason = step(bytes[i]) {
                let failure = ProtocolError(reason, at: bytesConsumed + UInt64(i))
                error = failure
                bytesConsumed += UInt64(i)
                return (i, .failed(failure))
            }
            i += 1
            if state == .done {
                bytesConsumed += UInt64(i)
                return (i, .ended(unconsumed: bytes.count - i))
            }
        }
        bytesConsumed += UInt64(i)
        return (i, .ok)
    }

    /// Chunk data that comes next, which `skipData` can pass over without its bytes.
    public var dataRemaining: UInt64 { state == .data ? remaining : 0 }

    /// Counts `count` (at most `dataRemaining`) bytes of chunk data as read, unseen:
    /// for a relay that moves them without copying.
    public mutating func skipData(_ count: UInt64) {
        precondition(count <= dataRemaining, "skipping past the chunk's data")
        remaining -= count
        dataBytes &+= count
        bytesConsumed += count
        if remaining == 0 { state = .dataCR }
    }

    /// Convenience for any byte collection; contiguous ones are not copied.
    public mutating func feed<Bytes: Collection<UInt8>>(_ bytes: Bytes, emit: (UnsafeRawBufferPointer) -> Void) -> ParseStatus {
        if let status = bytes.withContiguousStorageIfAvailable({ feed(UnsafeRawBufferPointer($0), emit: emit) }) {
            return status
        }
        return Array(bytes).withUnsafeBytes { feed($0, emit: emit) }
    }

    /// Call when the connection delivered no more body bytes. Returns nil if the body
    /// ended properly, else a truncation error (or the error found earlier, which is
    /// sticky). Idempotent.
    public mutating func finish() -> ProtocolError? {
        if let error { return error }
        let section: ProtocolError.ChunkedSection
        switch state {
        case .done: return nil
        case .sizeDigits, .sizeWhitespace, .sizeExtension, .sizeLF: section = .chunkSize
        case .data: section = .chunkData(missing: remaining)
        case .dataCR, .dataLF: section = .chunkDataTerminator
        case .trailerLineStart, .trailerLine, .trailerLF, .endLF: section = .trailers
        }
        error = ProtocolError(.truncatedChunkedBody(in: section), at: bytesConsumed)
        return error
    }

    /// Advances the framing state by one byte (any state but `.data` and `.done`).
    private mutating func step(_ b: UInt8) -> ProtocolError.Reason? {
        switch state {
        case .sizeDigits, .sizeWhitespace, .sizeExtension:
            return sizeLineByte(b)
        case .sizeLF:
            guard b == lf else { return .carriageReturnWithoutLineFeed(found: b) }
            if size == 0 {
                state = .trailerLineStart
            } else {
                chunks &+= 1
                remaining = size
                state = .data
            }
        case .dataCR:
            guard b == cr else { return .missingCRLFAfterChunkData(found: b) }
            state = .dataLF
        case .dataLF:
            guard b == lf else { return .missingCRLFAfterChunkData(found: b) }
            state = .sizeDigits
            size = 0
            hasDigit = false
            lineLength = 0
        case .trailerLineStart, .trailerLine, .trailerLF, .endLF:
            return trailerByte(b)
        case .data, .done:
            preconditionFailure("step() is not called for data or after the end")
        }
        return nil
    }

    private mutating func sizeLineByte(_ b: UInt8) -> ProtocolError.Reason? {
        if b == cr {
            guard hasDigit else { return .missingChunkSize }
            state = .sizeLF
            return nil
        }
        if b == lf { return .bareLineFeed }
        lineLength += 1
        if lineLength > maxLineLength { return .chunkSizeLineTooLong(limit: maxLineLength) }
        switch state {
        case .sizeDigits:
            if let digit = hexValue(b) {
                // size * 16 + digit must stay <= Int64.max.
                guard size <= (UInt64(Int64.max) - UInt64(digit)) >> 4 else { return .chunkSizeOverflow }
                size = size << 4 | UInt64(digit)
                hasDigit = true
                return nil
            }
            guard hasDigit else { return b == semicolon ? .missingChunkSize : .invalidChunkSizeCharacter(b) }
            if b == sp || b == htab { state = .sizeWhitespace; return nil }
            if b == semicolon { state = .sizeExtension; return nil }
            return .invalidChunkSizeCharacter(b)
        case .sizeWhitespace:
            if b == sp || b == htab { return nil }
            if b == semicolon { state = .sizeExtension; return nil }
            return .invalidChunkSizeCharacter(b)
        default:
            return isControl(b) ? .invalidChunkExtensionCharacter(b) : nil
        }
    }

    private mutating func trailerByte(_ b: UInt8) -> ProtocolError.Reason? {
        trailerLength += 1
        if trailerLength > maxTrailerLength { return .trailerSectionTooLong(limit: maxTrailerLength) }
        switch state {
        case .trailerLineStart:
            if b == cr { state = .endLF; return nil }
            if b == lf { return .bareLineFeed }
            if b == sp || b == htab || b == colon { return .malformedTrailerLine }
            if isControl(b) { return .invalidTrailerCharacter(b) }
            trailerHasColon = false
            state = .trailerLine
        case .trailerLine:
            if b == cr {
                guard trailerHasColon else { return .malformedTrailerLine }
                state = .trailerLF
            } else if b == lf {
                return .bareLineFeed
            } else if b == colon {
                trailerHasColon = true
            } else if isControl(b) {
                return .invalidTrailerCharacter(b)
            }
        case .trailerLF:
            guard b == lf else { return .carriageReturnWithoutLineFeed(found: b) }
            state = .trailerLineStart
        default: // .endLF
            guard b == lf else { return .carriageReturnWithoutLineFeed(found: b) }
            state = .done
        }
        return nil
    }
}

private let cr: UInt8 = 0x0D
private let lf: UInt8 = 0x0A
private let sp: UInt8 = 0x20
private let htab: UInt8 = 0x09
private let colon: UInt8 = 0x3A
private let semicolon: UInt8 = 0x3B

/// Controls other than HTAB (and DEL) are not allowed in extensions or trailers.
private func isControl(_ b: UInt8) -> Bool { (b < 0x20 && b != htab) || b == 0x7F }

private func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case 0x30...0x39: b - 0x30
    case 0x41...0x46: b - 0x41 + 10
    case 0x61...0x66: b - 0x61 + 10
    default: nil
    }
}
