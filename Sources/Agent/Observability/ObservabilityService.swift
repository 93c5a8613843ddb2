import Config
import IPC
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Serves /metrics, /healthz and /status on `metrics.listen`, which the helper binds.
/// A Unix listener is handed over and served directly; for TCP the helper keeps the
/// listener and passes each accepted connection (`AcceptChannel`).
struct ObservabilityService: ListeningService {
    let settings: MetricsSection
    let context: ServiceContext
    let board = StatusBoard.shared

    /// An idle keep-alive connection is closed after this long.
    static let idleTimeout: TimeAmount = .seconds(60)
    /// Connections served at once: any local user can connect, and must not be able to
    /// spend the agent's file descriptors, which every service shares. Past it, a new
    /// connection is closed at once.
    static let maxConnections = 64

    func run() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let answers = ObservabilityAnswers(helper: helper, board: board, logger: logger)
        let open = OpenConnections()
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(ConnectionCap(open: open, limit: Self.maxConnections))
                try sync.addHandler(IdleStateHandler(allTimeout: Self.idleTimeout))
                try sync.configureHTTPServerPipeline(withErrorHandling: true)
                try sync.addHandler(ObservabilityHTTPHandler(pool: pool) { answers.answer($0) })
            }
        }
        let stop: () async -> Void
        if settings.isUnix {
            let fd = try helper.bindUnixListener(.metrics)
            let server = try await ServerBootstrap(group: group).childChannelInitializer(initializer).withBoundSocket(fd).get()
            stop = { try? await server.close() }
        } else {
            let channel = PacketChannel(fd: try helper.bindTCPListener(.metrics))
            let logger = self.logger, group = self.group
            BlockingThread {
                while let connection = try? AcceptChannel.receive(on: channel) {
                    ClientBootstrap(group: group).channelInitializer(initializer).withConnectedSocket(connection).whenFailure { error in
                        logger.warning("cannot serve a metrics connection", metadata: ["error": "\(error)"])
                    }
                }
            }.start()
            // Ends the receiving thread's recvmsg (end of stream), then frees the fd.
            stop = { shutdown(channel.fd, Int32(SHUT_RDWR)); try? await Task.sleep(for: .milliseconds(50)); channel.close() }
        }
        await serveUntilShutdown("metrics", listening: ["listen": "\(settings.listen)", "paths": "/metrics /healthz /status"]) {
            await stop()
            try? await pool.shutdownGracefully()
            return nil
        }
    }
}
