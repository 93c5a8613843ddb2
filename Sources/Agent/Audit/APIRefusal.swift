import Logging
import NIOCore
import Runtime

/// What the audit proxy does with a request outside its API allow-list: the request
/// never reaches the daemon; the client gets 403 with a JSON message (the docker CLI
/// prints it as "Error response from daemon: ..."), once every earlier response on the
/// connection is complete, and the connection closes; the refusal is logged and written
/// to the audit file as an `api_refused` event.
struct APIRefusal: Sendable {
    let policy: APIPolicy
    let pipeline: AuditPipeline
    let connection: UInt64
    let logger: Logger

    func refuse(method: String, target: String, reason: String, exchanges: ExchangeLog, context: ChannelHandlerContext) {
        let shownTarget = String(target.prefix(512))
        logger.warning("request refused by the API allow-list", metadata: [
            "method": "\(method)", "target": "\(shownTarget)", "reason": "\(reason)",
        ])
        _ = pipeline.submit(.apiRefused(connection: connection, method: method, target: shownTarget, reason: reason)) {}
        let channel = context.channel
        channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        if exchanges.idle {
            Self.answer(reason: reason, on: channel)
        } else {
            // Called while the response tap reads the earlier answer's end, before that
            // read is relayed to the client: answer on the next tick, behind it.
            exchanges.whenIdle = { channel.eventLoop.execute { Self.answer(reason: reason, on: channel) } }
        }
    }

    private static func answer(reason: String, on channel: any Channel) {
        let body = "{\"message\":\(JSONText.quote("bulkhead audit proxy: \(reason) (audit.profile / audit.allow)"))}\n"
        let response = "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Connection: close\r\n\r\n" + body
        channel.writeAndFlush(channel.allocator.buffer(string: response)).whenComplete { _ in channel.close(promise: nil) }
    }
}
