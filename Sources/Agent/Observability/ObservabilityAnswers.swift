import Logging

/// The three answers; each runs on a thread-pool thread.
struct ObservabilityAnswers: Sendable {
    let helper: HelperClient
    let board: StatusBoard
    let logger: Logger
    let helperMetrics = HelperMetrics()

    func answer(_ path: String) -> ObservabilityHTTPHandler.Answer {
        switch path {
        case "/metrics":
            do {
                helperMetrics.update(try helper.counters())
            } catch {
                logger.warning("cannot read the helper's counters", metadata: ["error": "\(error)"])
            }
            return .init(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: AgentMetrics.registry.emitToBuffer())
        case "/healthz":
            board.runProbes()
            let document = StatusDocument(board: board)
            if document.healthy { return .init(status: .ok, contentType: "text/plain; charset=utf-8", body: Array("ok\n".utf8)) }
            let lines = document.failing.map { service in
                let why = service.checks.filter { !$0.healthy }.map { "\($0.name) \($0.state)" + ($0.detail.map { ": \($0)" } ?? "") }
                return "\(service.name): \(service.state)" + (why.isEmpty ? "" : " (\(why.joined(separator: "; ")))")
            }
            return .init(status: .serviceUnavailable, contentType: "text/plain; charset=utf-8", body: Array((["failing:"] + lines).joined(separator: "\n").utf8) + [0x0a])
        case "/status":
            board.runProbes()
            return .init(status: .ok, contentType: "application/json", body: StatusDocument(board: board).json())
        default:
            return .init(status: .notFound, contentType: "text/plain; charset=utf-8", body: Array("not found; try /metrics, /healthz or /status\n".utf8))
        }
    }
}
