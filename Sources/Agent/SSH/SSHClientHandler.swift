import Logging
import NIOCore

/// One client of a remote's local socket, on its event loop: feeds the bridge,
/// holds reads back while the bridge is full, and writes what the remote sends.
final class SSHClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let link: SSHRemoteLinks
    private let id: UInt64
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var bridge: SSHBridge?
    private var readPaused = false
    private var readPending = false
    /// Completes when everything written so far has been sent: a half-close or close waits for it.
    private var lastWrite: EventLoopFuture<Void>?
    private var transport = "none"
    private var wroteResponse = false
    private var totals = Relay.Totals(fromClient: 0, toClient: 0)
    private let started = ContinuousClock.now

    init(link: SSHRemoteLinks, id: UInt64, logger: Logger) {
        self.link = link; self.id = id
        var logger = logger
        logger[metadataKey: "conn"] = .stringConvertible(id)
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) {
        let bridge = SSHBridge(id: id, handler: NIOLoopBound(self, eventLoop: context.eventLoop))
        self.bridge = bridge
        SSHMetrics.channelsActive(link.target.name.text).increment()
        link.openConnections.add(1, ordering: .relaxed)
        link.open(bridge)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        totals.fromClient += buffer.readableBytes
        if bridge?.fromClient(buffer) == true { readPaused = true }
    }

    func read(context: ChannelHandlerContext) {
        if readPaused { readPending = true } else { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { bridge?.clientHalfClosed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        bridge?.clientGone()
        bridge = nil
        let remote = link.target.name.text
        SSHMetrics.channelsActive(remote).decrement()
        link.openConnections.subtract(1, ordering: .relaxed)
        SSHMetrics.bytes(remote, "to_daemon").increment(by: Int64(totals.fromClient))
        SSHMetrics.bytes(remote, "to_client").increment(by: Int64(totals.toClient))
        logger.info("connection closed", metadata: totals.metadata(since: started).merging(["transport": "\(transport)"]) { a, _ in a })
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("client connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: from the link, via the bridge (always on this event loop)

    func resumeReading() {
        readPaused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    func opened(_ transport: ResolvedTransport) {
        self.transport = transport.rawValue
        SSHMetrics.channels(link.target.name.text, "opened").increment()
    }

    func write(_ buffer: ByteBuffer) {
        guard let context, let bridge else { return }
        let count = buffer.readableBytes
        totals.toClient += count
        wroteResponse = true
        let future = context.writeAndFlush(wrapOutboundOut(buffer))
        future.whenComplete { _ in bridge.sentToClient(count) }
        lastWrite = future
    }

    func remoteEOF() { afterWrites { $0.close(mode: .output, promise: nil) } }

    func remoteClosed() { afterWrites { $0.close(promise: nil) } }

    func refuse(_ error: SSHError) {
        logger.warning("cannot reach the remote daemon", metadata: ["error": "\(error)"])
        SSHMetrics.channels(link.target.name.text, "refused").increment()
        guard let context, !wroteResponse else { return abort(error) }
        wroteResponse = true
        // The docker CLI prints the JSON message as "Error response from daemon: ...".
        let response = HTTPErrorResponder.badGateway("bulkhead ssh: remote \(link.target.name): \(error)")
        lastWrite = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: response)))
        // Half-close so the client reads the whole answer; it closes its end then.
        remoteEOF()
        let channel = context.channel
        context.eventLoop.scheduleTask(in: .seconds(10)) { channel.close(promise: nil) }
    }

    func abort(_ error: SSHError) {
        logger.warning("connection cut: the SSH link failed", metadata: ["error": "\(error)"])
        remoteClosed()
    }

    private func afterWrites(_ action: @escaping (ChannelHandlerContext) -> Void) {
        guard let context else { return }
        guard let lastWrite else { return action(context) }
        lastWrite.assumeIsolated().whenComplete { _ in action(context) }
    }
}
