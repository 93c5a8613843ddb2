import CFDPass
import CProcess
import CSeccomp
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

    static func install(tcp: Bool) throws(SandboxError) {
        try load(allowed: allowed, socketFamilies: socketFamilies(tcp: tcp), socketOptions: socketOptions, ioctls: [])
    }

    static func installInspector() throws(SandboxError) {
        try load(allowed: inspectorAllowed, socketFamilies: [], socketOptions: [], ioctls: [(bh_siocunixfile(), "SIOCUNIXFILE")])
    }

    private static func load(
        allowed: [String], socketFamilies: [(Int32, String)], socketOptions: [(Int32, Int32, String)], ioctls: [(UInt, String)]
    ) throws(SandboxError) {
        guard bh_prctl(Int32(BH_PR_SET_NO_NEW_PRIVS), 1) == 0 else { throw .failed("PR_SET_NO_NEW_PRIVS", errno) }
        guard let ctx = seccomp_init(UInt32(SCMP_ACT_KILL_PROCESS)) else { throw .failed("seccomp_init", ENOMEM) }
        defer { seccomp_release(ctx) }
        try check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1), "TSYNC")
        for name in allowed {
            let nr = seccomp_syscall_resolve_name(name)
            if nr == __NR_SCMP_ERROR { continue }  // not a syscall on this architecture (e.g. lstat on arm64)
            try check(seccomp_rule_add_array(ctx, UInt32(SCMP_ACT_ALLOW), nr, 0, nil), "allow \(name)")
        }
        let socketNR = seccomp_syscall_resolve_name("socket")
        for (family, name) in socketFamilies {
            var cmp = scmp_arg_cmp(arg: 0, op: SCMP_CMP_EQ, datum_a: scmp_datum_t(family), datum_b: 0)
            try check(seccomp_rule_add_array(ctx, UInt32(SCMP_ACT_ALLOW), socketNR, 1, &cmp), "allow socket(\(name))")
        }
        let setsockoptNR = seccomp_syscall_resolve_name("setsockopt")
        for (level, option, name) in socketOptions {
            var cmps = [
                scmp_arg_cmp(arg: 1, op: SCMP_CMP_EQ, datum_a: scmp_datum_t(level), datum_b: 0),
                scmp_arg_cmp(arg: 2, op: SCMP_CMP_EQ, datum_a: scmp_datum_t(option), datum_b: 0),
            ]
            try check(seccomp_rule_add_array(ctx, UInt32(SCMP_ACT_ALLOW), setsockoptNR, 2, &cmps), "allow setsockopt(\(name))")
        }
        let ioctlNR = seccomp_syscall_resolve_name("ioctl")
        for (request, name) in ioctls {
            var cmp = scmp_arg_cmp(arg: 1, op: SCMP_CMP_EQ, datum_a: scmp_datum_t(request), datum_b: 0)
            try check(seccomp_rule_add_array(ctx, UInt32(SCMP_ACT_ALLOW), ioctlNR, 1, &cmp), "allow ioctl(\(name))")
        }
        try check(seccomp_load(ctx), "seccomp_load")
    }

    private static func check(_ rc: Int32, _ step: String) throws(SandboxError) {
        if rc < 0 { throw .failed(step, -rc) }
    }
}

enum SandboxError: Error, CustomStringConvertible {
    case failed(String, Int32)
    var description: String {
        switch self { case .failed(let step, let e): "seccomp \(step) failed: \(String(cString: strerror(e)))" }
    }
}
