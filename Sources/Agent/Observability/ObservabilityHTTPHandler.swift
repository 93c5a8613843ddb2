import NIOCore
import NIOHTTP1
import NIOPosix

/// One connection to the observability listener: GET /metrics, /healthz, /status.
/// Answers need blocking work (the helper's counters, the services' probes), which
/// runs on `pool`, never on the event loop.
final class ObservabilityHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var contentType: String
        var body: [UInt8]
    }

    private let pool: NIOThreadPool
    private let answer: @Sendable (_ path: String) -> Answer
    private var head: HTTPRequestHead?

    init(pool: NIOThreadPool, answer: @escaping @Sendable (_ path: String) -> Answer) {
        self.pool = pool; self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break  // no endpoint takes a body; NIO bounds what it buffers
        case .end:
            guard let head else { return }
            self.head = nil
            guard head.method == .GET || head.method == .HEAD else {
                return respond(context, head, Answer(status: .methodNotAllowed, contentType: "text/plain", body: Array("GET only\n".utf8)))
            }
            let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let answer = self.answer
            pool.runIfActive(eventLoop: context.eventLoop) { answer(path) }.whenComplete { result in
                let (handler, context) = bound.value
                let reply = (try? result.get()) ?? Answer(status: .serviceUnavailable, contentType: "text/plain", body: Array("the agent is stopping\n".utf8))
                handler.respond(context, head, reply)
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ answer: Answer) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: answer.contentType)
        headers.add(name: "Content-Length", value: "\(answer.body.count)")
        if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: answer.status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: answer.body)))), promise: nil)
        }
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !head.isKeepAlive { done.futureResult.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) } }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
