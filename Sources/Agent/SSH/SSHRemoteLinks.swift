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
    let target: SSHTarget
    private let logger: Logger
    private struct State {
        /// The primary first; empty until `start`.
        var links: [SSHLink] = []
        /// Clients refused a session while every link was full, oldest first.
        var waiting: [SSHBridge] = []
    }
    private let state = Mutex(State())
    /// Client connections open on the remote's local socket, for /status.
    let openConnections = Atomic<Int>(0)

    init(target: SSHTarget, logger: Logger) {
        self.target = target
        self.logger = logger
    }

    func start() {
        SSHMetrics.prepare(target.name)
        let primary = makeLink(index: 0)
        state.withLock { $0.links = [primary] }
        primary.start()
    }

    func stop() async {
        for link in state.withLock({ $0.links }) { await link.stop() }
    }

    /// A new client: to the first link with room, or a new link when every link is
    /// full and the bound allows, else the primary (which may refuse it and so queue it).
    func open(_ bridge: SSHBridge) {
        guard let link = place(excluding: nil) ?? state.withLock({ $0.links.first }) else {
            return bridge.refuse(.linkDown(detail: "the proxy is not started"))
        }
        link.open(bridge)
    }

    private func makeLink(index: Int) -> SSHLink {
        let events = SSHLink.Events(
            sessionRefused: { [weak self] bridge, from in self?.sessionRefused(bridge, from: from) ?? false },
            sessionFreed: { [weak self] in self?.sessionFreed() })
        return SSHLink(target: target, index: index, logger: logger, events: events)
    }

    /// From `refusing`'s thread: the server refused `bridge` a session there. Always takes it.
    private func sessionRefused(_ bridge: SSHBridge, from refusing: SSHLink) -> Bool {
        if let link = place(excluding: refusing) {
            link.open(bridge)
            return true
        }
        let queued = state.withLock { s in s.waiting.append(bridge); return s.waiting.count }
        if queued == 1 {
            logger.notice("every SSH connection is at the server's session limit; clients wait for a session to end", metadata: [
                "remote": "\(target.name)", "max_ssh_connections": .stringConvertible(target.maxConnections)])
        }
        bridge.after(seconds: target.timeout) { [weak self] in self?.giveUp(bridge) }
        return true
    }

    /// From a link's thread: a session ended; the oldest waiting client takes its place.
    private func sessionFreed() {
        let next = state.withLock { s in s.waiting.isEmpty ? nil : s.waiting.removeFirst() }
        guard let next else { return }
        (place(excluding: nil) ?? state.withLock({ $0.links.first }))?.open(next)
    }

    /// A client that waited `timeout` for a session is told why it gets none.
    private func giveUp(_ bridge: SSHBridge) {
        let wasWaiting = state.withLock { s in
            guard let i = s.waiting.firstIndex(where: { $0 === bridge }) else { return false }
            s.waiting.remove(at: i)
            return true
        }
        guard wasWaiting else { return }
        bridge.refuse(.channelFailed(detail:
            "all \(target.maxConnections) SSH connections to \(target.name) are at the server's session limit (sshd MaxSessions); "
            + "no session ended within \(target.timeout)s (raise max_ssh_connections or MaxSessions)"))
    }

    /// A link with room for one more session, opening a new one when all are full and
    /// the bound allows; nil when there is none.
    private func place(excluding refusing: SSHLink?) -> SSHLink? {
        let (chosen, created) = state.withLock { s -> (SSHLink?, Bool) in
            if let roomy = s.links.first(where: { $0 !== refusing && $0.hasRoom }) { return (roomy, false) }
            guard s.links.count < target.maxConnections else { return (nil, false) }
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
