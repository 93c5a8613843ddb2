import CCap
import CProcess
import IPC
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The helper's hands for netfilter, routes and sysctls. The helper itself may not
/// exec anything (seccomp), so this child is forked while the helper is still root
/// and before it sandboxes itself. It becomes its own account (`helper.netfilter_user`,
/// never uid 0: a parser bug in a program it runs must not own root's files and
/// sockets) with CAP_NET_ADMIN and CAP_NET_RAW as its only capabilities, ambient
/// so that the programs it runs get them too, sets no_new_privs, and runs only the
/// fixed programs below with text the helper rendered from validated, typed
/// intents. Only the helper holds its channel (the spawner closes its copy).
///
/// Channel: a stream socketpair (`ExecutorChannel`) carrying one `Command` and then
/// its one `Result`, each encoded with `WireWriter`; end of stream means stop.
struct NetfilterExecutor {
    let pid: pid_t
    private let channel: ExecutorChannel

    /// Its only capabilities, also ambient: iptables and ip need nothing else.
    static let capabilities: [cap_value_t] = [cap_value_t(CAP_NET_ADMIN), cap_value_t(CAP_NET_RAW)]
    static let programs = (
        restore: "/usr/sbin/iptables-restore", save: "/usr/sbin/iptables-save", ip: "/usr/sbin/ip",
        restore6: "/usr/sbin/ip6tables-restore", save6: "/usr/sbin/ip6tables-save")
    static let timeoutSeconds: Int32 = 60

    static func start(as account: Account, logger: Logger) throws(SystemCallError) -> NetfilterExecutor {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SystemCallError(call: "socketpair", errno: errno)
        }
        let pid = try ChildFork.start(keeping: pair[1]) {
            ExecutorProcess(channel: ExecutorChannel(fd: 3), logger: logger).run(as: account)
        }
        close(pair[1])
        return NetfilterExecutor(pid: pid, channel: ExecutorChannel(fd: pair[0]))
    }

    /// Runs one command and waits for it (the helper's loop blocks meanwhile: a
    /// batch takes milliseconds to a second, and there is one agent). A command the
    /// executor would refuse is refused here the same way, without being sent.
    func run(_ command: Command) throws(SystemCallError) -> Result {
        do { try command.check() } catch { return .refused(error) }
        try channel.send(command.encoded())
        guard let body = try channel.receive(max: Result.maxEncodedSize) else {
            throw SystemCallError(call: "read on the netfilter executor's channel", errno: EPIPE)
        }
        do { return try Result.decode(body) } catch {
            throw SystemCallError(call: "the netfilter executor's reply (\(error))", errno: EPROTO)
        }
    }

    /// Ends the executor (end of stream on its channel) and reaps it.
    func stop() {
        channel.close()
        var status: Int32 = 0
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) != 0 { return }
            usleep(20_000)
        }
    }
}

/// The executor's loop, in the forked child.
private struct ExecutorProcess {
    let channel: ExecutorChannel
    let logger: Logger

    func run(as account: Account) -> Never {
        do {
            // Only the network capabilities, passed on to what it runs, and no way to gain more.
            try PrivilegeDrop.toDedicatedChild(account, keeping: NetfilterExecutor.capabilities, passOn: true)
        } catch {
            logger.critical("netfilter executor cannot restrict itself", metadata: ["error": "\(error)"])
            _exit(70)
        }
        signal(SIGINT, SIG_IGN); signal(SIGTERM, SIG_IGN); signal(SIGHUP, SIG_IGN); signal(SIGPIPE, SIG_IGN)
        while true {
            let body: [UInt8]
            do {
                guard let message = try channel.receive(max: NetfilterExecutor.Command.maxEncodedSize) else { _exit(0) }
                body = message
            } catch {
                // The stream can no longer be split into messages: stop (the helper then stops too).
                logger.critical("netfilter executor channel broken; stopping", metadata: ["error": "\(error)"])
                _exit(65)
            }
            let result: NetfilterExecutor.Result
            do {
                result = perform(try NetfilterExecutor.Command.decode(body))
            } catch {
                logger.error("netfilter executor refused a command", metadata: ["error": "\(error)"])
                result = .refused(error)
            }
            guard (try? channel.send(result.encoded())) != nil else { _exit(0) }
        }
    }

