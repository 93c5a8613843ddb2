import NIOCore

/// One side of a byte relay between two channels on the same event loop.
/// - Backpressure: it reads only while its partner is writable, so memory per
///   connection stays bounded however fast one side writes.
/// - Half-close: end of input on one side becomes shutdown(SHUT_WR) on the
///   other, while the opposite direction keeps flowing (docker exec/attach,
///   `docker run -i` with piped stdin, dial-stdio).
final class RelayHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private let counter: RelayCounter
    private let isClientSide: Bool
    private(set) var inputClosed = false
    private(set) var outputClosed = false
    private var outputClosing = false

    init(counter: RelayCounter, isClientSide: Bool) { self.counter = counter; self.isClientSide = isClientSide }

    /// Links the two halves; call on their shared event loop before traffic flows.
    static func join(_ a: RelayHandler, _ b: RelayHandler) {
        a.partner = b
        b.partner = a
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil; partner = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        counter.add(buffer.readableBytes, fromClient: isClientSide)
        partner?.forward(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) { partner?.context?.flush() }

    private func forward(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.resumeReading() }
    }

    private func resumeReading() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if partner?.context?.channel.isWritable ?? true {
            context.read()
        } else {
            pendingRead = true
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            partner?.shutdownOutput()
            closeIfDone()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Shuts down output only after every queued write reached the socket: NIO
    /// turns an output close on a channel whose input is already closed into a
    /// full close, which would drop queued bytes (the tail of a `docker exec` stream).
    private func shutdownOutput() {
        guard !outputClosing else { return }
        outputClosing = true
        afterQueuedWrites { context in
            self.outputClosed = true
            context.close(mode: .output, promise: nil)
            self.closeIfDone()
        }
    }

    /// The partner is gone: deliver what is queued, then close.
    private func partnerClosed() {
        outputClosing = true
        afterQueuedWrites { $0.close(promise: nil) }
    }

    /// Runs `action` once every write queued so far is on the socket (or failed):
    /// writes complete in order, so an empty write's promise marks the point.
    private func afterQueuedWrites(_ action: @escaping (ChannelHandlerContext) -> Void) {
        guard let context else { return }
        let flushed = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: flushed)
        flushed.futureResult.assumeIsolated().whenComplete { _ in
            if let context = self.context { action(context) }
        }
    }

    /// Both directions finished: close both channels.
    private func closeIfDone() {
        guard let partner, inputClosed, outputClosed, partner.inputClosed, partner.outputClosed else { return }
        context?.close(promise: nil)
        partner.context?.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerClosed()
        counter.sideClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Bytes each way for one relayed connection; reports once both sides closed.
/// Used only on the connection's event loop.
final class RelayCounter {
    private(set) var fromClient = 0
    private(set) var toClient = 0
    private var openSides = 2
    private let onFinish: (RelayCounter) -> Void

    init(onFinish: @escaping (RelayCounter) -> Void) { self.onFinish = onFinish }

    func add(_ n: Int, fromClient: Bool) {
        if fromClient { self.fromClient += n } else { toClient += n }
    }

    func sideClosed() {
        openSides -= 1
        if openSides == 0 { onFinish(self) }
    }
}
