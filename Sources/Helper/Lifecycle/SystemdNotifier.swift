import CFDPass
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// sd_notify(3) for Type=notify, without libsystemd: one datagram per state change to
/// $NOTIFY_SOCKET. The socket is opened and connected at start, as root and before the
/// sandbox; each message is then a send(2) (sendto, already allowed for syslog).
struct SystemdNotifier {
    private let fd: Int32

    /// nil when the service manager did not ask for notifications. Removes
    /// NOTIFY_SOCKET from the environment either way, so no child inherits it.
    static func open(logger: Logger) -> SystemdNotifier? {
        guard let raw = getenv("NOTIFY_SOCKET") else { return nil }
        let address = String(cString: raw)
        unsetenv("NOTIFY_SOCKET")
        let fd = bh_connect_notify(address)
        guard fd >= 0 else {
            logger.warning("cannot reach NOTIFY_SOCKET; systemd will not see the service ready",
                           metadata: ["address": "\(address)", "errno": "\(fd == -2 ? ENAMETOOLONG : errno)"])
            return nil
        }
        return SystemdNotifier(fd: fd)
    }

    /// Sends `state` ("READY=1", "STOPPING=1", ...); a lost message is not retried.
    func send(_ state: String) {
        _ = state.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
    }
}