    private func perform(_ command: NetfilterExecutor.Command) -> NetfilterExecutor.Result {
        let programs = NetfilterExecutor.programs
        switch command {
        case .restore(let input): return execute([programs.restore, "--noflush", "-w", "5"], stdin: Array(input.utf8))
        case .save: return execute([programs.save], stdin: [])
        case .ip(let arguments): return execute([programs.ip] + arguments, stdin: [])
        case .sysctl(let path, let value): return writeSysctl(path, value)
        case .restore6(let input): return execute([programs.restore6, "--noflush", "-w", "5"], stdin: Array(input.utf8))
        case .save6: return execute([programs.save6], stdin: [])
        }
    }

    /// `path` passed `Command.check`: under /proc/sys/net/, which holds no symlinks (O_NOFOLLOW all the same).
    private func writeSysctl(_ path: String, _ value: String) -> NetfilterExecutor.Result {
        let f = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
        guard f >= 0 else { return NetfilterExecutor.Result(status: 1, bytes: Array("open \(path): \(String(cString: strerror(errno)))".utf8)) }
        defer { close(f) }
        let bytes = Array(value.utf8)
        guard write(f, bytes, bytes.count) == bytes.count else {
            return NetfilterExecutor.Result(status: 1, bytes: Array("write \(path): \(String(cString: strerror(errno)))".utf8))
        }
        return NetfilterExecutor.Result(status: 0, bytes: [])
    }

    /// fork+exec with a clean environment; stdin fed from `stdin`, stdout and stderr captured together.
    private func execute(_ argv: [String], stdin: [UInt8]) -> NetfilterExecutor.Result {
        var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1]
        guard pipe(&input) == 0, pipe(&output) == 0 else {
            return NetfilterExecutor.Result(status: 1, bytes: Array("pipe: \(String(cString: strerror(errno)))".utf8))
        }
        let cArgv = argv.map { strdup($0) } + [nil]
        let environment: [String] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer { for p in cArgv + cEnv { free(p) } }
        let child = fork()
        if child == 0 {
            dup2(input[0], 0); dup2(output[1], 1); dup2(output[1], 2)
            _ = bh_close_from(3)
            execve(cArgv[0]!, cArgv, cEnv)
            _exit(127)
        }
        close(input[0]); close(output[1])
        guard child > 0 else { close(input[1]); close(output[0]); return NetfilterExecutor.Result(status: 1, bytes: Array("fork failed".utf8)) }
        // Feed stdin and drain stdout together, so neither pipe can fill up and block.
        var written = 0, collected: [UInt8] = []
        var inFD = input[1]
        if stdin.isEmpty { close(inFD); inFD = -1 }
        // Non-blocking: a write larger than the pipe's free space must not block past the deadline.
        if inFD >= 0 { _ = fcntl(inFD, F_SETFL, fcntl(inFD, F_GETFL) | O_NONBLOCK) }
        let deadline = time(nil) + Int(NetfilterExecutor.timeoutSeconds)
        var chunk = [UInt8](repeating: 0, count: 65536)
        var open = true
        while open, time(nil) < deadline {
            var fds = [pollfd(fd: output[0], events: Int16(POLLIN), revents: 0), pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)]
            _ = poll(&fds, inFD >= 0 ? 2 : 1, 1000)
            if inFD >= 0, fds[1].revents != 0 {
                let n = stdin[written...].withUnsafeBytes { write(inFD, $0.baseAddress, min($0.count, 65536)) }
                if n > 0 { written += n }
                if (n < 0 && errno != EAGAIN && errno != EINTR) || written == stdin.count { close(inFD); inFD = -1 }
            }
            if fds[0].revents != 0 {
                let n = read(output[0], &chunk, chunk.count)
                if n <= 0 { open = false } else { collected += chunk[0..<min(n, NetfilterExecutor.Result.maxOutput - collected.count)] }
            }
        }
        if inFD >= 0 { close(inFD) }
        close(output[0])
        if open { kill(child, SIGKILL); collected += Array("\n(killed after \(NetfilterExecutor.timeoutSeconds)s)".utf8) }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0, errno == EINTR {}
        let code: Int32 = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return NetfilterExecutor.Result(status: code, bytes: Array(collected.prefix(NetfilterExecutor.Result.maxOutput)))
    }
}
