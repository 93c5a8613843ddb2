import CProcess
import CSSH
import Foundation
import Config
import Logging
import Synchronization

/// One SSH connection to a remote, owned by a dedicated thread (libssh is blocking
/// and its sessions are single-threaded), carrying one channel per client connection.
/// It reconnects with backoff when the connection drops; meanwhile clients get an
/// immediate, clear error instead of waiting. A remote's first link is its primary
/// (its state is the remote's health); `SSHRemoteLinks` adds more when the server
/// refuses sessions.
final class SSHLink: Sendable {
    let target: SSHRemote
    /// 0 for the primary, then 1, 2... in the order they were opened.
    let index: Int
    private let logger: Logger
    /// What the link tells its remote's `SSHRemoteLinks`.
    struct Events: Sendable {
        /// A client whose session the server refused here while this link holds others;
        /// `full`: the link is at the server's limit (not merely waiting for sessions that
        /// just ended to be counted out). True when the remote took the client.
        var sessionRefused: @Sendable (_ bridge: SSHBridge, _ from: SSHLink, _ full: Bool) -> Bool = { _, _, _ in false }
        /// One of this link's sessions ended: there may be room for a waiting client.
        var sessionFreed: @Sendable () -> Void = {}
    }
    private let events: Events
    /// Session channels held now.
    private let sessions = Atomic<Int>(0)
    /// Sessions granted here when the server refused one (0: none refused yet): `exact`
    /// when no session of ours had just ended (the server counts an ended session out
    /// only once its process exits), else only a lower bound.
    private let exactLimit = Atomic<Int>(0)
    private let lowerLimit = Atomic<Int>(0)
    private let wakeFD: Int32
    private let inbox = Mutex(Inbox())

    private struct Inbox {
        var opens: [SSHBridge] = []
        var wakePending = false
        var stopping = false
        /// Set by the link's thread as it ends; until then, `stop()`s wait here.
        var stopped = false
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Backoff between reconnects: 0.5 s doubling to 30 s; a new client retries at once
    /// (at most once a second) instead of waiting the backoff out.
    private static let maxBackoff = 30.0
    private static let clientRetryInterval = Duration.seconds(1)

    init(target: SSHRemote, index: Int = 0, logger: Logger, events: Events = Events()) {
        self.target = target
        self.index = index
        self.events = events
        var logger = logger
        logger[metadataKey: "remote"] = "\(target.name)"
        if index > 0 { logger[metadataKey: "ssh_connection"] = .stringConvertible(index + 1) }
        self.logger = logger
        wakeFD = bh_eventfd()
        precondition(wakeFD >= 0, "eventfd failed")
    }

    deinit { close(wakeFD) }

    func start() {
        report(up: false, state: "connecting", detail: nil)
        BlockingThread { [self] in run() }.start()
    }

    /// The primary's state is the remote's, for /status, /healthz and `bulkhead_ssh_link_up`.
    private func report(up: Bool, state: String, detail: String?) {
        guard index == 0 else { return }
        SSHMetrics.linkUp(target.name.text).set(to: up ? 1 : 0)
        StatusBoard.shared.set("ssh", "link \(target.name)", healthy: up, state: state, detail: detail)
    }

    /// What refusals here taught about the server's sessions per connection (0: nothing yet).
    var learnedLimit: (exact: Int, atLeast: Int) { (exactLimit.load(ordering: .relaxed), lowerLimit.load(ordering: .relaxed)) }

    /// Sessions held and clients queued for one.
    var load: Int { sessions.load(ordering: .relaxed) + inbox.withLock { $0.opens.count } }

    /// Whether a new client should be given to this link, under the server's `limit`
    /// per connection (0: not known yet).
    func hasRoom(limit: Int) -> Bool { limit == 0 || load < limit }

    /// Stops the thread: open channels are closed, the SSH connection is ended.
    func stop() async {
        inbox.withLock { $0.stopping = true }
        signal()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let now = inbox.withLock { s in
                if !s.stopped { s.stopWaiters.append(done) }
                return s.stopped
            }
            if now { done.resume() }
        }
    }

