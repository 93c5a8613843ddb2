import CFDPass
import SeccompFilter
#if canImport(Glibc)
import Glibc
#endif

/// The helper's seccomp allow-list. Default action: kill the whole process
/// (SIGSYS). TSYNC applies it to every thread. `security/syscalls.md` explains
/// each entry; keep the two in step.
enum Sandbox {
    /// Syscalls allowed with any arguments.
    static let allowed: [String] = [
        // I/O on fds the helper already holds: the IPC channel, logs, signalfd, and the
        // NETLINK_SOCK_DIAG socket (opened before the filter) that checks proofs.
        "read", "write", "close", "poll", "ppoll", "fcntl",
        "recvmsg", "sendmsg", "sendto",
        // Sockets it binds, listens on, accepts on (TCP relay) or connects on the
        // agent's behalf (socket() is filtered by family, setsockopt by option, below).
        "bind", "listen", "accept4", "connect", "getsockopt", "socketpair",
        // Socket files: stale cleanup and owner (the mode comes from the umask at bind).
        "newfstatat", "fstat", "statx", "lstat", "unlink", "unlinkat", "fchownat", "lchown", "umask",
        // Signals (SIGTERM/SIGINT/SIGCHLD arrive through a signalfd) and child reaping.
        "rt_sigprocmask", "rt_sigreturn", "rt_sigaction", "wait4",
        // Time and memory, as the Swift runtime and libc need them.
        "clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday",
        "brk", "mmap", "munmap", "mremap", "madvise", "mprotect", "futex", "getrandom",
        "getpid", "gettid", "getuid", "geteuid", "getgid", "getegid", "sched_yield", "restart_syscall",
        // Ending: normally, or by abort() on a Swift runtime trap.
        "exit", "exit_group", "tgkill",
    ]

    /// Calls an earlier allow-list had and the helper never makes: `audit-sandbox
    /// --attempt-removed` shows each of them ending in SIGSYS.
    static let removed: [String] = ["chmod", "fchmodat", "chown", "kill", "getsockname", "writev", "dup", "dup3"]

    /// setsockopt() only as (level, option): SO_REUSEADDR on a TCP listener. Nothing
    /// else, so no SO_ATTACH_FILTER or other socket programming.
    static let socketOptions: [(Int32, Int32, String)] = [(SOL_SOCKET, SO_REUSEADDR, "SOL_SOCKET/SO_REUSEADDR")]

    /// socket() families: AF_UNIX always; AF_INET and AF_INET6 only when the helper's
    /// config has a TCP listener.
    static func socketFamilies(tcp: Bool) -> [(Int32, String)] {
        [(AF_UNIX, "AF_UNIX")] + (tcp ? [(AF_INET, "AF_INET"), (AF_INET6, "AF_INET6")] : [])
    }

    /// The proof inspector's whole list: receive a socket, ask the kernel which file it
    /// is bound to (ioctl SIOCUNIXFILE, the only ioctl), fstat that, answer, close.
    static let inspectorAllowed: [String] = [
        "recvmsg", "sendmsg", "fstat", "newfstatat", "statx", "close", "write",
        "brk", "mmap", "munmap", "mremap", "madvise", "mprotect", "futex", "getrandom",
        "clock_gettime", "getpid", "gettid", "rt_sigreturn", "rt_sigprocmask", "restart_syscall",
        "exit", "exit_group", "tgkill",
    ]

    static func install(tcp: Bool) throws(SeccompError) {
        try load(allowed: allowed, socketFamilies: socketFamilies(tcp: tcp), socketOptions: socketOptions, ioctls: [])
    }

    static func installInspector() throws(SeccompError) {
        try load(allowed: inspectorAllowed, socketFamilies: [], socketOptions: [], ioctls: [(bh_siocunixfile(), "SIOCUNIXFILE")])
    }

    private static func load(
        allowed: [String], socketFamilies: [(Int32, String)], socketOptions: [(Int32, Int32, String)], ioctls: [(UInt, String)]
    ) throws(SeccompError) {
        let filter = try SeccompFilter()
        try filter.allow(allowed)
        for (family, name) in socketFamilies {
            try filter.allow("socket", when: [SeccompFilter.equal(0, UInt64(family))], name)
        }
        for (level, option, name) in socketOptions {
            try filter.allow("setsockopt", when: [SeccompFilter.equal(1, UInt64(level)), SeccompFilter.equal(2, UInt64(option))], name)
        }
        for (request, name) in ioctls {
            try filter.allow("ioctl", when: [SeccompFilter.equal(1, UInt64(request))], name)
        }
        try filter.load()
    }
}
