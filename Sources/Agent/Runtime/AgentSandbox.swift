import CProcess
import CSeccomp
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The agent's seccomp allow-list. Default action: kill the whole process (SIGSYS).
/// TSYNC applies it to every thread that exists (NIO loops, Dispatch, libssh) and
/// every thread created later inherits it. `security/syscalls.md` explains each
/// entry; keep the two in step. No process can be started under it: anything the
/// agent runs (netwatch's scripts) is started before it is installed.
enum AgentSandbox {
    /// Syscalls allowed with any arguments.
    static let allowed: [String] = [
        // I/O on fds it holds: sockets, the IPC channel, the audit file, eventfds, stdout.
        "read", "write", "writev", "lseek", "close", "fcntl", "eventfd2",
        // Readiness: NIO's epoll loops and timers, libssh's poll, and the select() of the thread
        // through which Foundation's Process learns that netwatch's scripts ended.
        "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "poll", "ppoll", "pselect6", "timerfd_create", "timerfd_settime",
        // Sockets (socket() is filtered by family below): clients, upstreams, SSH, ssh-agent, DNS.
        "bind", "listen", "accept4", "connect", "shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername",
        "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
        // Files: the audit file (reopened on SIGHUP), keys, known_hosts, resolver and NSS files;
        // the socket the agent binds itself (ssh). unlinkat, fchmodat, faccessat, fstat: arm64.
        "openat", "newfstatat", "fstat", "access", "faccessat", "unlink", "unlinkat", "chmod", "fchmodat",
        // Threads (clone is filtered below) and their runtime: locks, TLS, Dispatch's QoS.
        "futex", "set_robust_list", "rseq", "sched_yield", "setpriority",
        // Signals: ServiceLifecycle's and Dispatch's signal sources; reaping netwatch's scripts.
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "signalfd4", "wait4",
        // Time, memory, identity.
        "clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday",
        "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "getrandom",
        "getpid", "gettid", "getuid", "geteuid", "getgid", "getegid", "uname", "restart_syscall",
        // Ending.
        "exit", "exit_group",
    ]

    /// socket() only for these families (and NETLINK_ROUTE only: glibc's getaddrinfo
    /// reads the host's addresses to sort several results).
    static let socketFamilies: [(Int32, String)] = [(AF_UNIX, "AF_UNIX"), (AF_INET, "AF_INET"), (AF_INET6, "AF_INET6")]

    /// ioctl() only for these requests: libc's isatty() on stdout. Never TIOCSTI and the
    /// like, which could type into a terminal the agent inherited.
    static let ioctlRequests: [(UInt, String)] = [(UInt(TCGETS), "TCGETS")]

    /// clone() flags that must be exactly CLONE_THREAD under this mask: new threads,
    /// never a new process and never a new namespace.
    static let cloneMask = UInt64(BH_CLONE_THREAD | BH_CLONE_NEW_NAMESPACES)

    /// The service's entry: installs the filter unless `agent.seccomp` is false, and says which.
    static func apply(enabled: Bool, signalable: [pid_t], logger: Logger) throws(AgentSandboxError) {
        guard enabled else {
            logger.warning("seccomp filter DISABLED by agent.seccomp: false; the agent runs with every syscall allowed")
            return
        }
        try install(signalable: signalable)
        logger.info("seccomp filter installed", metadata: ["allowed": "\(allowed.count) + socket, ioctl, prctl, clone, kill, tgkill by argument"])
    }

