import Logging
import ServiceLifecycle

/// A service of the agent that serves a listener the helper bound for it.
protocol ListeningService: AgentService {}

extension ListeningService {
    /// What each does once its listener serves: says so (on the status board as `name`'s
    /// listener, and in the log with `metadata`), waits until the agent stops, runs `stop`
    /// (which closes what it opened and returns what the "stopped" line adds), and logs
    /// that it stopped.
    func serveUntilShutdown(_ name: String, listening metadata: Logger.Metadata,
                            stop: () async -> Logger.Metadata? = { nil }) async {
        StatusBoard.shared.set(name, "listener", healthy: true, state: "listening")
        logger.notice("listening", metadata: metadata)
        try? await gracefulShutdown()
        let stopped = await stop()
        logger.notice("stopped", metadata: stopped)
    }
}
