import Config
import Logging
import NIOCore
import Synchronization

/// All SSH connections to one remote. The primary link carries every client while the
/// server takes them. sshd's MaxSessions (10 by default) caps the session channels of
/// one connection, and the dial-stdio transport needs one session per client: when a
/// link's server refuses a session while that link holds others, the client moves to a
/// link with room, or to a new link, up to `max_ssh_connections`. With every link full
/// and none to add, the client waits (at most the remote's `timeout`) for a session to
/// end. Links are kept once opened and reused by later clients.
final class SSHRemoteLinks: Sendable {
    let target: SSHRemote
    private let logger: Logger
    private struct State {
        /// The primary first; empty until `start`.
        var links: [SSHLink] = []
        /// Clients refused a session while every link was full, oldest first.
        var waiting: [SSHBridge] = []
        /// The bound was met and said so in the log (once per remote).
        var boundLogged = false
    }
    private let state = Mutex(State())
    /// Client connections open on the remote's local socket, for /status.
    let openConnections = Atomic<Int>(0)

    init(target: SSHRemote, logger: Logger) {
        self.target = target
        self.logger = logger
    }

    func start() {
        SSHMetrics.prepare(target.name.text)
        let primary = makeLink(index: 0)
        state.withLock { $0.links = [primary] }
        primary.start()
    }

    func stop() async {
        for link in state.withLock({ $0.links }) { await link.stop() }
    }

    /// A new client: to the first link with room. With none (every link at the server's
    /// limit), it waits like a refused client: a session may end first.
    func open(_ bridge: SSHBridge) {
        guard state.withLock({ !$0.links.isEmpty }) else { return bridge.refuse(.linkDown(detail: "the proxy is not started")) }
        if let link = place(excluding: nil, mayOpen: false) { return link.open(bridge) }
        wait(bridge)
    }

    private func makeLink(index: Int) -> SSHLink {
        let events = SSHLink.Events(
            sessionRefused: { [weak self] bridge, from, full in self?.sessionRefused(bridge, from: from, full: full) ?? false },
            sessionFreed: { [weak self] in self?.sessionFreed() })
        return SSHLink(target: target, index: index, logger: logger, events: events)
    }

    /// From `refusing`'s thread: the server refused `bridge` a session there. At the
    /// server's limit, the client goes to another link with room; otherwise it waits.
    /// Always takes the client.
    private func sessionRefused(_ bridge: SSHBridge, from refusing: SSHLink, full: Bool) -> Bool {
        if full, let link = place(excluding: refusing, mayOpen: false) {
            link.open(bridge)
        } else {
            wait(bridge)
        }
        return true
    }

    /// Every `retryEvery` the client tries again, and may open a new link then: a new SSH
    /// connection opens only for clients that found no session for that long. The first
    /// session to end anywhere goes to the oldest waiting client at once. After the
    /// remote's `timeout` the client is told why it gets no session.
    static let retryEvery = 0.1
    /// Until the server's limit is known exactly, a new connection opens only for a client
    /// that has waited this long: longer than `SSHLink.sessionEndLag`, so that clients that
    /// hold their sessions teach the exact limit first. Under steady churn, where no
    /// refusal is exact, the lower bound serves after this wait.
    static let patience = TimeAmount.milliseconds(2500)

    private func wait(_ bridge: SSHBridge) {
        state.withLock { $0.waiting.append(bridge) }
        let deadline = bridge.sessionDeadline(orStart: TimeAmount.milliseconds(Int64(target.timeoutMilliseconds)))
        bridge.after(seconds: Self.retryEvery) { [weak self] in self?.retry(bridge, deadline: deadline) }
    }

    private func retry(_ bridge: SSHBridge, deadline: NIODeadline) {
        guard takeWaiting(bridge) else { return }  // a session that ended took it meanwhile
        let now = NIODeadline.now()
        if now < deadline {
            let waited = TimeAmount.milliseconds(Int64(target.timeoutMilliseconds)) - (deadline - now)
            if let link = place(excluding: nil, mayOpen: true, patient: waited >= Self.patience) { return link.open(bridge) }
            return wait(bridge)
        }
        bridge.refuse(.channelFailed(detail:
            "all \(target.maxSSHConnections) SSH connections to \(target.name) are at the server's session limit (sshd MaxSessions); "
            + "no session ended within \(target.timeout) (raise max_ssh_connections or MaxSessions)"))
    }

    /// From a link's thread: a session ended; the oldest waiting client takes its place.
    private func sessionFreed() {
        guard let link = place(excluding: nil, mayOpen: false) else { return }
        let next = state.withLock { s in s.waiting.isEmpty ? nil : s.waiting.removeFirst() }
        if let next { link.open(next) }
    }

    private func takeWaiting(_ bridge: SSHBridge) -> Bool {
        state.withLock { s in
            guard let i = s.waiting.firstIndex(where: { $0 === bridge }) else { return false }
            s.waiting.remove(at: i)
            return true
        }
    }

    /// A link with room for one more session; with `mayOpen`, a new one when all are
    /// full and the bound allows (and, the limit not known exactly, the client is
    /// `patient`). Nil when there is none.
    private func place(excluding refusing: SSHLink?, mayOpen: Bool, patient: Bool = false) -> SSHLink? {
        let (chosen, created) = state.withLock { s -> (SSHLink?, Bool) in
            // One server, one MaxSessions: what any link learned holds for all of them.
            // Known only as a lower bound, one more session per link is tried: a grant
            // raises the bound, a refusal (outside the lag) makes it exact.
            let learned = s.links.map(\.learnedLimit)
            let exact = learned.map(\.exact).max() ?? 0, atLeast = learned.map(\.atLeast).max() ?? 0
            let limit = exact > 0 ? exact : atLeast > 0 ? atLeast + 1 : 0
            if let roomy = s.links.first(where: { $0 !== refusing && $0.hasRoom(limit: limit) }) { return (roomy, false) }
            // A new connection only when the clients outnumber what the ones there are can
            // hold: a refusal while the server still counts sessions that just ended is
            // waited out (this client, not yet queued again, counts as one).
            let demand = s.links.reduce(0) { $0 + $1.load } + s.waiting.count + 1
            guard mayOpen, exact > 0 || patient, limit == 0 || demand > s.links.count * limit else { return (nil, false) }
            guard s.links.count < target.maxSSHConnections else {
                if !s.boundLogged {
                    s.boundLogged = true
                    logger.notice("every SSH connection is at the server's session limit and no more may open; clients wait for a session to end", metadata: [
                        "remote": "\(target.name)", "max_ssh_connections": .stringConvertible(target.maxSSHConnections)])
                }
                return (nil, false)
            }
            let link = makeLink(index: s.links.count)
            s.links.append(link)
            return (link, true)
        }
        if let chosen, created {
            logger.notice("opening another SSH connection: the server caps sessions per connection", metadata: [
                "remote": "\(target.name)", "ssh_connections": .stringConvertible(chosen.index + 1)])
            chosen.start()
        }
        return chosen
    }
}
