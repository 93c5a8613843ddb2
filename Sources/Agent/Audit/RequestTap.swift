import Logging
import NIOCore

/// Watches client → daemon bytes and notes each request's endpoint. Without an API
/// allow-list it passes every byte on at once, untouched. With one, nothing goes on
/// before it is decided: a request's head is held until the allow-list has judged it
/// (a refused request never reaches the daemon, see `APIRefusal`), and the bytes after
/// an attach or exec start are held until the daemon's answer shows whether the
/// connection was hijacked: if it was not (a 404, a detached exec), they are requests
/// again and are checked like any other. After a hijack the rest is the container's
/// stdin and is not parsed.
final class RequestTap: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum State {
        /// Requests: their heads, and bodies (`bodyOf` is the request whose body it is).
        case http
        /// With an allow-list: an attach or exec start is sent; its answer decides.
        case awaitingHijack
        case stdin
    }

    /// What the bytes of one pass led to, with an allow-list.
    private enum Verdict {
        /// The first `decided` bytes may go on; `consumed` were parsed (the difference
        /// is a head still arriving; past `consumed`, bytes wait for a hijack's answer).
        case forward(decided: Int, consumed: Int)
        /// The first `after` bytes may go on (earlier requests); the request after them is refused.
        case refuse(after: Int, method: String, target: String, reason: String)
    }

    private let exchanges: ExchangeLog
    private let gate: APIRefusal?
    private var state = State.http
    private var messages = HTTPMessageReader()
    private var bodyOf: DockerEndpoint?
    /// With an allow-list: bytes read but not passed on yet, of which the first
    /// `heldParsed` were parsed already (an undecided head).
    private var held: ByteBuffer?
    private var heldParsed = 0
    private var refused = false
    private var context: ChannelHandlerContext?
    /// Reading paused: bytes held while a hijack's answer is awaited reached `maxHeld`.
    private(set) var paused = false
    /// What may wait for a hijack's answer before the client is not read any more.
    static let maxHeld = 256 * 1024
    /// What a refused client may still send (its request's body) before the connection closes.
    static let maxDiscarded = 1 << 20
    private var discarded = 0

    init(exchanges: ExchangeLog, gate: APIRefusal? = nil) { self.exchanges = exchanges; self.gate = gate }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard gate != nil else {
            unwrapInboundIn(data).withUnsafeReadableBytes { _ = observe($0, policy: nil) }
            context.fireChannelRead(data)
            return
        }
        guard !refused else {  // after a refusal nothing more goes to the daemon: read and dropped
            discarded += unwrapInboundIn(data).readableBytes
            if discarded > Self.maxDiscarded { context.close(promise: nil) }
            return
        }
        var incoming = unwrapInboundIn(data)
        if held == nil { held = context.channel.allocator.buffer(capacity: incoming.readableBytes) }
        held!.writeBuffer(&incoming)
        process(context)
    }

    /// Parses what is held past `heldParsed` and passes on what is decided.
    private func process(_ context: ChannelHandlerContext) {
        guard let gate, var pending = held else { return }
        let start = heldParsed
        let verdict = pending.withUnsafeReadableBytes { observe(UnsafeRawBufferPointer(rebasing: $0[start...]), policy: gate.policy) }
        let (decided, consumed, refusal): (Int, Int, (method: String, target: String, reason: String)?) = switch verdict {
        case .forward(let decided, let consumed): (decided, consumed, nil)
        case .refuse(let after, let method, let target, let reason): (after, after, (method, target, reason))
        }
        if decided > 0, let slice = pending.readSlice(length: start + decided) {
            context.fireChannelRead(wrapInboundOut(slice))
            heldParsed = consumed - decided
        } else {
            heldParsed = start + consumed
        }
        pending.discardReadBytes()
        held = pending.readableBytes > 0 ? pending : nil
        if case .awaitingHijack = state, pending.readableBytes >= Self.maxHeld, !paused {
            paused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        }
        if let refusal {
            refused = true
            held = nil
            gate.refuse(method: refusal.method, target: refusal.target, reason: refusal.reason, exchanges: exchanges, context: context)
        }
    }

    /// The response tap saw the answer to an attach or exec start.
    private func hijackAnswered(_ hijacked: Bool) {
        guard case .awaitingHijack = state, let context else { return }
        state = hijacked ? .stdin : .http
        if !refused { process(context) }
        if paused, !refused {
            paused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        }
    }

    /// Parses `bytes`; with a policy, stops at the first refused request.
    private func observe(_ bytes: UnsafeRawBufferPointer, policy: APIPolicy?) -> Verdict {
        var rest = bytes
        var decided = 0  // bytes of this call that are decided (allowed)
        while !rest.isEmpty {
            switch state {
            case .awaitingHijack:
                return .forward(decided: decided, consumed: decided)
            case .stdin:
                return .forward(decided: bytes.count, consumed: bytes.count)
            case .http:
                break
            }
            switch messages.read(rest) {
            case .headIncomplete:
                return .forward(decided: decided, consumed: bytes.count)
            case .invalidHead(let why):
                state = .stdin  // not HTTP we understand: pass through, stop parsing
                if policy != nil { return .refuse(after: decided, method: "?", target: "?", reason: "not an HTTP request the proxy can check: \(why)") }
                return .forward(decided: bytes.count, consumed: bytes.count)
            case .head(let head, let consumed):
                if let policy {
                    let decision = policy.decide(method: head.first, target: head.second)
                    guard decision.allowed else { return .refuse(after: decided, method: head.first, target: head.second, reason: decision.reason) }
                }
                rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
                decided = bytes.count - rest.count
                let endpoint = DockerEndpoint(method: head.first, target: head.second)
                exchanges.waiting.append(.init(endpoint: endpoint, isHead: head.first == "HEAD"))
                bodyOf = endpoint
                if head.isChunked {
                    messages.startChunkedBody()
                } else if let length = head.contentLength, length > 0 {
                    messages.startBody(length: length)
                } else {
                    afterBody(endpoint, gated: policy != nil)
                }
            case .bodyContinues:
                return .forward(decided: bytes.count, consumed: bytes.count)
            case .bodyEnded(let consumed):
                rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
                decided = bytes.count - rest.count
                if let bodyOf { afterBody(bodyOf, gated: policy != nil) }
            case .invalidBody(let error):
                state = .stdin
                // What follows a body the proxy cannot frame could be read as a
                // request by the daemon: with an allow-list, that is refused.
                if policy != nil { return .refuse(after: decided, method: "?", target: "?", reason: "a chunked body the proxy cannot check: \(error)") }
                return .forward(decided: bytes.count, consumed: bytes.count)
            }
        }
        return .forward(decided: decided, consumed: bytes.count)
    }

    private func afterBody(_ endpoint: DockerEndpoint, gated: Bool) {
        switch endpoint {
        case .attach, .execStart:
            guard gated else { state = .stdin; return }
            state = .awaitingHijack
            exchanges.hijackAnswered = { [weak self] hijacked in self?.hijackAnswered(hijacked) }
        default:
            break  // the next request's head
        }
    }
}
