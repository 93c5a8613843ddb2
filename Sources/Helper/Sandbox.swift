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
        "read", "write", "writev", "close", "poll", "ppoll", "fcntl", "dup", "dup3",
        "recvmsg", "sendmsg", "sendto",
        // Sockets it binds or connects on the agent's behalf (socket() is filtered by family below).
        "bind", "connect", "getsockopt", "setsockopt", "getsockname", "socketpair",
        // Socket files: stale cleanup, mode and owner.
        "newfstatat", "fstat", "statx", "lstat", "unlink", "unlinkat", "fchmodat", "chmod", "fchownat", "chown", "lchown", "umask",
        // Signals (SIGTERM/SIGINT/SIGCHLD arrive through a signalfd) and child reaping.
        "rt_sigprocmask", "rt_sigreturn", "rt_sigaction", "wait4", "kill",
        // Time and memory, as the Swift runtime and libc need them.
        "clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday",
        "brk", "mmap", "munmap", "mremap", "madvise", "mprotect", "futex", "getrandom",
        "getpid", "gettid", "getuid", "geteuid", "getgid", "getegid", "sched_yield", "restart_syscall",
        // Ending: normally, or by abort() on a Swift runtime trap.
        "exit", "exit_group", "tgkill",
    ]

    /// socket() only for these families.
    static let socketFamilies: [(Int32, String)] = [(AF_UNIX, "AF_UNIX"), (AF_INET, "AF_INET"), (AF_INET6, "AF_INET6")]

    static func install() throws(SandboxError) {
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
