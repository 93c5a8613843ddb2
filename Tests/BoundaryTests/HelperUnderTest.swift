import Foundation
import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The real bulkhead-helper binary, started in `--ipc-fd` mode so that the test
/// plays the agent, including a fully compromised one: it can send any bytes and
/// any fds. The helper runs exactly as in production: dropped privileges, seccomp.
final class HelperUnderTest {
    let pid: pid_t
    let channel: PacketChannel
    private var nextID: UInt32 = 100
    private var exitStatus: Int32?

    static var binDir: String {
        if let dir = ProcessInfo.processInfo.environment["BULKHEAD_BIN_DIR"] { return dir }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        // .build/debug/BulkheadPackageTests.xctest -> .build/debug
        return (exe as NSString).deletingLastPathComponent
    }

    static func requireRoot() throws {
        guard geteuid() == 0 else { throw XCTSkip("boundary tests start the real helper and must run as root (make test does)") }
        guard getpwnam("bulkhead-helper") != nil else { throw XCTSkip("account bulkhead-helper missing: run `make test`, which creates it") }
    }

    /// `strayFD`: an extra fd handed to the helper at fd 9, as a careless parent might.
    /// `netns`: run the helper inside that named network namespace (`ip netns exec`
    /// execs in place, so `pid` is still the helper's). `ownGroup`: in a process group
    /// of its own (`pid`'s), which its children join, so `killGroup` takes them all.
    init(configPath: String, strayFD: Int32? = nil, netns: String? = nil, ownGroup: Bool = false) throws {
        let (ours, theirs) = try PacketChannel.pair()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, theirs.fd, 3)
        if let strayFD { posix_spawn_file_actions_adddup2(&actions, strayFD, 9) }
        let argv = (netns.map { ["/usr/sbin/ip", "netns", "exec", $0] } ?? []) + ["\(Self.binDir)/bulkhead-helper", "run", "--config", configPath, "--ipc-fd", "3"]
        var cArgv = argv.map { strdup($0) } + [nil]
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        if ownGroup {
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, cArgv[0]!, &actions, &attributes, &cArgv, environ)
        for p in cArgv { free(p) }
        posix_spawnattr_destroy(&attributes)
        posix_spawn_file_actions_destroy(&actions)
        theirs.close()
        guard rc == 0 else { throw SystemCallError(call: "posix_spawn", errno: rc) }
        self.pid = pid
        self.channel = ours
    }

    deinit {
        channel.close()
        _ = waitForExit(timeout: 5)
        if exitStatus == nil { kill(pid, SIGKILL); _ = waitForExit(timeout: 5) }
    }

    /// Sends a well-formed request and returns the reply and any fd with it.
    @discardableResult
    func call(_ request: Request, fd: Int32 = -1) throws -> (Reply, Int32) {
        nextID += 1
        return try callRaw(Frame(kind: .request, type: request.type.rawValue, id: nextID, payload: request.encodePayload()).encoded(), fd: fd)
    }

    /// Sends arbitrary bytes as one record: what a compromised agent could do.
    func callRaw(_ bytes: [UInt8], fd: Int32 = -1) throws -> (Reply, Int32) {
        try channel.sendRaw(bytes, fd: fd)
        var pfd = pollfd(fd: channel.fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 10_000) == 1 else { throw HelperTestError.noReply }
        let received = try channel.receive(limit: Frame.maxReplySize)
        guard !received.isEndOfStream else { throw HelperTestError.helperGone(waitForExit(timeout: 2)) }
        return (try Reply.decode(try Frame.decode(received.record[...], expected: .reply)), received.fd)
    }

    func hello() throws {
        let (reply, _) = try call(.hello(protocolVersion: Frame.version))
        guard case .ok = reply else { throw HelperTestError.unexpected("\(reply)") }
    }

    /// SIGKILL to the helper's whole process group (started with `ownGroup`), then
    /// waits until no process of the group is left.
    func killGroup() throws {
        guard kill(-pid, SIGKILL) == 0 else { throw SystemCallError(call: "kill", errno: errno) }
        _ = waitForExit(timeout: 5)
        let deadline = Date().addingTimeInterval(10)
        while kill(-pid, 0) == 0 {
            guard Date() < deadline else { throw HelperTestError.unexpected("process group \(pid) still alive after SIGKILL") }
            usleep(20_000)
        }
    }

    var isAlive: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exitStatus = status; return false }
        return true
    }

    func waitForExit(timeout: Double) -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { exitStatus = status; return status }
            usleep(20_000)
        }
        return nil
    }
}

/// Runs one of the product's binaries (from `HelperUnderTest.binDir`) to completion,
/// as `user` via runuser if given, and returns the process and everything it printed.
func runBinary(_ name: String, _ arguments: [String], asUser user: String? = nil) throws -> (Process, String) {
    let p = Process()
    let binary = "\(HelperUnderTest.binDir)/\(name)"
    if let user {
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        p.arguments = ["-u", user, "--", binary] + arguments
    } else {
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
    }
    let out = Pipe()
    p.standardInput = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return (p, text)
}

enum HelperTestError: Error {
    case noReply
    case helperGone(Int32?)
    case unexpected(String)
}

/// Asserts that `reply` is a refusal with `code`, and returns its message.
@discardableResult
func assertRefused(_ result: (Reply, Int32), _ code: RefusalCode, file: StaticString = #filePath, line: UInt = #line) -> String {
    XCTAssertEqual(result.1, -1, "a refusal must not carry an fd", file: file, line: line)
    guard case .refused(let refusal) = result.0 else {
        XCTFail("expected refusal \(code), got \(result.0)", file: file, line: line)
        if result.1 >= 0 { close(result.1) }
        return ""
    }
    XCTAssertEqual(refusal.code, code, "message: \(refusal.message)", file: file, line: line)
    return refusal.message
}
