import ArgumentParser
import Logging
import NIOCore
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Runs services until SIGTERM/SIGINT (or one of them ends the group), then shuts
/// the event loops down; any failure becomes exit status 1 after it is logged.
enum AgentServices {
    static func run(_ services: [ServiceGroupConfiguration.ServiceConfiguration], shutdown: GroupShutdown? = nil,
                    group: any EventLoopGroup, logger: Logger) async throws {
        // A peer that closes while bytes are on their way to it must end that connection
        // (EPIPE), not the process: splice(2) and libssh write to sockets without MSG_NOSIGNAL.
        // Here, so that `run` and the standalone `ssh proxy` are both covered.
        signal(SIGPIPE, SIG_IGN)
        let serviceGroup = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        shutdown?.attach(serviceGroup)
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
