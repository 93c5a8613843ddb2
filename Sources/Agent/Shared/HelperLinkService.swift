import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Stops the agent when the helper goes away (its end of the socketpair hangs up):
/// without the helper there is no boundary. It asks the group for a graceful shutdown
/// and stays until its own turn, which comes last (it is the group's first service).
/// So a helper that closes the link while the agent is already stopping (both were
/// sent SIGTERM) does not make that shutdown fail.
struct HelperLinkService: Service {
    let fd: Int32
    let shutdown: GroupShutdown
    let logger: Logger

    func run() async {
        let hangups = AsyncStream<Void> { continuation in
            let fd = fd
            let thread = BlockingThread {
                // events = 0: only POLLHUP/POLLERR wake us; request traffic is untouched.
                var pfd = pollfd(fd: fd, events: 0, revents: 0)
                while poll(&pfd, 1, -1) < 0 && errno == EINTR {}
                continuation.yield()
                continuation.finish()
            }
            thread.start()
        }
        let hungUp = await cancelWhenGracefulShutdown {
            for await _ in hangups { return true }
            return false
        }
        guard hungUp else { return }
        logger.critical("helper link lost; stopping the agent")
        await shutdown.request()
        try? await gracefulShutdown()
    }
}
