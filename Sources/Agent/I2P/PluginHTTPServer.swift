import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Serves the remote driver API on the plugin socket the helper bound. Each call runs
/// on NIO's thread pool (the driver takes them one at a time); an answer that takes
/// too long becomes an error.
enum PluginHTTPServer {
    static let bodyLimit = 1 << 20
    /// dockerd's plugin client waits forever: never let it.
    static let answerDeadline: TimeAmount = .seconds(25)

    static func serve(listener fd: Int32, driver: PluginDriver, group: any EventLoopGroup) async throws -> any Channel {
        return try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(PluginHTTPHandler(driver: driver))
                }
            }
            .withBoundSocket(fd).get()
    }
}

/// One connection from dockerd: collects a bounded body, runs the call, answers.
final class PluginHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let driver: PluginDriver
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false
    /// Calls on this connection so far, and whether the latest has been answered (by
    /// the driver or by the deadline): a late driver answer never goes to a later call.
    private var calls = 0
    private var answered = true

    init(driver: PluginDriver) { self.driver = driver }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h; body = []; tooLarge = false
        case .body(let chunk):
            if body.count + chunk.readableBytes > PluginHTTPServer.bodyLimit { tooLarge = true; body = [] }
            if !tooLarge { body += chunk.readableBytesView }
        case .end:
            guard let head else { return }
            self.head = nil
            if tooLarge {
                respond(context, head, status: .payloadTooLarge, PluginDriver.json(["Err": "bulkhead-i2p: request body over \(PluginHTTPServer.bodyLimit) bytes"]))
                return
            }
            run(context, head)
        }
    }

    private func run(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        answered = false
        calls += 1
        let call = calls
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
        let body = self.body, driver = driver
        self.body = []
        let deadline = context.eventLoop.scheduleTask(in: PluginHTTPServer.answerDeadline) {
            let (handler, context) = bound.value
            handler.finish(call, context, head, PluginDriver.json(["Err": "bulkhead-i2p: \(path) took longer than 25 s; see the agent's log"]))
        }
        NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { driver.handle(path, body: body) }.whenSuccess { answer in
            deadline.cancel()
            let (handler, context) = bound.value
            handler.finish(call, context, head, answer)
        }
    }

    /// The one answer to the call in flight: the driver's, or the deadline's if it came first.
    private func finish(_ call: Int, _ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ json: [UInt8]) {
        guard call == calls, !answered else { return }
        answered = true
        respond(context, head, status: .ok, json)
    }

    private func respond(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, status: HTTPResponseStatus, _ json: [UInt8]) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/vnd.docker.plugins.v1+json")
        headers.add(name: "Content-Length", value: "\(json.count)")
        let keepAlive = head.isKeepAlive && status == .ok
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: json)))), promise: nil)
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !keepAlive { done.futureResult.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) } }
    }
}
