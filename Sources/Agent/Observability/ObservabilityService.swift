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
struct ObservabilityService: Service {
    let settings: MetricsSection
    let helper: HelperClient
    let group: any EventLoopGroup
    let logger: Logger
    let board = StatusBoard.shared

    /// An idle keep-alive connection is closed after this long.
    static let idleTimeout: TimeAmount = .seconds(60)

    func run() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let answers = ObservabilityAnswers(helper: helper, board: board, logger: logger)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
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
        board.set("metrics", "listener", healthy: true, state: "listening")
        logger.notice("listening", metadata: ["listen": "\(settings.listen)", "paths": "/metrics /healthz /status"])
        try? await gracefulShutdown()
        await stop()
        try? await pool.shutdownGracefully()
        logger.notice("stopped")
    }
}

/// The three answers; each runs on a thread-pool thread.
struct ObservabilityAnswers: Sendable {
    let helper: HelperClient
    let board: StatusBoard
    let logger: Logger
    let helperMetrics = HelperMetrics()

    func answer(_ path: String) -> ObservabilityHTTPHandler.Answer {
        switch path {
        case "/metrics":
            do {
                helperMetrics.update(try helper.counters())
            } catch {
                logger.warning("cannot read the helper's counters", metadata: ["error": "\(error)"])
            }
            return .init(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: AgentMetrics.registry.emitToBuffer())
        case "/healthz":
            board.runProbes()
            let document = StatusDocument(board: board)
            if document.healthy { return .init(status: .ok, contentType: "text/plain; charset=utf-8", body: Array("ok\n".utf8)) }
            let lines = document.failing.map { service in
                let why = service.checks.filter { !$0.healthy }.map { "\($0.name) \($0.state)" + ($0.detail.map { ": \($0)" } ?? "") }
                return "\(service.name): \(service.state)" + (why.isEmpty ? "" : " (\(why.joined(separator: "; ")))")
            }
            return .init(status: .serviceUnavailable, contentType: "text/plain; charset=utf-8", body: Array((["failing:"] + lines).joined(separator: "\n").utf8) + [0x0a])
        case "/status":
            board.runProbes()
            return .init(status: .ok, contentType: "application/json", body: StatusDocument(board: board).json())
        default:
            return .init(status: .notFound, contentType: "text/plain; charset=utf-8", body: Array("not found; try /metrics, /healthz or /status\n".utf8))
        }
    }
}
