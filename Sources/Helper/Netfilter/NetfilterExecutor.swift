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
/// Channel (stream socketpair): request = u32 length, u8 op, payload;
/// reply = u32 length, i32 exit status, combined stdout+stderr (bounded).
struct NetfilterExecutor {
    enum Command {
        /// `iptables-restore --noflush -w` with `input` on stdin.
        case restore(input: String)
        /// `iptables-save` (every table: iptables-nft reads the whole ruleset anyway).
        case save
        /// `ip6tables-restore --noflush -w` with `input` on stdin (the i2p plugin's IPv6 drops).
        case restore6(input: String)
        /// `ip6tables-save` (every table).
        case save6
        /// `ip` with these arguments (rendered by the helper).
        case ip([String])
        /// Writes `value` to a file under /proc/sys/net/.
        case sysctl(path: String, value: String)
    }

    struct Result {
        var status: Int32
        var output: String
        var succeeded: Bool { status == 0 }
    }

    let pid: pid_t
    private let fd: Int32

    /// Its only capabilities, also ambient: iptables and ip need nothing else.
    static let capabilities: [cap_value_t] = [cap_value_t(CAP_NET_ADMIN), cap_value_t(CAP_NET_RAW)]
    static let programs = (
        restore: "/usr/sbin/iptables-restore", save: "/usr/sbin/iptables-save", ip: "/usr/sbin/ip",
        restore6: "/usr/sbin/ip6tables-restore", save6: "/usr/sbin/ip6tables-save")
    static let maxOutput = 32 << 20
    static let timeoutSeconds: Int32 = 60

    static func start(as account: Account, logger: Logger) throws(SystemCallError) -> NetfilterExecutor {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SystemCallError(call: "socketpair", errno: errno)
        }
        let pid = try ChildFork.start(keeping: pair[1]) {
            ExecutorProcess(fd: 3, logger: logger).run(as: account)
        }
        close(pair[1])
        return NetfilterExecutor(pid: pid, fd: pair[0])
    }

    /// Runs one command and waits for it (the helper's loop blocks meanwhile: a
    /// batch takes milliseconds to a second, and there is one agent).
    func run(_ command: Command) throws(SystemCallError) -> Result {
        var body: [UInt8]
        switch command {
        case .restore(let input): body = [1] + Array(input.utf8)
        case .save: body = [2]
        case .ip(let args): body = [3] + Array(args.joined(separator: "\0").utf8)
        case .sysctl(let path, let value): body = [4] + Array("\(path)\0\(value)".utf8)
        case .restore6(let input): body = [5] + Array(input.utf8)
        case .save6: body = [6]
        }
        try Self.writeAll(fd, Self.lengthPrefixed(body))
        let header = try Self.readExactly(fd, 8)
        let length = Int(Self.u32(header, 0))
        let status = Int32(bitPattern: Self.u32(header, 4))
        guard length <= Self.maxOutput else { throw SystemCallError(call: "executor reply too large", errno: EMSGSIZE) }
        let output = try Self.readExactly(fd, length)
        return Result(status: status, output: String(decoding: output, as: UTF8.self))
    }

    /// Ends the executor (end of stream on its channel) and reaps it.
    func stop() {
        close(fd)
        var status: Int32 = 0
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) != 0 { return }
            usleep(20_000)
        }
    }

    // MARK: framing

    static func lengthPrefixed(_ body: [UInt8]) -> [UInt8] {
        let n = UInt32(body.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + body
    }

    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemCallError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(call: "write to the netfilter executor", errno: errno)
            }
            offset += n
        }
    }

    static func readExactly(_ fd: Int32, _ count: Int) throws(SystemCallError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = buffer[offset...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { throw SystemCallError(call: "read from the netfilter executor", errno: n == 0 ? EPIPE : errno) }
            offset += n
        }
        return buffer
    }
}

/// The executor's loop, in the forked child.
private struct ExecutorProcess {
    let fd: Int32
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
            guard let header = try? NetfilterExecutor.readExactly(fd, 4) else { _exit(0) }
            let length = Int(NetfilterExecutor.u32(header, 0))
            guard length >= 1, length <= NetfilterExecutor.maxOutput, let body = try? NetfilterExecutor.readExactly(fd, length) else { _exit(65) }
            let (status, output) = perform(op: body[0], payload: Array(body[1...]))
            var reply: [UInt8] = []
            let n = UInt32(output.count), s = UInt32(bitPattern: status)
            for v in [n, s] { reply += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
            guard (try? NetfilterExecutor.writeAll(fd, reply + output)) != nil else { _exit(0) }
        }
    }

    private func perform(op: UInt8, payload: [UInt8]) -> (Int32, [UInt8]) {
        let text = String(decoding: payload, as: UTF8.self)
        switch op {
        case 1: return execute([NetfilterExecutor.programs.restore, "--noflush", "-w", "5"], stdin: payload)
        case 2: return execute([NetfilterExecutor.programs.save], stdin: [])
        case 3: return execute([NetfilterExecutor.programs.ip] + text.split(separator: "\0", omittingEmptySubsequences: false).map(String.init), stdin: [])
        case 4:
            let parts = text.split(separator: "\0", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0].hasPrefix("/proc/sys/net/"), !parts[0].contains("..") else { return (2, Array("bad sysctl".utf8)) }
            let f = open(parts[0], O_WRONLY | O_CLOEXEC)
            guard f >= 0 else { return (1, Array("open \(parts[0]): \(String(cString: strerror(errno)))".utf8)) }
            defer { close(f) }
            let value = Array(parts[1].utf8)
            return write(f, value, value.count) == value.count ? (0, []) : (1, Array("write \(parts[0]): \(String(cString: strerror(errno)))".utf8))
        case 5: return execute([NetfilterExecutor.programs.restore6, "--noflush", "-w", "5"], stdin: payload)
        case 6: return execute([NetfilterExecutor.programs.save6], stdin: [])
        default: return (2, Array("unknown executor op \(op)".utf8))
        }
    }

    /// fork+exec with a clean environment; stdin fed from `stdin`, stdout and stderr captured together.
    private func execute(_ argv: [String], stdin: [UInt8]) -> (Int32, [UInt8]) {
        var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1]
        guard pipe(&input) == 0, pipe(&output) == 0 else { return (1, Array("pipe: \(String(cString: strerror(errno)))".utf8)) }
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
        guard child > 0 else { close(input[1]); close(output[0]); return (1, Array("fork failed".utf8)) }
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
                if n <= 0 { open = false } else if collected.count < NetfilterExecutor.maxOutput { collected += chunk[0..<n] }
            }
        }
        if inFD >= 0 { close(inFD) }
        close(output[0])
        if open { kill(child, SIGKILL); collected += Array("\n(killed after \(NetfilterExecutor.timeoutSeconds)s)".utf8) }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0, errno == EINTR {}
        let code: Int32 = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, collected)
    }
}
