import CFDPass
import Foundation

/// A Unix socket the agent binds itself: for paths in a directory the agent's user
/// owns (and for the standalone proxy). Any other path is bound by the helper.
enum OwnUnixSocket {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// True when the socket's directory belongs to this process's user.
    static func isOwnPath(_ path: String) -> Bool {
        var info = stat()
        let directory = (path as NSString).deletingLastPathComponent
        return stat(directory.isEmpty ? "/" : directory, &info) == 0 && info.st_uid == geteuid()
    }

    /// Binds `path` with `mode`, replacing a stale socket file but never a live one.
    static func bind(_ path: String, mode: mode_t) throws(Failure) -> Int32 {
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw Failure(description: "\(path) exists and is not a socket: refusing to replace it")
            }
            let probe = bh_connect_unix(path)
            if probe >= 0 {
                var poller = pollfd(fd: probe, events: Int16(POLLOUT), revents: 0)
                let live = poll(&poller, 1, 1000) > 0 && poller.revents & Int16(POLLERR | POLLHUP) == 0
                close(probe)
                if live { throw Failure(description: "\(path) is served by another process: stop it or choose another local_socket") }
            }
            unlink(path)
        }
        let fd = bh_bind_unix(path)
        guard fd >= 0 else { throw Failure(description: "cannot bind \(path): \(String(cString: strerror(errno)))") }
        guard chmod(path, mode) == 0 else {
            let e = errno
            close(fd)
            throw Failure(description: "cannot chmod \(path): \(String(cString: strerror(e)))")
        }
        return fd
    }
}
