import ArgumentParser
import Logging
import NIOCore
import ServiceLifecycle

/// Runs services until SIGTERM/SIGINT (or one of them ends the group), then shuts
/// the event loops down; any failure becomes exit status 1 after it is logged.
enum AgentServices {
    static func run(_ services: [ServiceGroupConfiguration.ServiceConfiguration], group: any EventLoopGroup, logger: Logger) async throws {
        let serviceGroup = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await serviceGroup.run()
        } catch {
            logger.error("stopped with an error", metadata: ["error": "\(error)"])
            try? await group.shutdownGracefully()
            throw ExitCode(1)
        }
        try? await group.shutdownGracefully()
    }
}
