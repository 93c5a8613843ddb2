import DockerStream
import Logging
import NIOCore

/// Watches client → daemon bytes and notes each request's endpoint. Without an API
/// allow-list it passes every byte on at once, untouched. With one, a request's head is
/// held until it is decided: an allowed request goes on byte for byte, a refused one
/// never reaches the daemon (see `APIRefusal`). After an attach or exec start, the rest
/// is the container's stdin and is not parsed.
final class RequestTap: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum State {
        case head(HTTPHeadReader)
        case body(remaining: UInt64, then: DockerEndpoint)
        case chunked(ChunkedDecoder, then: DockerEndpoint)
        case stdin
    }

    /// What one read's bytes led to, with an allow-list.
    private enum Verdict {
        /// The first `n` bytes are decided and may go on; the rest (a head still
        /// arriving) waits.
        case forward(Int)
        /// The first `n` bytes may go on (earlier requests); the request after them is refused.
        case refuse(after: Int, method: String, target: String, reason: String)
    }

    private let exchanges: ExchangeLog
    private let gate: APIRefusal?
    private var state = State.head(HTTPHeadReader())
    /// With an allow-list: bytes read but not passed on yet (an undecided head).
    private var held: ByteBuffer?
    private var refused = false

    init(exchanges: ExchangeLog, gate: APIRefusal? = nil) { self.exchanges = exchanges; self.gate = gate }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let gate else {
            unwrapInboundIn(data).withUnsafeReadableBytes { _ = observe($0, policy: nil) }
            context.fireChannelRead(data)
            return
        }
        guard !refused else { return }  // after a refusal nothing more goes to the daemon
        var incoming = unwrapInboundIn(data)
        var pending = held ?? context.channel.allocator.buffer(capacity: incoming.readableBytes)
        let alreadyParsed = pending.readableBytes
        pending.writeBuffer(&incoming)
        let verdict = pending.withUnsafeReadableBytes {
            observe(UnsafeRawBufferPointer(rebasing: $0[alreadyParsed...]), policy: gate.policy)
        }
        let (n, refusal): (Int, (method: String, target: String, reason: String)?) = switch verdict {
        case .forward(let n): (n, nil)
        case .refuse(let n, let method, let target, let reason): (n, (method, target, reason))
        }
        if n > 0, let slice = pending.readSlice(length: alreadyParsed + n) {
            context.fireChannelRead(wrapInboundOut(slice))
        }
        pending.discardReadBytes()
        held = pending.readableBytes > 0 ? pending : nil
        if let refusal {
            refused = true
            held = nil
            gate.refuse(method: refusal.method, target: refusal.target, reason: refusal.reason, exchanges: exchanges, context: context)
        }
    }

    /// Parses `bytes`; with a policy, stops at the first refused request.
    private func observe(_ bytes: UnsafeRawBufferPointer, policy: APIPolicy?) -> Verdict {
        var rest = bytes
        var decided = 0  // bytes of this call that are decided (allowed)
        while !rest.isEmpty {
            switch state {
            case .head(var reader):
                switch reader.feed(rest) {
                case .needMore:
                    state = .head(reader)
                    return .forward(decided)
                case .invalid(let why):
                    state = .stdin  // not HTTP we understand: pass through, stop parsing
                    if policy != nil { return .refuse(after: decided, method: "?", target: "?", reason: "not an HTTP request the proxy can check: \(why)") }
                    return .forward(bytes.count)
                case .head(let head, let consumed):
                    if let policy {
                        let decision = policy.decide(method: head.first, target: head.second)
                        guard decision.allowed else { return .refuse(after: decided, method: head.first, target: head.second, reason: decision.reason) }
                    }
                    rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
                    decided = bytes.count - rest.count
                    let endpoint = DockerEndpoint(method: head.first, target: head.second)
                    exchanges.waiting.append(.init(endpoint: endpoint, isHead: head.first == "HEAD"))
                    if head.isChunked {
                        state = .chunked(ChunkedDecoder(), then: endpoint)
                    } else if let length = head.contentLength, length > 0 {
                        state = .body(remaining: length, then: endpoint)
                    } else {
                        afterBody(endpoint)
                    }
                }
            case .body(let remaining, let endpoint):
                let n = min(UInt64(rest.count), remaining)
                rest = UnsafeRawBufferPointer(rebasing: rest[Int(n)...])
                decided = bytes.count - rest.count
                if n == remaining { afterBody(endpoint) } else { state = .body(remaining: remaining - n, then: endpoint) }
            case .chunked(var decoder, let endpoint):
                switch decoder.feed(rest, emit: { _ in }) {
                case .ok:
                    state = .chunked(decoder, then: endpoint)
                    return .forward(bytes.count)
                case .ended(let unconsumed):
                    rest = UnsafeRawBufferPointer(rebasing: rest[(rest.count - unconsumed)...])
                    decided = bytes.count - rest.count
                    afterBody(endpoint)
                case .failed:
                    state = .stdin  // the body's own framing is the daemon's to judge
                    return .forward(bytes.count)
                }
            case .stdin:
                return .forward(bytes.count)
            }
        }
        return .forward(decided)
    }

    private func afterBody(_ endpoint: DockerEndpoint) {
        switch endpoint {
        case .attach, .execStart: state = .stdin
        default: state = .head(HTTPHeadReader())
        }
    }
}
