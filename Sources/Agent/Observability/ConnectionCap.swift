import NIOCore
import Synchronization

/// The observability connections open now (shared by every connection's pipeline).
final class OpenConnections: Sendable {
    let count = Atomic<Int>(0)
}

/// Closes a connection that would be one too many, as soon as it is active.
final class ConnectionCap: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    private let open: OpenConnections
    private let limit: Int
    private var counted = false

    init(open: OpenConnections, limit: Int) { self.open = open; self.limit = limit }

    func channelActive(context: ChannelHandlerContext) {
        counted = true
        if open.count.add(1, ordering: .relaxed).newValue > limit { return context.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted { open.count.subtract(1, ordering: .relaxed); counted = false }
        context.fireChannelInactive()
    }
}
