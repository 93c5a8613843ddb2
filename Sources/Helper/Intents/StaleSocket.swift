import CFDPass
#if canImport(Glibc)
import Glibc
#endif

/// What is at a socket path the helper binds: the helper removes a leftover socket
/// nobody serves (at bind, and in `cleanup`), never a live one or anything else.
enum StaleSocket {
    enum State: Equatable {
        case absent
        case notASocket
        /// Something accepts connections on it.
        case live(owner: uid_t)
        /// A socket file nothing listens on (connect: ECONNREFUSED).
        case stale
        case unprobeable(errno: Int32)
    }

    static func probe(_ path: String) -> State {
        var st = stat()
        guard lstat(path, &st) == 0 else { return .absent }
        guard st.st_mode & S_IFMT == S_IFSOCK else { return .notASocket }
        let fd = bh_connect_unix(path)
        if fd >= 0 {
            close(fd)
            return .live(owner: st.st_uid)
        }
        return errno == ECONNREFUSED ? .stale : .unprobeable(errno: errno)
    }
}
