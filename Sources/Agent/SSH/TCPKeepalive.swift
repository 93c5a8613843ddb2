import Glibc

/// Kernel-side liveness for the SSH connection: TCP keepalives, and a user timeout
/// so unacknowledged data (our SSH keepalives included) fails the socket after three
/// intervals. libssh then reports the connection as lost and the link reconnects.
enum TCPKeepalive {
    static func apply(to fd: Int32, interval: Double) {
        guard fd >= 0 else { return }
        let seconds = Int32(max(1, interval.rounded()))
        var on: Int32 = 1, idle = seconds, count: Int32 = 3
        var userTimeout = UInt32(seconds) * 3 * 1000
        let size = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &idle, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &count, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_USER_TIMEOUT, &userTimeout, socklen_t(MemoryLayout<UInt32>.size))
    }
}
