import CProcess
import IPC
#if canImport(Glibc)
import Glibc
#endif

/// Forks one of the helper's children (spawner, netfilter executor, proof inspector).
/// The child keeps only stdio and `channel`, as fd 3: nothing else the helper holds
/// (another child's channel, the signalfd) crosses into it. It starts with no signal
/// blocked, since the helper's signalfd mask would survive its execs.
enum ChildFork {
    static func start(keeping channel: Int32, _ child: () -> Never) throws(SystemCallError) -> pid_t {
        let pid = fork()
        if pid < 0 { throw SystemCallError(call: "fork", errno: errno) }
        if pid == 0 {
            if channel != 3 { dup2(channel, 3) } else { _ = fcntl(3, F_SETFD, 0) }
            _ = bh_close_from(4)
            _ = bh_unblock_all_signals()
            child()
        }
        return pid
    }
}
