import IPC
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The helper after it has dropped privileges: one thread, one poll loop over the
/// signalfd and the agent's channel. It restarts a dead agent with backoff and
/// survives anything the agent sends.
final class HelperLoop {
    enum AgentSource {
        /// Normal operation: the spawner (re)starts the agent; `binary` watches its file.
        case spawner(Spawner, backoffMax: Double, binary: AgentBinaryWatch?)
        /// Audit/test mode: serve one inherited channel and exit when it closes.
        case inherited(PacketChannel)
    }

    private let handler: RequestHandler
    private let binder: ListenerBinder
    private let signals: SignalChannel
    private let source: AgentSource
    private let executor: NetfilterExecutor?
    private let inspector: ProofInspector?
    private let logger: Logger
    private let notifier: SystemdNotifier?
    private let readiness: ServiceReadiness
    /// READY=1 has been sent: once, for the first agent that has all its listeners.
    private var reportedReady = false
    private var agent: PacketChannel?
    private var agentStartedAt = 0.0
    private var restartAt: Double?
    private var backoff = 0.5
    private var receiveBuffer: [UInt8] = []

    init(
        handler: RequestHandler, binder: ListenerBinder, signals: SignalChannel, source: AgentSource,
        executor: NetfilterExecutor?, inspector: ProofInspector?, notifier: SystemdNotifier?, readiness: ServiceReadiness, logger: Logger
    ) {
        self.handler = handler; self.binder = binder; self.signals = signals; self.source = source
        self.executor = executor; self.inspector = inspector; self.notifier = notifier; self.readiness = readiness
        self.logger = logger
    }

    func run() -> Int32 {
        switch source {
        case .inherited(let channel): agent = channel
        case .spawner: startAgent()
        }
        while true {
            // signalfd, the agent's channel (or -1: poll skips it), then TCP listeners to relay.
            let relayed = binder.tcp.watched
            var fds = [pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0), pollfd(fd: agent?.fd ?? -1, events: Int16(POLLIN), revents: 0)]
            fds += relayed.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let timeout = pollTimeout()
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 && errno != EINTR { logger.critical("poll failed", metadata: ["errno": .stringConvertible(errno)]); return shutdown(code: 1) }

            if fds[0].revents != 0, let code = handleSignals() { return shutdown(code: code) }
            if fds[1].revents != 0, let channel = agent, !serveOne(channel) {
                if case .inherited = source { return shutdown(code: 0) }
                agentLost()
            }
            for (i, listener) in relayed.enumerated() where fds[2 + i].revents != 0 { binder.tcp.forwardPending(listener.name) }
            if let due = restartAt, Monotonic.now >= due { restartAt = nil; startAgent() }
            binaryWatch?.checkIfDue(logger: logger)
        }
    }

    private var binaryWatch: AgentBinaryWatch? {
        guard case .spawner(_, _, let binary) = source else { return nil }
        return binary
    }

    /// Milliseconds until the agent's restart or the binary check is due; -1 for neither.
    private func pollTimeout() -> Int32 {
        let waits = [restartAt.map { $0 - Monotonic.now }, binaryWatch?.secondsToNextCheck].compactMap { $0 }
        return waits.min().map { Int32((max(0, $0) * 1000).rounded(.up)) } ?? -1
    }

    /// Answers one request; false when the agent is gone.
    private func serveOne(_ channel: PacketChannel) -> Bool {
        let received: PacketChannel.Received
        do { received = try channel.receive(limit: Frame.maxRequestSize, reusing: &receiveBuffer) } catch { return false }
        if received.isEndOfStream { return false }
        let (reply, fd) = handler.handle(received)
        defer { if fd >= 0 { close(fd) } }
        do {
            try channel.send(reply, fd: fd, nonBlocking: true)
        } catch {
            // EAGAIN: the agent does not read its replies; it is not allowed to stall the helper.
            logger.warning("cannot deliver a reply; dropping the agent session", metadata: ["error": "\(error)"])
            return false
        }
        if !reportedReady, readiness.isReady(greeted: handler.greeted, binder: binder) {
            reportedReady = true
            notifier?.send("READY=1")
            logger.notice("services ready", metadata: ["listeners": "\(readiness.awaited.map(\.rawValue).joined(separator: ","))"])
        }
        return true
    }

    private func startAgent() {
        guard case .spawner(let spawner, _, let binary) = source else { return }
        binary?.check(logger: logger)
        do {
            agent = try spawner.launchAgent()
            handler.resetSession()
            agentStartedAt = Monotonic.now
        } catch {
            logger.error("cannot start the agent", metadata: ["error": "\(error)"])
            scheduleRestart()
        }
    }

    private func agentLost() {
        agent?.close()
        agent = nil
        if Monotonic.now - agentStartedAt > 30 { backoff = 0.5 }  // it had been healthy
        logger.warning("agent connection lost; restarting", metadata: ["in_seconds": .stringConvertible(backoff)])
        scheduleRestart()
    }

    private func scheduleRestart() {
        guard case .spawner(_, let backoffMax, _) = source else { return }
        restartAt = Monotonic.now + backoff
        backoff = min(backoff * 2, backoffMax)
    }

    /// Returns an exit code when the helper should stop.
    private func handleSignals() -> Int32? {
        while let sig = signals.next() {
            switch sig {
            case SIGTERM, SIGINT:
                logger.notice("stopping", metadata: ["signal": "\(sig == SIGTERM ? "SIGTERM" : "SIGINT")"])
                notifier?.send("STOPPING=1")
                return 0
            case SIGHUP:
                reload()
            case SIGCHLD:
                if case .spawner(let spawner, _, _) = source, let how = Self.reap(spawner.pid) {
                    logger.critical("the agent spawner died; cannot restart the agent", metadata: ["how": "\(how)"])
                    return 1
                }
                // The sandboxed helper cannot fork a new root child: it stops, and the
                // service manager (Restart=on-failure) starts the whole boundary afresh;
                // netwatch's next full pass converges the rules.
                for (name, pid) in [("netfilter executor", executor?.pid), ("proof inspector", inspector?.pid)] {
                    if let pid, let how = Self.reap(pid) {
                        logger.critical("the \(name) died; stopping so that a restart brings a new one", metadata: ["how": "\(how)"])
                        return 1
                    }
                }
            default:
                break
            }
        }
        return nil
    }

    /// SIGHUP (systemctl reload): the agent reopens its files (the audit log). The
    /// config is not re-read: a new config needs a restart.
    private func reload() {
        guard case .spawner(let spawner, _, _) = source, agent != nil else {
            logger.notice("SIGHUP ignored: no agent is running")
            return
        }
        if reportedReady { notifier?.send("RELOADING=1") }
        do {
            try spawner.reloadAgent()
            logger.notice("SIGHUP passed to the agent (reopen files; restart bulkhead-helper to apply a new config)")
        } catch {
            logger.error("cannot pass SIGHUP to the agent", metadata: ["error": "\(error)"])
        }
        if reportedReady { notifier?.send("READY=1") }
    }

    /// How child `pid` ended, if it has; it is reaped.
    private static func reap(_ pid: pid_t) -> String? {
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        return status & 0x7f == 0 ? "exit status \((status >> 8) & 0xff)" : "signal \(status & 0x7f)"
    }

    private func shutdown(code: Int32) -> Int32 {
        agent?.close()
        agent = nil
        if case .spawner(let spawner, _, _) = source { spawner.stop(logger: logger) }
        binder.closeAll()
        logger.notice("stopped")
        return code
    }
}
