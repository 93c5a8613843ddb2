import NIOCore
import NIOHTTP1
import NIOPosix
import LogSetup

/// Answers a connection the router will not relay with a Docker-style error:
/// an HTTP status and a JSON body `{"message": ...}` that the docker CLI prints
/// verbatim ("Error response from daemon: ..."), instead of a dropped connection.
enum HTTPErrorResponder {
    /// The JSON body the docker CLI prints as "Error response from daemon: <message>".
    static func body(_ message: String) -> String { "{\"message\":\(JSONText.quote(message))}\n" }

    /// A complete 502 answer, for a proxy that could not reach its daemon before relaying anything.
    static func badGateway(_ message: String) -> String {
        let json = body(message)
        return "HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\nConnection: close\r\n\r\n\(json)"
    }

    /// How long a refused client may take to send its request before it is closed.
    static let answerDeadline = TimeAmount.seconds(2)

    /// Answers on `fd` (owned from here on); `onClosed` runs once the connection is closed.
    static func respond(on fd: Int32, status: HTTPResponseStatus, message: String, group: any EventLoopGroup,
                        onClosed: @escaping @Sendable () -> Void = {}) {
        let json = body(message)
        ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(ErrorAnswer(status: status, body: json))
                }
            }
            .withConnectedSocket(fd)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    // A client that never finishes its request does not hold the fd.
                    channel.eventLoop.scheduleTask(in: answerDeadline) { channel.close(promise: nil) }
                    channel.closeFuture.whenComplete { _ in onClosed() }
                case .failure:
                    onClosed()
                }
            }
    }
}

private final class ErrorAnswer: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let status: HTTPResponseStatus
    let body: String
    private var answered = false

    init(status: HTTPResponseStatus, body: String) { self.status = status; self.body = body }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            guard !answered else { return }
            answered = true
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Connection", value: "close")
            let isHead = request.method == .HEAD
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
            if !isHead { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil) }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        case .body:
            break  // discarded: the request will not be served
        case .end:
            context.close(promise: nil)
        }
    }
}
