#if canImport(Glibc)
import Glibc
#endif

/// The agent holds six fds per relayed connection (two sockets, two splice pipes); router.max_connections is
/// sized for the hard limit, not the usual soft 1024. Raising the soft limit to
/// the hard one needs no privilege.
enum FileDescriptorLimit {
    /// Returns the soft limit now in force.
    @discardableResult
    static func raiseToHard() -> UInt {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return UInt(limit.rlim_cur)
    }
}
