import Logging
import NIOCore
import NIOPosix

/// Relays bytes between two connected sockets (given as fds) until both sides
/// have closed, then calls `finished` with the byte counts.
enum Relay {
    struct Totals: Sendable {
        var fromClient: Int
        var toClient: Int

        /// The per-connection stats every relaying service logs when a connection closes.
        func metadata(since started: ContinuousClock.Instant) -> Logger.Metadata {
            [
                "duration_ms": .stringConvertible((ContinuousClock.now - started).milliseconds),
                "bytes_to_docker": .stringConvertible(fromClient),
                "bytes_from_docker": .stringConvertible(toClient),
            ]
        }
    }

    /// The audit proxy's watchers of a spliced connection's two directions. Made
    /// on the thread that connects the upstream, then handed to a splice loop and
    /// used only on its thread.
    struct Taps: @unchecked Sendable {
        let request: any SpliceTap
        let response: any SpliceTap
    }

    /// A client bootstrap for one side of a relay on `loop`, with `handlers`.
    static func bootstrap(on loop: any EventLoop, handlers: NIOLoopBound<[any ChannelHandler]>) -> ClientBootstrap {
        ClientBootstrap(group: loop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            // Bulk transfers (images, build contexts, `docker cp`): a write window
            // wide enough that backpressure rarely toggles, still bounded per connection.
            .channelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandlers(handlers.value) }
            }
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
            let clientChannel = bootstrap(on: loop, handlers: NIOLoopBound([clientSide], eventLoop: loop)).withConnectedSocket(client)
            let upstreamChannel = bootstrap(on: loop, handlers: NIOLoopBound([upstreamSide], eventLoop: loop)).withConnectedSocket(upstream)
            clientChannel.and(upstreamChannel).whenFailure { _ in
                clientChannel.whenSuccess { $0.close(promise: nil) }
                upstreamChannel.whenSuccess { $0.close(promise: nil) }
            }
        }
    }
}
