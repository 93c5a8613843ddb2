import CProcess
import Logging
import SeccompFilter
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
        // The router's in-kernel relay: socket → pipe → socket.
        "splice", "pipe2",
        // Readiness: NIO's epoll loops and timers, libssh's poll, and the select() of the thread
        // through which Foundation's Process learns that netwatch's scripts ended.
        "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "poll", "ppoll", "pselect6", "timerfd_create", "timerfd_settime",
        // Sockets (socket() is filtered by family below): clients, upstreams, SSH, ssh-agent, DNS.
        "bind", "listen", "accept4", "connect", "shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername",
        "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
        // Files: the audit file (reopened on SIGHUP), keys, known_hosts, resolver and NSS files;
        // the socket the agent binds itself (ssh). unlinkat, fchmodat, faccessat, fstat: arm64.
        "openat", "newfstatat", "fstat", "access", "faccessat", "unlink", "unlinkat", "chmod", "fchmodat",
        // The i2p plugin's state and keys: written to a temporary file, synced, renamed into place.
        "rename", "renameat", "renameat2", "fsync", "fdatasync", "mkdir", "mkdirat", "getdents64",
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
    static func apply(enabled: Bool, signalable: [pid_t], logger: Logger) throws(SeccompError) {
        guard enabled else {
            logger.warning("seccomp filter DISABLED by agent.seccomp: false; the agent runs with every syscall allowed")
            return
        }
        try install(signalable: signalable)
        logger.info("seccomp filter installed", metadata: ["allowed": "\(allowed.count) + socket, ioctl, prctl, clone, kill, tgkill by argument"])
    }

    /// `signalable`: processes the agent may still signal (its own pid is always allowed).
    static func install(signalable: [pid_t] = []) throws(SeccompError) {
        let filter = try SeccompFilter()
        try filter.allow(allowed)
        for (family, name) in socketFamilies {
            try filter.allow("socket", when: [SeccompFilter.equal(0, UInt64(family))], name)
        }
        try filter.allow("socket", when: [SeccompFilter.equal(0, UInt64(AF_NETLINK)), SeccompFilter.equal(2, UInt64(BH_NETLINK_ROUTE))],
                         "AF_NETLINK/NETLINK_ROUTE")
        for (request, name) in ioctlRequests {
            try filter.allow("ioctl", when: [SeccompFilter.equal(1, UInt64(request))], name)
        }
        try filter.allow("prctl", when: [SeccompFilter.equal(0, UInt64(BH_PR_SET_NAME))], "PR_SET_NAME")
        try filter.allow("prctl", when: [SeccompFilter.equal(0, UInt64(BH_PR_GET_NAME))], "PR_GET_NAME")
        try filter.allow("clone", when: [SeccompFilter.masked(0, cloneMask, equals: UInt64(BH_CLONE_THREAD))], "threads")
        // clone3 passes its flags in memory, which seccomp cannot read: ENOSYS makes
        // glibc fall back to clone(), whose flags are checked above.
        try filter.fail("clone3", errno: ENOSYS)
        for pid in Set(signalable + [getpid()]) {
            try filter.allow("kill", when: [SeccompFilter.equal(0, UInt64(UInt32(bitPattern: pid)))], "pid \(pid)")
        }
        // abort() and pthread_kill(): threads of this process only.
        try filter.allow("tgkill", when: [SeccompFilter.equal(0, UInt64(UInt32(bitPattern: getpid())))], "own")
        try filter.load()
    }
}
