import CFDPass
#if canImport(Glibc)
import Glibc
#endif

/// A socket file, by device and inode: what a Unix socket is really bound to,
/// whatever its path string says in some other mount namespace.
struct SocketFileIdentity: Equatable {
    var inode: UInt32
    var deviceMajor: UInt32
    var deviceMinor: UInt32

    /// The file at `path` (not followed if a link).
    init?(path: String) {
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFSOCK else { return nil }
        self.init(st)
    }

    /// The socket file `st` describes.
    init(_ st: stat) {
        // sock_diag reports 32-bit inode numbers.
        inode = UInt32(truncatingIfNeeded: st.st_ino)
        // glibc's major()/minor() encoding of dev_t (the macros do not import into Swift).
        let dev = UInt64(st.st_dev)
        deviceMajor = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff)))
        deviceMinor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff)))
    }

    init(inode: UInt32, deviceMajor: UInt32, deviceMinor: UInt32) {
        self.inode = inode; self.deviceMajor = deviceMajor; self.deviceMinor = deviceMinor
    }

    /// What the kernel says socket `fd` is bound to (for an accepted connection:
    /// its listener's file). nil when unbound or unknown.
    static func of(socket fd: Int32, diag: Int32) -> SocketFileIdentity? {
        var ino: UInt32 = 0, major: UInt32 = 0, minor: UInt32 = 0
        guard bh_unix_socket_vfs(diag, fd, &ino, &major, &minor) == 0 else { return nil }
        return SocketFileIdentity(inode: ino, deviceMajor: major, deviceMinor: minor)
    }
}
