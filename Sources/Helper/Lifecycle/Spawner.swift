import CProcess
import IPC
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The agent launcher. Forked from the helper while it is still root, it becomes
/// the agent's account with no capabilities at all, so the helper itself never
/// needs CAP_SETUID or execve. It holds no fd but its own channel and is not
/// dumpable: a compromised agent gains nothing by reaching it.
///
/// Its channel speaks `SpawnerRequest`: launch (with the agent's IPC fd) and reload;
/// it refuses and logs anything else. End of stream means stop.
struct Spawner {
    let pid: pid_t
    let channel: PacketChannel

    struct Launch {
        var agentPath: String
        var account: Account
    }

    static func start(_ launch: Launch, logger: Logger) throws(SystemCallError) -> Spawner {
        let (helperEnd, spawnerEnd) = try PacketChannel.pair()
        // Everything exec needs is built before fork.
        let argv = [launch.agentPath, "run", "--ipc-fd", "3"]
        var env = ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=\(launch.account.home)", "USER=\(launch.account.name)", "LANG=C.UTF-8"]
        // The agent writes to the same stdout: under systemd it must know that is the journal.
        if let stream = getenv("JOURNAL_STREAM") { env.append("JOURNAL_STREAM=" + String(cString: stream)) }
        let pid = try ChildFork.start(keeping: spawnerEnd.fd) {
            SpawnerProcess(channel: PacketChannel(fd: 3), argv: argv, env: env, logger: logger).run(as: launch.account)
        }
        spawnerEnd.close()
        return Spawner(pid: pid, channel: helperEnd)
    }

    /// Starts (or restarts) the agent on a new IPC channel; returns the helper's end.
    func launchAgent() throws(SystemCallError) -> PacketChannel {
        let (helperSide, agentSide) = try PacketChannel.pair()
        defer { agentSide.close() }
        do {
            try send(.launch(ipc: agentSide.fd))
        } catch {
            helperSide.close()
            throw error
        }
        return helperSide
    }

    /// Asks the spawner to pass SIGHUP to the running agent (systemctl reload).
    func reloadAgent() throws(SystemCallError) {
        try send(.reload, nonBlocking: true)
    }

    private func send(_ request: SpawnerRequest, nonBlocking: Bool = false) throws(SystemCallError) {
        try channel.send(request.frame, fd: request.fd, nonBlocking: nonBlocking)
    }

    /// Asks the spawner to stop the agent and exit, then reaps it. The wait is
    /// bounded: the spawner runs as another uid, so the helper cannot kill it.
    func stop(timeoutSeconds: Double = 15, logger: Logger) {
        channel.close()
        let deadline = Monotonic.now + timeoutSeconds
        while Monotonic.now < deadline {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno == ECHILD) { return }
            usleep(50_000)
        }
        logger.error("the spawner did not exit in time; leaving it", metadata: ["pid": .stringConvertible(pid)])
    }
}

/// The spawner's own loop, in the forked child.
private struct SpawnerProcess {
    let channel: PacketChannel
    let argv: [String]
    let env: [String]
    let logger: Logger

    func run(as account: Account) -> Never {
        do {
            try PrivilegeDrop.toUnprivileged(account)
        } catch {
            logger.critical("spawner cannot drop privileges", metadata: ["error": "\(error)"])
            _exit(70)
        }
        // Terminal signals are the helper's to act on; it stops us by closing the channel.
        // Blocked, not ignored: a forked agent starts with the spawner's signal state, and
        // a SIGTERM that reaches it before it restores the defaults must stay pending until
        // it unblocks them, not be discarded.
        Self.setTerminalSignals(blocked: true)
        var agent: pid_t = 0
        while true {
            var pfd = pollfd(fd: channel.fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 200)
            reapExited(&agent)
            guard pfd.revents != 0 else { continue }
            guard let received = try? channel.receive(limit: SpawnerRequest.maxRecordSize), !received.isEndOfStream else {
                stopAgent(&agent)
                _exit(0)
            }
            let request: SpawnerRequest
            do {
                request = try SpawnerRequest.decode(received)
            } catch {
                if received.fd >= 0 { close(received.fd) }
                logger.error("spawner refused a request", metadata: ["error": "\(error)"])
                continue
            }
            switch request {
            case .reload:
                if agent > 0 { kill(agent, SIGHUP) }
            case .launch(let ipc):
                if agent > 0 { kill(-agent, SIGKILL); var s: Int32 = 0; waitpid(agent, &s, 0); agent = 0 }
                agent = spawn(ipc: ipc)
                close(ipc)
            }
        }
    }

    private static func setTerminalSignals(blocked: Bool) {
        var set = sigset_t()
        sigemptyset(&set)
        for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, sig) }
        sigprocmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nil)
    }

    private func spawn(ipc: Int32) -> pid_t {
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        let pid = fork()
        if pid == 0 {
            for sig in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { signal(sig, SIG_DFL) }
            Self.setTerminalSignals(blocked: false)  // a stop sent since the fork is delivered here
            setsid()  // keep terminal signals away; the helper decides when the agent stops
            _ = bh_prctl(Int32(BH_PR_SET_PDEATHSIG), UInt(SIGTERM))
            if ipc == 3 { _ = fcntl(3, F_SETFD, 0) } else { dup2(ipc, 3) }
            _ = bh_close_from(4)
            execve(cArgv[0]!, cArgv, cEnv)
            _exit(127)
        }
        for p in cArgv + cEnv { free(p) }
        if pid < 0 {
            logger.error("cannot fork the agent", metadata: ["errno": .stringConvertible(errno)])
        } else {
            logger.info("agent started", metadata: ["pid": .stringConvertible(pid), "path": "\(argv[0])"])
        }
        return pid
    }

    private func reapExited(_ agent: inout pid_t) {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { return }
            let how = status & 0x7f == 0 ? "exit status \((status >> 8) & 0xff)" : "signal \(status & 0x7f)"
            logger.notice("agent exited", metadata: ["pid": .stringConvertible(pid), "how": "\(how)"])
            // Its session leader is gone: end the whole group, so no child of the agent
            // keeps fd 3 open and hides the agent's death from the helper.
            kill(-pid, SIGKILL)
            if pid == agent { agent = 0 }
        }
    }

    private func stopAgent(_ agent: inout pid_t) {
        guard agent > 0 else { return }
        kill(agent, SIGTERM)
        let deadline = Monotonic.now + 10
        while Monotonic.now < deadline {
            reapExited(&agent)
            if agent == 0 { return }
            usleep(50_000)
        }
        logger.warning("agent did not stop within 10 s; killing it", metadata: ["pid": .stringConvertible(agent)])
        kill(-agent, SIGKILL)
        var s: Int32 = 0
        waitpid(agent, &s, 0)
        agent = 0
    }
}

enum Monotonic {
    static var now: Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