    /// Hands a client to the link's thread.
    func open(_ bridge: SSHBridge) {
        inbox.withLock { $0.opens.append(bridge) }
        bridge.carry { [self] in wake() }
    }

    /// Wakes the link's thread (new client bytes, a half-close, room on a client).
    func wake() {
        let needed = inbox.withLock { s in
            defer { s.wakePending = true }
            return !s.wakePending
        }
        if needed { signal() }
    }

    private func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    // MARK: the link's thread

    private func run() {
        var attempt = 0
        var wasUp = false
        var lastAttempt = ContinuousClock.now
        while !isStopping {
            lastAttempt = .now
            var failure: SSHError
            do {
                let session = try SSHSession.connect(target)
                let (transport, note) = session.chooseTransport()
                logger.notice("link up", metadata: [
                    "host": "\(target.display)", "host_key": "\(session.fingerprint)",
                    "transport": "\(transport.rawValue)", "why": "\(note)",
                ])
                attempt = 0
                if wasUp { SSHMetrics.reconnects(target.name.text).increment() }
                wasUp = true
                report(up: true, state: "up", detail: "\(target.display) over \(transport.rawValue)")
                SSHMetrics.connectionsOpen(target.name.text).increment()
                let reason = serve(session, transport: transport)
                SSHMetrics.connectionsOpen(target.name.text).decrement()
                guard let reason else { break }
                failure = reason
                logger.warning("link down", metadata: ["error": "\(reason)"])
            } catch {
                failure = error
                SSHMetrics.connectFailures(target.name.text).increment()
                logger.error("cannot connect", metadata: ["error": "\(error)"])
            }
            report(up: false, state: "down", detail: "\(failure)")
            attempt += 1
            let delay = min(Self.maxBackoff, 0.5 * pow(2, Double(min(attempt - 1, 10))))
            refuseWaiting(.linkDown(detail: "\(failure); retrying in \(Int(delay.rounded(.up)))s"))
            waitForRetry(delay: delay, lastAttempt: lastAttempt, failure: failure)
        }
        refuseWaiting(.linkDown(detail: "the proxy is shutting down"))
        report(up: false, state: "stopped", detail: nil)
        logger.notice("link stopped")
        let waiters = inbox.withLock { s in
            s.stopped = true
            defer { s.stopWaiters = [] }
            return s.stopWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Sleeps until the backoff is over, the link is stopped, or a client arrives
    /// (then it retries at once, at most once a second; sooner clients are refused).
    private func waitForRetry(delay: Double, lastAttempt: ContinuousClock.Instant, failure: SSHError) {
        let until = ContinuousClock.now + .milliseconds(Int(delay * 1000))
        while !isStopping, ContinuousClock.now < until {
            var fds = [pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
            let remaining = max(1, (until - .now).milliseconds)
            if poll(&fds, 1, Int32(min(remaining, 1000))) > 0, fds[0].revents & Int16(POLLIN) != 0 { drainWakeFD() }
            let waiting = inbox.withLock { s in s.wakePending = false; return !s.opens.isEmpty }
            if waiting {
                if ContinuousClock.now - lastAttempt >= Self.clientRetryInterval { return }
                refuseWaiting(.linkDown(detail: "\(failure); retrying"))
            }
        }
    }

    /// Runs the connected session until it fails (returns why) or the link stops (nil).
    private func serve(_ session: SSHSession, transport initial: ResolvedTransport) -> SSHError? {
        var transport = initial
        ssh_set_blocking(session.raw, 0)
        TCPKeepalive.apply(to: ssh_get_fd(session.raw), interval: target.keepalive.seconds)
        guard let event = ssh_event_new() else { return .linkDown(detail: "out of memory") }
        ssh_event_add_session(event, session.raw)
        ssh_event_add_fd(event, wakeFD, Int16(POLLIN), { fd, _, _ in
            var value: UInt64 = 0
            _ = read(fd, &value, 8)
            return 0
        }, nil)
        var pumps: [SSHChannelPump] = []
        let activity = SSHChannelActivity()
        var busy = false
        var nextKeepalive = ContinuousClock.now + target.keepalive.duration
        var reason: SSHError?
        /// When one of this connection's sessions last ended.
        var lastSessionEnd: ContinuousClock.Instant?
        defer {
            for pump in pumps { pump.abort(reason ?? .linkDown(detail: "the proxy is shutting down")) }
            pumps.removeAll()
            ssh_event_remove_fd(event, wakeFD)
            ssh_event_remove_session(event, session.raw)
            ssh_event_free(event)
        }
        while true {
            // Channels being opened have no callback in libssh 0.10: poll them briskly.
            let opening = pumps.contains { $0.phase == .opening || $0.phase == .executing }
            if ssh_event_dopoll(event, busy ? 0 : opening ? 2 : 250) == SSH_ERROR || !isConnected(session) {
                reason = .linkDown(detail: closeReason(session))
                return reason
            }
            let (opens, stopping) = inbox.withLock { s in
                s.wakePending = false
                defer { s.opens.removeAll() }
                return (s.opens, s.stopping)
            }
            if stopping { return nil }
            for bridge in opens {
                pumps.append(SSHChannelPump(bridge: bridge, session: session, transport: transport, activity: activity, logger: logger))
            }
            _ = activity.take()
            busy = false
            for pump in pumps {
                if pump.step() { busy = true }
                if pump.transport != transport, pump.phase == .open {
                    transport = pump.transport
                    logger.notice("transport switched", metadata: ["transport": "\(transport.rawValue)"])
                }
            }
            resolveRefusedSessions(pumps, lastSessionEnd: lastSessionEnd)
            pumps.removeAll { $0.phase == .done }
            let held = pumps.filter(\.holdsSession).count
            if sessions.exchange(held, ordering: .relaxed) > held {
                lastSessionEnd = .now
                events.sessionFreed()
            }
            if activity.take() { busy = true }
            if ContinuousClock.now >= nextKeepalive {
                _ = ssh_send_keepalive(session.raw)
                nextKeepalive = .now + target.keepalive.duration
            }
            if !isConnected(session) {
                reason = .linkDown(detail: closeReason(session))
                return reason
            }
        }
    }

    /// A session refused while this connection holds others is the server's per-connection
    /// cap (sshd's MaxSessions): remember it, and offer the client to another connection.
    /// Refused with none held, it is a plain refusal, and the client is told.
    /// The server counts a session out only once its process has exited: a refusal within
    /// this long after one of ours ended may be that lag, not the limit.
    private static let sessionEndLag = Duration.seconds(2)

    private func resolveRefusedSessions(_ pumps: [SSHChannelPump], lastSessionEnd: ContinuousClock.Instant?) {
        let recentEnd = lastSessionEnd.map { ContinuousClock.now - $0 < Self.sessionEndLag } ?? false
        for pump in pumps where pump.phase == .sessionRefused {
            let granted = pumps.filter(\.holdsGrantedSession).count
            let full = granted > 0 && !recentEnd
            if full { _ = exactLimit.max(granted, ordering: .relaxed) }
            if granted > 0 { _ = lowerLimit.max(granted, ordering: .relaxed) }
            if granted > 0 || recentEnd, events.sessionRefused(pump.bridge, self, full) {
                logger.info("session refused; client moved on", metadata: [
                    "conn": .stringConvertible(pump.bridge.id), "sessions_here": .stringConvertible(granted), "at_limit": .stringConvertible(full)])
                pump.handOff()
            } else {
                pump.refuseSession()
            }
        }
    }

    private func isConnected(_ session: SSHSession) -> Bool {
        ssh_is_connected(session.raw) != 0 && ssh_get_status(session.raw) & (SSH_CLOSED | SSH_CLOSED_ERROR) == 0
    }

    private func closeReason(_ session: SSHSession) -> String {
        let error = session.lastError
        return error.isEmpty ? "the server closed the connection" : error
    }

    private var isStopping: Bool { inbox.withLock { $0.stopping } }

    private func refuseWaiting(_ error: SSHError) {
        let waiting = inbox.withLock { s in defer { s.opens.removeAll() }; return s.opens }
        for bridge in waiting { bridge.refuse(error) }
    }

    private func drainWakeFD() {
        var value: UInt64 = 0
        _ = read(wakeFD, &value, 8)
    }
}
