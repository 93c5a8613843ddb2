import Logging
import NIOCore

/// One connection i2pd forwarded to a service's listener: reads the `<base64 peer
/// destination>\n` header (SILENT=false; bounded), connects to the container's port,
/// then gives the bytes behind the header and every later byte to a relay (half-close
/// and backpressure as in `RelayHandler`). Reading pauses while the container is dialled.
final class I2PInboundHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// A destination with a large certificate is still well under this.
    static let maxHeader = 4096

    private let label: String
    private let target: @Sendable () -> SocketAddress?
    private let logger: Logger
    private var buffer = ByteBuffer()
    private var headerDone = false
    private var inputClosed = false

    /// `label`: "web 80/tcp" for the log; `target`: the container's address and port now.
    init(label: String, target: @escaping @Sendable () -> SocketAddress?, logger: Logger) {
        self.label = label; self.target = target
        (self.logger, _) = ConnectionID.tagged(logger)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        guard !headerDone else { return }
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > Self.maxHeader { drop(context, "a forward header over \(Self.maxHeader) bytes") }
            return
        }
        let header = buffer.readString(length: newline - buffer.readerIndex) ?? ""
        buffer.moveReaderIndex(forwardBy: 1)
        headerDone = true
        guard let peer = I2PDestination(base64: header.split(separator: " ").first ?? "") else {
            return drop(context, "a forward header that is not a destination")
        }
        guard let target = target() else { return drop(context, "the container has no address") }
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        dial(target, peer: peer.b32, context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            if !headerDone { context.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    private func drop(_ context: ChannelHandlerContext, _ why: String) {
        logger.warning("i2p: \(label): dropped a forwarded connection: \(why)")
        context.close(promise: nil)
    }

    private func dial(_ target: SocketAddress, peer: String, context: ChannelHandlerContext) {
        let loop = context.eventLoop, label = self.label, logger = self.logger, started = ContinuousClock.now
        let counter = RelayCounter { c in
            logger.debug("i2p: \(label): connection from \(peer) closed",
                         metadata: Relay.Totals(fromClient: c.fromClient, toClient: c.toClient).metadata(since: started))
        }
        let i2pSide = RelayHandler(counter: counter, isClientSide: true)
        let containerSide = RelayHandler(counter: counter, isClientSide: false)
        RelayHandler.join(i2pSide, containerSide)
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        Relay.bootstrap(on: loop, handlers: NIOLoopBound([containerSide], eventLoop: loop))
            .connectTimeout(.seconds(10))
            .connect(to: target)
            .assumeIsolated()
            .whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success(let upstream): handler.startRelay(i2pSide, upstream: upstream, context: context)
                case .failure(let error): handler.drop(context, "cannot connect to the container at \(target): \(error)")
                }
            }
    }

    /// Puts the relay behind this handler, replays what arrived meanwhile, and leaves.
    private func startRelay(_ relay: RelayHandler, upstream: any Channel, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return upstream.close(promise: nil) }
        do {
            try context.pipeline.syncOperations.addHandler(relay, position: .after(self))
        } catch {
            upstream.close(promise: nil)
            return drop(context, "cannot start the relay: \(error)")
        }
        if buffer.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(buffer))
            context.fireChannelReadComplete()
        }
        buffer = ByteBuffer()
        if inputClosed { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        try? context.channel.syncOptions?.setOption(.autoRead, value: true)
    }
}
