import NIOCore
import NIOPosix

/// Relays bytes between two connected sockets (given as fds) until both sides
/// have closed, then calls `finished` with the byte counts.
enum Relay {
    struct Totals: Sendable {
        var fromClient: Int
        var toClient: Int
    }

    static func start(
        client: Int32, upstream: Int32, group: any EventLoopGroup, finished: @escaping @Sendable (Totals) -> Void
    ) {
        let loop = group.next()
        loop.execute {
            let counter = RelayCounter { c in finished(Totals(fromClient: c.fromClient, toClient: c.toClient)) }
            let clientSide = RelayHandler(counter: counter, isClientSide: true)
            let upstreamSide = RelayHandler(counter: counter, isClientSide: false)
            RelayHandler.join(clientSide, upstreamSide)
            let bootstrap = { (handler: RelayHandler) in
                let bound = NIOLoopBound(handler, eventLoop: loop)
                return ClientBootstrap(group: loop)
                    .channelOption(.allowRemoteHalfClosure, value: true)
                    .channelOption(.autoRead, value: true)
                    // Bulk transfers (images, build contexts, `docker cp`): a write window
                    // wide enough that backpressure rarely toggles, still bounded per connection.
                    .channelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(bound.value) }
                    }
            }
            let clientChannel = bootstrap(clientSide).withConnectedSocket(client)
            let upstreamChannel = bootstrap(upstreamSide).withConnectedSocket(upstream)
            clientChannel.and(upstreamChannel).whenFailure { _ in
                clientChannel.whenSuccess { $0.close(promise: nil) }
                upstreamChannel.whenSuccess { $0.close(promise: nil) }
            }
        }
    }
}
