/// Watches client → daemon bytes and notes each request's endpoint. Without an API
/// allow-list it lets every byte go on at once. With one, nothing goes on before it
/// is decided: a request's head is held until the allow-list has judged it (a refused
/// request never reaches the daemon, see `APIRefusal`), and the bytes after an attach
/// or exec start are not read until the daemon's answer shows whether the connection
/// was hijacked: if it was not (a 404, a detached exec), they are requests again and
/// are checked like any other. After a hijack the rest is the container's stdin and
/// moves unseen, as do request bodies.
final class RequestTap: SpliceTap {
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
    private(set) var held = 0
    private(set) var refused = false
    var wake: (@Sendable () -> Void)?

    init(exchanges: ExchangeLog, gate: APIRefusal? = nil) { self.exchanges = exchanges; self.gate = gate }

    func see(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let gate else {
            guard case .forward(_, let consumed) = observe(bytes, policy: nil) else { return bytes.count }  // never refuses
            return consumed
        }
        switch observe(bytes, policy: gate.policy) {
        case .forward(let decided, let consumed):
            held = decided > 0 ? consumed - decided : held + consumed
            return consumed
        case .refuse(let after, let method, let target, let reason):
            if after > 0 { held = 0 }  // what was held belonged to an allowed request
            refused = true
            gate.refuse(method: method, target: target, reason: reason, exchanges: exchanges)
            return after
        }
    }

    var skippable: Int {
        switch state {
        case .stdin: Int.max
        case .awaitingHijack: 0
        case .http: Int(clamping: messages.skippable)
        }
    }

    func skipped(_ count: Int) {
        guard case .http = state else { return }
        if case .bodyEnded = messages.skip(count), let bodyOf { afterBody(bodyOf, gated: gate != nil) }
    }

    /// Heads and chunk sizes are short; bodies move unseen.
    var peekLimit: Int { 4096 }

    var waiting: Bool {
        if case .awaitingHijack = state { true } else { false }
    }

    /// The response tap saw the answer to an attach or exec start.
    private func hijackAnswered(_ hijacked: Bool) {
        guard case .awaitingHijack = state else { return }
        state = hijacked ? .stdin : .http
    }

    /// Parses `bytes`; stops where bytes that move unseen begin (a body, stdin)
    /// and, with a policy, at the first refused request.
    private func observe(_ bytes: UnsafeRawBufferPointer, policy: APIPolicy?) -> Verdict {
        var rest = bytes
        var decided = 0  // bytes of this call that are decided (allowed)
        while !rest.isEmpty {
            switch state {
            case .awaitingHijack:
                return .forward(decided: decided, consumed: decided)
            case .stdin:
                return .forward(decided: decided, consumed: decided)
            case .http:
                break
            }
            switch messages.readFraming(rest) {
            case .atSkippableData(let consumed):
                decided = bytes.count - rest.count + consumed
                return .forward(decided: decided, consumed: decided)
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
