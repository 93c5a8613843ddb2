import CProcess
import CSplice
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One thread with an epoll set that moves the bytes of many spliced
/// connections, and accepts new ones itself. Level-triggered: after each
/// wake-up a connection moves what it can, then registers for exactly the
/// readiness it still waits for.
///
/// Accepting here rather than on a thread of its own saves two thread wake-ups
/// per new connection (accept thread, then hand-off): the relay starts on the
/// thread that accepted, and its first bytes (the client's request, usually
/// already queued) move before the loop sleeps again.
final class SpliceLoop: @unchecked Sendable {
    /// A connection handed over by another thread; the loop adopts it.
    struct Handover: Sendable {
        let client: Int32
        let upstream: Int32
        let pipes: ((Int32, Int32), (Int32, Int32))
        let taps: Relay.Taps?
        let finished: @Sendable (Relay.Totals) -> Void
    }

    /// The loop's own epoll tokens; a connection's are 2 × its id (+ 1 for its upstream).
    private static let wakeToken: UInt64 = 0
    private static let listenerToken: UInt64 = 1
    /// How long accepting pauses when the agent is out of fds (the listener
    /// stays readable, so retrying at once would spin).
    private static let acceptPauseMilliseconds: Int32 = 100

    private let epoll: Int32
    private let wake: Int32  // eventfd: new connections, or connections to serve, are in the inbox
    private let inbox = Mutex<(handovers: [Handover], woken: [UInt64])>(([], []))
    private let thread = Atomic<UInt>(0)
    private let logger: Logger
    // The loop thread's own state (hence @unchecked Sendable).
    private var connections: [UInt64: SplicedConnection] = [:]
    /// Connections with a linger deadline, checked on every wake-up (at least every `lingerCheckMilliseconds`).
    private var lingering: Set<UInt64> = []
    private static let lingerCheckMilliseconds: Int32 = 250
    /// Where taps' peeks land (one loop thread, one buffer).
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    private var nextID: UInt64 = 1
    private let listener = Mutex<Listener?>(nil)
    private var acceptPaused = false

    struct Listener: Sendable {
        let fd: Int32
        let handle: @Sendable (Int32) -> Void
    }

    init(logger: Logger) {
        self.logger = logger
        epoll = bh_epoll_create()
        wake = bh_eventfd()
        precondition(epoll >= 0 && wake >= 0, "splice loop: no epoll or eventfd (errno \(errno))")
        _ = bh_epoll_control(epoll, 1, wake, UInt32(BH_EPOLLIN), Self.wakeToken)
        BlockingThread { [self] in
            thread.store(UInt(pthread_self()), ordering: .releasing)
            run()
        }.start()
    }

    /// Accepts on `listener` (non-blocking) from now on, each connection given
    /// to its `handle` on this loop's thread.
    func accept(on listener: Listener) {
        self.listener.withLock { $0 = listener }
        watchListener()
    }

    /// EPOLLEXCLUSIVE: one new connection wakes one loop, not all of them.
    private func watchListener() {
        guard let fd = listener.withLock({ $0?.fd }) else { return }
        _ = bh_epoll_control(epoll, 1, fd, UInt32(BH_EPOLLIN) | UInt32(BH_EPOLLEXCLUSIVE), Self.listenerToken)
    }

    /// Whether the caller runs on this loop's thread (then it may adopt directly).
    var isCurrent: Bool { thread.load(ordering: .acquiring) == UInt(pthread_self()) }

    /// Stops accepting; connections already relayed go on until they end.
    func stopAccepting() {
        guard let listener = listener.withLock({ current in defer { current = nil }; return current }) else { return }
        _ = bh_epoll_control(epoll, 2, listener.fd, 0, Self.listenerToken)
    }

    /// From any thread.
    func adopt(_ handover: Handover) {
        if isCurrent {
            adoptNow(handover)
            return
        }
        inbox.withLock { $0.handovers.append(handover) }
        signal()
    }

    /// From any thread: serve connection `id` again (a tap waits no more).
    private func serveAgain(_ id: UInt64) {
        inbox.withLock { $0.woken.append(id) }
        signal()
    }

