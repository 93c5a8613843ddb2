import CProcess
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Accepts connections on a socket the helper bound, on a dedicated thread: the
/// router needs each client's raw fd (to read SO_PEERCRED and to hand it to the
/// helper as proof), which SwiftNIO's server bootstrap does not expose.
final class AcceptLoop: Sendable {
    private let listener: Int32
    private let wake: Int32  // eventfd: stop() makes poll return
    private let logger: Logger
    private let handle: @Sendable (Int32) -> Void
    private let stopped = Mutex(false)

    init(listener: Int32, logger: Logger, handle: @escaping @Sendable (Int32) -> Void) {
        self.listener = listener
        self.wake = bh_eventfd()
        self.logger = logger
        self.handle = handle
    }

    func start() {
        BlockingThread { [self] in loop() }.start()
    }

    func stop() {
        stopped.withLock { $0 = true }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    private func loop() {
        var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        while !stopped.withLock({ $0 }) {
            fds[0].revents = 0; fds[1].revents = 0
            if poll(&fds, 2, -1) < 0 { if errno == EINTR { continue }; break }
            if fds[1].revents != 0 { break }
            let client = bh_accept(listener)
            if client < 0 {
                if errno == EINTR || errno == EAGAIN || errno == ECONNABORTED { continue }
                logger.error("accept failed", metadata: ["errno": .stringConvertible(errno)])
                if errno == EMFILE || errno == ENFILE { usleep(100_000) }  // out of fds: back off, do not spin
                continue
            }
            handle(client)
        }
        close(wake)
    }
}
