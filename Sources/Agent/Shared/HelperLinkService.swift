import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Returns when the helper goes away (its end of the socketpair hangs up), which
/// shuts the whole agent down gracefully: without the helper there is no boundary.
struct HelperLinkService: Service {
    let fd: Int32
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
        await cancelWhenGracefulShutdown {
            for await _ in hangups {
                logger.critical("helper link lost; stopping the agent")
                return
            }
        }
    }
}
