import Logging
import LogSetup

/// What the audit proxy does with a request outside its API allow-list: the request
/// never reaches the daemon; the client gets 403 with a JSON message (the docker CLI
/// prints it as "Error response from daemon: ..."), once every earlier response on the
/// connection is complete; the refusal is logged and written to the audit file as an
/// `api_refused` event. The client may still be sending the request's body: closing at
/// once would reset the connection under it (the docker CLI then reports a broken pipe,
/// not the 403), so only the sending side closes, what the client still sends is read
/// and dropped (at most `SpliceDirection.maxDropped`), and the connection closes when
/// the client closes or after `linger`.
struct APIRefusal: Sendable {
    let policy: APIPolicy
    let pipeline: AuditPipeline
    let connection: UInt64
    let logger: Logger

    func refuse(method: String, target: String, reason: String, exchanges: ExchangeLog) {
        let shownTarget = String(target.prefix(512))
        logger.warning("request refused by the API allow-list", metadata: [
            "method": "\(method)", "target": "\(shownTarget)", "reason": "\(reason)",
        ])
        AuditMetrics.apiRefusals(method: AuditMetrics.knownMethods.contains(method) ? method : "other").increment()
        _ = pipeline.submit(.apiRefused(connection: connection, method: method, target: shownTarget, reason: reason)) {}
        exchanges.refusal = Self.answer(reason: reason)
    }

    static func answer(reason: String) -> [UInt8] {
        let body = "{\"message\":\(JSONText.quote("bulkhead audit proxy: \(reason) (audit.profile / audit.allow)"))}\n"
        let response = "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Connection: close\r\n\r\n" + body
        return Array(response.utf8)
    }

    /// How long a refused connection is kept for the client to finish sending and read the 403.
    static let linger: Duration = .seconds(2)
}
