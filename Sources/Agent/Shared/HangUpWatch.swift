#if canImport(Glibc)
import Glibc
#endif

/// Waits, on a thread of its own, until the peer of a socket hangs up.
enum HangUpWatch {
    /// Yields once when `fd`'s peer hangs up (or the socket fails), then finishes.
    /// It polls with no events asked for, so only POLLHUP/POLLERR wake it: the
    /// traffic on the socket is untouched.
    static func hangUps(of fd: Int32) -> AsyncStream<Void> {
        AsyncStream { continuation in
            BlockingThread {
                var pfd = pollfd(fd: fd, events: 0, revents: 0)
                while poll(&pfd, 1, -1) < 0 && errno == EINTR {}
                continuation.yield()
                continuation.finish()
            }.start()
        }
    }
}
