import CProcess
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM, SIGINT, SIGHUP and SIGCHLD delivered as reads on a signalfd, so the
/// single-threaded poll loop handles them in order with no handler code.
struct SignalChannel {
    let fd: Int32

    /// Must run before the sandbox is installed (signalfd4 is not on the allow-list).
    static func open() -> SignalChannel? {
        signal(SIGPIPE, SIG_IGN)
        let signals = [SIGTERM, SIGINT, SIGHUP, SIGCHLD]
        let fd = bh_signalfd(signals, Int32(signals.count))
        return fd >= 0 ? SignalChannel(fd: fd) : nil
    }

    /// The next pending signal number, or nil.
    func next() -> Int32? {
        let sig = bh_signalfd_read(fd)
        return sig > 0 ? sig : nil
    }
}