    /// `signalable`: processes the agent may still signal (its own pid is always allowed).
    static func install(signalable: [pid_t] = []) throws(AgentSandboxError) {
        guard bh_prctl(Int32(BH_PR_SET_NO_NEW_PRIVS), 1) == 0 else { throw .failed("PR_SET_NO_NEW_PRIVS", errno) }
        guard let ctx = seccomp_init(UInt32(SCMP_ACT_KILL_PROCESS)) else { throw .failed("seccomp_init", ENOMEM) }
        defer { seccomp_release(ctx) }
        try check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1), "TSYNC")
        for name in allowed {
            let nr = seccomp_syscall_resolve_name(name)
            if nr == __NR_SCMP_ERROR { continue }  // not a syscall on this architecture (e.g. open on arm64)
            try check(seccomp_rule_add_array(ctx, UInt32(SCMP_ACT_ALLOW), nr, 0, nil), "allow \(name)")
        }
        for (family, name) in socketFamilies {
            try allow(ctx, "socket", [.init(arg: 0, op: SCMP_CMP_EQ, datum_a: scmp_datum_t(family), datum_b: 0)], name)
        }
        try allow(ctx, "socket", [
            .init(arg: 0, op: SCMP_CMP_EQ, datum_a: scmp_datum_t(AF_NETLINK), datum_b: 0),
            .init(arg: 2, op: SCMP_CMP_EQ, datum_a: scmp_datum_t(BH_NETLINK_ROUTE), datum_b: 0),
        ], "AF_NETLINK/NETLINK_ROUTE")
        for (request, name) in ioctlRequests {
            try allow(ctx, "ioctl", [.init(arg: 1, op: SCMP_CMP_EQ, datum_a: scmp_datum_t(request), datum_b: 0)], name)
        }
        try allow(ctx, "prctl", [.init(arg: 0, op: SCMP_CMP_EQ, datum_a: scmp_datum_t(BH_PR_SET_NAME), datum_b: 0)], "PR_SET_NAME")
        try allow(ctx, "prctl", [.init(arg: 0, op: SCMP_CMP_EQ, datum_a: scmp_datum_t(BH_PR_GET_NAME), datum_b: 0)], "PR_GET_NAME")
        try allow(ctx, "clone", [.init(arg: 0, op: SCMP_CMP_MASKED_EQ, datum_a: cloneMask, datum_b: scmp_datum_t(BH_CLONE_THREAD))], "threads")
        // clone3 passes its flags in memory, which seccomp cannot read: ENOSYS makes
        // glibc fall back to clone(), whose flags are checked above.
        try check(seccomp_rule_add_array(ctx, errnoAction(ENOSYS), seccomp_syscall_resolve_name("clone3"), 0, nil), "clone3")
        for pid in Set(signalable + [getpid()]) {
            try allow(ctx, "kill", [.init(arg: 0, op: SCMP_CMP_EQ, datum_a: scmp_datum_t(UInt32(bitPattern: pid)), datum_b: 0)], "pid \(pid)")
        }
        // abort() and pthread_kill(): threads of this process only.
        try allow(ctx, "tgkill", [.init(arg: 0, op: SCMP_CMP_EQ, datum_a: scmp_datum_t(UInt32(bitPattern: getpid())), datum_b: 0)], "own")
        try check(seccomp_load(ctx), "seccomp_load")
    }

    /// SCMP_ACT_ERRNO(e), a C macro Swift does not import.
    private static func errnoAction(_ e: Int32) -> UInt32 { 0x0005_0000 | (UInt32(e) & 0xffff) }

    private static func allow(_ ctx: scmp_filter_ctx, _ syscall: String, _ conditions: [scmp_arg_cmp], _ what: String) throws(AgentSandboxError) {
        var conditions = conditions
        let rc = seccomp_rule_add_array(ctx, UInt32(SCMP_ACT_ALLOW), seccomp_syscall_resolve_name(syscall), UInt32(conditions.count), &conditions)
        try check(rc, "allow \(syscall)(\(what))")
    }

    private static func check(_ rc: Int32, _ step: String) throws(AgentSandboxError) {
        if rc < 0 { throw .failed(step, -rc) }
    }
}

enum AgentSandboxError: Error, CustomStringConvertible {
    case failed(String, Int32)
    var description: String {
        switch self { case .failed(let step, let e): "seccomp \(step) failed: \(String(cString: strerror(e)))" }
    }
}
