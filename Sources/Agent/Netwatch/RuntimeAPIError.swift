/// Why a call to the container runtime's API failed; the text is what the logs show.
enum RuntimeAPIError: Error, CustomStringConvertible, Sendable {
    /// A non-2xx answer, with the daemon's own {"message"}.
    case http(request: String, status: Int, reason: String, message: String)
    case bodyTooLarge(request: String, limit: Int)
    case timedOut(request: String, after: Duration)
    /// The connection ended before the answer did: closed, reset, or cut mid-chunk.
    case connectionLost(request: String, detail: String)
    case malformed(request: String, detail: String)
    /// The consumer of `withEvents` fell this many events behind.
    case eventBacklog(limit: Int)

    var description: String {
        switch self {
        case .http(let request, let status, let reason, let message):
            return "\(request): HTTP \(status) \(reason)" + (message.isEmpty ? "" : ": \(message)")
        case .bodyTooLarge(let request, let limit):
            return "\(request): response body larger than \(limit) bytes"
        case .timedOut(let request, let after):
            return "\(request): no complete answer within \(after.milliseconds) ms"
        case .connectionLost(let request, let detail):
            return "\(request): connection to the runtime lost (\(detail))"
        case .malformed(let request, let detail):
            return "\(request): unexpected answer: \(detail)"
        case .eventBacklog(let limit):
            return "more than \(limit) runtime events not yet handled; resubscribing"
        }
    }
}
