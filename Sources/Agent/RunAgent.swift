import ArgumentParser
import Config
import Foundation
import Logging
import NIOCore
import NIOPosix
import LogSetup
import ServiceLifecycle

struct RunAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Serve the enabled services (started by bulkhead-helper).")

    @Option(name: .customLong("ipc-fd"), help: ArgumentHelp("The helper's end of the IPC socketpair.", valueName: "fd"))
    var ipcFD: Int32

    func run() async throws {
        if let caps = Self.effectiveCapabilities(), caps != 0 {
            FileHandle.standardError.write(Data("bulkhead-agent: refusing to run with capabilities (CapEff \(String(caps, radix: 16))); start bulkhead-helper instead\n".utf8))
            throw ExitCode(1)
        }
        let helper = HelperClient(fd: ipcFD)
        let config: BulkheadConfig
        do {
            config = try helper.hello()
        } catch {
            FileHandle.standardError.write(Data("bulkhead-agent: no config from the helper: \(error)\n".utf8))
            throw ExitCode(1)
        }
        LoggingSetup.bootstrap(json: config.logFormat == .json, identifier: "bulkhead-agent", level: config.logLevel.rawValue)
        let logger = Logger(label: "agent")

        // SIGHUP (systemctl reload) must not end the agent: only the audit file's reopen
        // uses it, and that service installs its own handler.
        signal(SIGHUP, SIG_IGN)
        let fdLimit = FileDescriptorLimit.raiseToHard()
        // The filter goes on before any service starts, so before any byte from a client,
        // a daemon or an SSH server is read. No process can be started under it: netwatch's
        // scripts are started first.
        let scripts = config.enabledNetwatch.map { NetwatchScripts(settings: $0, logger: Logger(label: "netwatch")) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        do {
            try AgentSandbox.apply(enabled: config.agent.seccomp, signalable: scripts?.pids ?? [], logger: logger)
        } catch {
            logger.critical("cannot install the seccomp filter", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        AgentMetrics.bootstrap()
        func context(_ name: String) -> ServiceContext { ServiceContext(helper: helper, group: group, logger: Logger(label: name)) }
        let shutdown = GroupShutdown()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: HelperLinkService(fd: ipcFD, shutdown: shutdown, logger: logger))
        ]
        if let metrics = config.enabledMetrics {
            services.append(.init(service: ObservabilityService(settings: metrics, context: context("metrics"))))
        }
        if let router = config.enabledRouter {
            services.append(.init(service: RouterService(config: router, context: context("router"))))
        }
        if let audit = config.enabledAudit {
            services.append(.init(service: AuditService(config: audit, context: context("audit"))))
        }
        let remotes = config.enabledSSHRemotes
        if !remotes.isEmpty {
            services.append(.init(service: SSHService(remotes: remotes, helper: helper, group: group, logger: Logger(label: "ssh"))))
        }
        if let netwatch = config.enabledNetwatch, let scripts {
            services.append(.init(service: NetwatchService(settings: netwatch, scripts: scripts, context: context("netwatch"))))
        }
        if let i2p = config.enabledI2P {
            services.append(.init(service: I2PService(settings: i2p, context: context("i2p"))))
        }
        let names = [config.enabledRouter.map { _ in "router" }, config.enabledAudit.map { _ in "audit" }, remotes.isEmpty ? nil : "ssh",
                     config.enabledNetwatch.map { _ in "netwatch" }, config.enabledI2P.map { _ in "i2p" }]
        for name in names.compactMap({ $0 }) + (config.enabledMetrics == nil ? [] : ["metrics"]) { StatusBoard.shared.expect(name) }
        logger.notice("started", metadata: ["version": "\(BulkheadVersion.line)", "uid": .stringConvertible(getuid()), "fd_limit": .stringConvertible(fdLimit), "services": "\(names.compactMap { $0 }.joined(separator: ","))"])
        try await AgentServices.run(services, shutdown: shutdown, group: group, logger: logger)
        logger.notice("stopped")
    }

    static func effectiveCapabilities() -> UInt64? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }) else { return nil }
        return UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16)
    }
}
