import NIOCore

/// Cuts a SAM socket's input into reply lines for one waiter at a time. A line longer
/// than `maxLine` (or that much input nobody asked for) closes the socket: a bridge
/// cannot make the agent buffer without bound. What follows the last line stays
/// buffered for `leftover()` (the first bytes of a stream after STREAM STATUS).
final class SAMLineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let maxLine: Int
    private var buffer = ByteBuffer()
    private var waiting: EventLoopPromise<String>?
    private var failure: SAMError?

    init(maxLine: Int) { self.maxLine = maxLine }

    /// The next line (without `\n` or `\r\n`). One call at a time.
    func nextLine(_ promise: EventLoopPromise<String>) {
        precondition(waiting == nil, "one SAM request at a time")
        waiting = promise
        deliver()
    }

    /// Bytes received after the last line handed out.
    func leftover() -> ByteBuffer? { buffer.readableBytes > 0 ? buffer : nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        deliver()
        if failure == nil, waiting == nil, buffer.readableBytes > maxLine {
            fail(.malformed("more than \(maxLine) bytes nobody asked for"))
        }
        if failure != nil { context.close(promise: nil) }
    }

    /// The bridge ended its side: no reply can come any more (i2pd restarted, or a
    /// stream refused before the hand-off). The socket allows half-closure only for the
    /// stream it may become.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            fail(.closed)
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(.closed)
        context.close(promise: nil)
    }

    private func deliver() {
        guard let promise = waiting else { return }
        if let failure {
            waiting = nil
            promise.fail(failure)
        } else if let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - buffer.readerIndex
            guard length <= maxLine else { return fail(.malformed("a line over \(maxLine) bytes")) }
            var line = buffer.readString(length: length) ?? ""
            buffer.moveReaderIndex(forwardBy: 1)
            if line.hasSuffix("\r") { line.removeLast() }
            waiting = nil
            promise.succeed(line)
        } else if buffer.readableBytes > maxLine {
            fail(.malformed("a line over \(maxLine) bytes"))
        }
    }

    private func fail(_ error: SAMError) {
        if failure == nil { failure = error }
        deliver()
    }
}
