import Config
import IPC
import Logging
import NIOCore
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// The router service: the system Docker socket (bound by the helper at
/// `router.listen`) routed to each caller's rootless Docker socket.
struct RouterService: ListeningService {
    let config: RouterSection
    let context: ServiceContext

    /// How long open connections may keep running after a stop is requested.
    static let drainSeconds = 10

    func run() async throws {
        let listener = try helper.bindUnixListener(ListenerName.router)  // already listening
        RouterMetrics.prepare()
        let router = ConnectionRouter(config: config, helper: helper, group: group, logger: logger)
        router.startAccepting(listener)
        StatusBoard.shared.facts("router") { ["open_connections": .count(router.liveConnections)] }
        await serveUntilShutdown("router", listening: [
            "listen": "\(config.listen)", "user_socket": "\(config.userSocket)", "root_policy": "\(config.rootPolicy.rawValue)",
            "max_connections_per_user": .stringConvertible(config.maxConnectionsPerUser), "max_connections": .stringConvertible(config.maxConnections),
        ]) {
            router.stopAccepting()
            close(listener)  // the helper keeps its own copy: clients queue until the next agent
            var waited = 0
            while router.liveConnections > 0, waited < Self.drainSeconds * 10 {
                if waited % 10 == 0 { logger.notice("draining", metadata: ["open_connections": .stringConvertible(router.liveConnections)]) }
                try? await Task.sleep(for: .milliseconds(100))
                waited += 1
            }
            return ["open_connections_left": .stringConvertible(router.liveConnections)]
        }
    }
}
