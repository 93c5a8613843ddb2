import Foundation
import IPC
#if canImport(Glibc)
import Glibc
#endif

/// The real helper in its normal mode (`bulkhead-helper run`), its output and error
/// output in a log file. Started with posix_spawn, not Foundation's Process: the helper
/// closes every inherited fd, including the one Process watches to learn that its
/// child has exited.
final class RunningHelper {
    let pid: pid_t
    private let logPath: String
    private var reaped: Int32?

    /// `prefix`: a command to run it under (e.g. `ip netns exec NAME`).
    init(config: String, logPath: String, prefix: [String] = []) throws {
        self.logPath = logPath
        let logFD = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(logFD) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, logFD, 1)
        posix_spawn_file_actions_adddup2(&actions, logFD, 2)
        let argv = prefix + ["\(HelperUnderTest.binDir)/bulkhead-helper", "run", "--config", config]
        var cArgv = argv.map { strdup($0) } + [nil]
        defer { for p in cArgv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, cArgv[0]!, &actions, nil, &cArgv, environ)
        guard rc == 0 else { throw SystemCallError(call: "posix_spawn", errno: rc) }
        self.pid = pid
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Its wait status once it has exited (reaped once, then remembered).
    func exitStatus(waitingUpTo seconds: Double) -> Int32? {
        if let reaped { return reaped }
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { reaped = status; return status }
            usleep(50_000)
        } while Date() < deadline
        return nil
    }

    /// SIGTERM, and SIGKILL if it has not exited 15 s later; reaped either way.
    func stop() {
        guard exitStatus(waitingUpTo: 0) == nil else { return }
        kill(pid, SIGTERM)
        if exitStatus(waitingUpTo: 15) == nil { kill(pid, SIGKILL); _ = exitStatus(waitingUpTo: 5) }
    }
}
