import CSplice
import Logging
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Relays connected sockets with splice(2): bytes go socket → pipe → socket
/// inside the kernel and are never copied into the agent, except what a tap
/// must see (peeked once: the audit proxy's heads and scanned streams). A few
/// loop threads serve every connection of a service.
final class SpliceRelay: Sendable {
    private let loops: [SpliceLoop]
    private let turn = Atomic<Int>(0)
    private let fallback: any EventLoopGroup
    private let logger: Logger

    /// Threads that accept and move relayed bytes (in the kernel, with splice):
    /// one per core, at most two, since sender and receiver need the cores too.
    static let defaultThreads = min(2, System.coreCount)

    /// `fallback`: where a connection is relayed (copied) when no pipe can be made.
    init(threads: Int, fallback: any EventLoopGroup, logger: Logger) {
        loops = (0..<max(1, threads)).map { _ in SpliceLoop(logger: logger) }
        self.fallback = fallback
        self.logger = logger
    }

    /// The loops accept on `listener` themselves, each connection given to
    /// `handle` on the loop that accepted it (where its relay then stays).
    func accept(on listener: Int32, handle: @escaping @Sendable (Int32) -> Void) {
        _ = bh_set_nonblocking(listener)
        for loop in loops { loop.accept(on: .init(fd: listener, handle: handle)) }
    }

    func stopAccepting() {
        for loop in loops { loop.stopAccepting() }
    }

    /// Owns both fds from here on; `finished` runs once both sides closed. Called
    /// on a loop's thread (a connection it accepted), the relay stays on that loop.
    /// With `taps`, a connection that cannot have its pipes is closed instead:
    /// the copying fallback would pass its bytes unwatched.
    func start(client: Int32, upstream: Int32, taps: Relay.Taps? = nil, finished: @escaping @Sendable (Relay.Totals) -> Void) {
        var toUpstream: [Int32] = [-1, -1]
        var toClient: [Int32] = [-1, -1]
        guard bh_set_nonblocking(client) == 0, bh_set_nonblocking(upstream) == 0,
              bh_pipe_nonblocking(&toUpstream) == 0 else {
            fallBack(client: client, upstream: upstream, watched: taps != nil, finished: finished)
            return
        }
        guard bh_pipe_nonblocking(&toClient) == 0 else {
            close(toUpstream[0]); close(toUpstream[1])
            fallBack(client: client, upstream: upstream, watched: taps != nil, finished: finished)
            return
        }
        let loop = loops.first(where: \.isCurrent) ?? loops[turn.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
        loop.adopt(.init(client: client, upstream: upstream,
                         pipes: ((toUpstream[0], toUpstream[1]), (toClient[0], toClient[1])), taps: taps, finished: finished))
    }

    private func fallBack(client: Int32, upstream: Int32, watched: Bool, finished: @escaping @Sendable (Relay.Totals) -> Void) {
        guard watched else {
            Relay.start(client: client, upstream: upstream, group: fallback, finished: finished)
            return
        }
        logger.error("no pipe for a watched connection (out of file descriptors?); closed", metadata: ["errno": .stringConvertible(errno)])
        close(client)
        close(upstream)
        finished(.init(fromClient: 0, toClient: 0))
    }
}