    private func signal() {
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    private func run() {
        let capacity = 64
        var tokens = [UInt64](repeating: 0, count: capacity)
        var events = [UInt32](repeating: 0, count: capacity)
        while true {
            let timeout = acceptPaused ? Self.acceptPauseMilliseconds : lingering.isEmpty ? -1 : Self.lingerCheckMilliseconds
            let ready = bh_epoll_wait(epoll, &tokens, &events, Int32(capacity), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.critical("splice loop: epoll_wait failed; its connections stop", metadata: ["errno": .stringConvertible(errno)])
                return
            }
            if acceptPaused { resumeAccepting() }
            for id in lingering { if let connection = connections[id] { service(id, connection) } }
            for i in 0..<Int(ready) {
                switch tokens[i] {
                case Self.wakeToken: adoptWaiting()
                case Self.listenerToken: acceptWaiting()
                default:
                    // A connection's token: its number, and which of its sockets (low bit: upstream).
                    guard let connection = connections[tokens[i] >> 1] else { continue }
                    if events[i] & UInt32(BH_EPOLLERR | BH_EPOLLHUP) != 0 { connection.hungUp(upstream: tokens[i] & 1 == 1) }
                    service(tokens[i] >> 1, connection)
                }
            }
        }
    }

    /// Accepts what is queued (a bounded batch, so relays on this loop keep moving).
    private func acceptWaiting() {
        guard let listener = listener.withLock({ $0 }) else { return }
        for _ in 0..<32 {
            let client = bh_accept(listener.fd)
            if client >= 0 {
                listener.handle(client)
                continue
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN: return
            case EMFILE, ENFILE:
                logger.error("accept: out of file descriptors; accepting pauses for 100 ms", metadata: ["errno": .stringConvertible(errno)])
                _ = bh_epoll_control(epoll, 2, listener.fd, 0, Self.listenerToken)
                acceptPaused = true
                return
            default:
                logger.error("accept failed", metadata: ["errno": .stringConvertible(errno)])
                return
            }
        }
    }

    private func resumeAccepting() {
        acceptPaused = false
        watchListener()
    }

    private func adoptWaiting() {
        var count: UInt64 = 0
        _ = read(wake, &count, 8)
        let (handovers, woken) = inbox.withLock { waiting in
            defer { waiting = ([], []) }
            return waiting
        }
        for handover in handovers { adoptNow(handover) }
        for id in woken {
            guard let connection = connections[id] else { continue }
            connection.woken()
            service(id, connection)
        }
    }

    private func adoptNow(_ handover: Handover) {
        let id = nextID
        nextID += 1
        let connection = SplicedConnection(
            client: handover.client, upstream: handover.upstream, pipes: handover.pipes, taps: handover.taps, finished: handover.finished)
        connection.setWake { [self] in serveAgain(id) }
        connections[id] = connection
        service(id, connection)
    }

    /// Moves what it can, then watches for what it waits for. An error on
    /// either side (a reset, a write to a socket whose peer is gone) ends it.
    private func service(_ id: UInt64, _ connection: SplicedConnection) {
        do {
            try connection.pump(scratch: scratch)
            if connection.lingerUntil != nil { lingering.insert(id) }
            if connection.isDone {
                end(id, connection)
                return
            }
            try watch(id << 1, connection.client, wants: connection.clientWants, registered: &connection.clientInterest)
            try watch(id << 1 | 1, connection.upstream, wants: connection.upstreamWants, registered: &connection.upstreamInterest)
        } catch {
            end(id, connection)
        }
    }

    private func watch(_ token: UInt64, _ fd: Int32, wants: UInt32?, registered: inout UInt32?) throws(SpliceDirection.Failure) {
        guard wants != registered else { return }
        let op: Int32 = wants == nil ? 2 : (registered == nil ? 1 : 3)
        if bh_epoll_control(epoll, op, fd, wants ?? 0, token) != 0 { throw .errno(errno) }
        registered = wants
    }

    private func end(_ id: UInt64, _ connection: SplicedConnection) {
        connections[id] = nil
        lingering.remove(id)
        if connection.clientInterest != nil { _ = bh_epoll_control(epoll, 2, connection.client, 0, 0) }
        if connection.upstreamInterest != nil { _ = bh_epoll_control(epoll, 2, connection.upstream, 0, 0) }
        let totals = connection.totals
        connection.closeAll()
        connection.finished(totals)
    }
}
