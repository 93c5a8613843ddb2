import CProcess
import CSeccomp
#if canImport(Glibc)
import Glibc
#endif

/// A call the helper's filter must refuse, made for `audit-sandbox` to show it.
/// Arguments are zeros or harmless, in case a filter ever let one through.
enum ForbiddenCall {
    case syscall(String)
    case attachFilter
    case inetSocket

    func attempt() {
        switch self {
        case .syscall(let name):
            _ = bh_raw_syscall(Int(seccomp_syscall_resolve_name(name)), 0, 0, 0)
        case .attachFilter:
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, nil, 0)
        case .inetSocket:
            _ = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        }
    }
}
