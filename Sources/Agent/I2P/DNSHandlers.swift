import IPC
import NIOCore

/// The plugin's DNS over UDP: one datagram in, at most one out.
final class DNSDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let responder: I2PDNSResponder
    init(responder: I2PDNSResponder) { self.responder = responder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let source = envelope.remoteAddress.ipv4,
              let answer = responder.answer(Array(envelope.data.readableBytesView), from: source) else { return }
        let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: context.channel.allocator.buffer(bytes: answer))
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}  // one bad datagram is no reason to stop
}

/// The plugin's DNS over TCP: 2-byte length-prefixed messages, each bounded; a
/// connection from an unknown source, an oversized message or 10 s idle ends it.
final class DNSStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    static let idle: TimeAmount = .seconds(10)

    let responder: I2PDNSResponder
    private var buffer = ByteBuffer()
    private var idleTimer: Scheduled<Void>?

    init(responder: I2PDNSResponder) { self.responder = responder }

    func channelActive(context: ChannelHandlerContext) {
        guard let source = context.channel.remoteAddress?.ipv4, responder.isKnownSource(source) else {
            responder.note("TCP DNS connection from \(context.channel.remoteAddress?.description ?? "?"), which is no plugin endpoint: closed")
            context.close(promise: nil)
            return
        }
        armTimer(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        buffer.writeBuffer(&chunk)
        guard let source = context.channel.remoteAddress?.ipv4 else { context.close(promise: nil); return }
        while let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) {
            guard Int(length) <= DNSMessage.maxQuery else {
                responder.note("TCP DNS message of \(length) bytes from \(source): closed")
                context.close(promise: nil)
                return
            }
            guard buffer.readableBytes >= 2 + Int(length) else { break }
            buffer.moveReaderIndex(forwardBy: 2)
            let query = buffer.readBytes(length: Int(length)) ?? []
            if let answer = responder.answer(query, from: source) {
                var out = context.channel.allocator.buffer(capacity: answer.count + 2)
                out.writeInteger(UInt16(answer.count))
                out.writeBytes(answer)
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
        }
        buffer.discardReadBytes()
        armTimer(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    private func armTimer(_ context: ChannelHandlerContext) {
        idleTimer?.cancel()
        let channel = context.channel
        idleTimer = context.eventLoop.scheduleTask(in: Self.idle) { channel.close(promise: nil) }
    }
}

extension SocketAddress {
    /// The IPv4 address of an `.v4` socket address.
    var ipv4: IPC.IPv4Address? {
        guard case .v4(let a) = self else { return nil }
        return IPC.IPv4Address(UInt32(bigEndian: a.address.sin_addr.s_addr))
    }
}
