import ArgumentParser
import CFDPass
import CProcess
import Config
import Foundation
import IPC
import Logging
import LogSetup
#if canImport(Glibc)
import Glibc
#endif

struct RunHelper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the helper and the agent it supervises (the default).")

    @OptionGroup var options: ConfigOptions

    @Option(name: .customLong("ipc-fd"), help: ArgumentHelp(
        "Boundary audit mode: serve the IPC on this inherited SOCK_SEQPACKET fd instead of spawning the agent. "
        + "Lets a test play a fully compromised agent against the real, sandboxed helper.",
        valueName: "fd"))
    var ipcFD: Int32?

    func run() throws {
        // Nothing inherited by accident crosses into the sandbox (only stdio and --ipc-fd).
        bh_close_inherited(ipcFD ?? -1)
        let config = try options.load()
        LoggingSetup.bootstrap(json: config.logFormat == .json, identifier: "bulkhead-helper", level: config.logLevel.rawValue)
        let logger = Logger(label: "helper")
        do {
            try start(config, logger: logger)
        } catch let code as ExitCode {
            throw code  // it ran, and has logged why it stopped
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }

    private func start(_ config: BulkheadConfig, logger: Logger) throws {
        guard let helperAccount = Account.named(config.helper.user) else {
            throw ValidationError("helper.user \(config.helper.user) does not exist; `make install` creates it (useradd --system \(config.helper.user))")
        }
        // First, while root and before any child: the notify socket may be root's only.
        let notifier = SystemdNotifier.open(logger: logger)
        let table = try ListenerTable(config: config)
        let document = Array(try JSONEncoder().encode(config))
        // Before any child exists: SIGCHLD from a child that dies early stays pending
        // on the signalfd instead of being lost. Children unblock it for themselves.
        guard let signals = SignalChannel.open() else { throw ValidationError("cannot create the signalfd") }
        // Forked while root, each with only the capabilities it needs (see NetfilterExecutor, ProofInspector).
        // netwatch and i2p share it: one child holds CAP_NET_ADMIN for both.
        var executor: NetfilterExecutor?
        if config.enabledNetwatch != nil || config.enabledI2P != nil {
            guard let account = Account.named(config.helper.netfilterUser) else {
                throw ValidationError("helper.netfilter_user \(config.helper.netfilterUser) does not exist; `make install` creates it (useradd --system \(config.helper.netfilterUser))")
            }
            executor = try NetfilterExecutor.start(as: account, logger: Logger(label: "helper.netfilter"))
        }
        let inspector = try config.enabledRouter.map { _ in try ProofInspector.start(as: helperAccount, logger: Logger(label: "helper.proofs")) }

        let source: HelperLoop.AgentSource
        if let ipcFD {
            var domain: Int32 = 0, type: Int32 = 0
            guard bh_socket_kind(ipcFD, &domain, &type) == 0, domain == AF_UNIX, type == Int32(SOCK_SEQPACKET.rawValue) else {
                throw ValidationError("--ipc-fd \(ipcFD) is not an AF_UNIX SOCK_SEQPACKET socket")
            }
            source = .inherited(PacketChannel(fd: ipcFD))
        } else {
            guard let agentAccount = Account.named(config.agent.user) else {
                throw ValidationError("agent.user \(config.agent.user) does not exist; `make install` creates it (useradd --system \(config.agent.user))")
            }
            let path = try agentBinary(config)
            // Only for an agent it starts: in audit mode the test plays the agent.
            if let audit = config.enabledAudit { try AuditLogDirectory.prepare(audit, agent: agentAccount) }
            source = .spawner(try Spawner.start(.init(agentPath: path, account: agentAccount), logger: Logger(label: "spawner")),
                              backoffMax: config.agent.restartBackoffMax.seconds,
                              binary: AgentBinaryWatch(path: path, interval: config.agent.binaryCheckInterval.seconds))
        }
        // sock_diag tells which socket file a proof connection was accepted on.
        let diag = bh_open_sock_diag()
        guard diag >= 0 else { throw ValidationError("cannot open a NETLINK_SOCK_DIAG socket: errno \(errno)") }

        if let i2p = config.enabledI2P {
            guard let agentAccount = Account.named(config.agent.user) else {
                throw ValidationError("agent.user \(config.agent.user) does not exist; it owns i2p.state_dir")
            }
            try I2PDirectories.prepare(i2p, agent: agentAccount)
        }
        let readiness = ServiceReadiness(config: config, agentUID: Account.named(config.agent.user)?.uid)
        // Built before the sandbox: it looks for the runtime socket (access() is not allowed later).
        let upstreams = UpstreamConnector(config: config)
        // Load the time zone now: syslog() reads /etc/localtime, and openat is not allowed later.
        tzset()
        logger.info("dropping privileges", metadata: ["to": "\(config.helper.user)"])
        try PrivilegeDrop.toHelper(helperAccount)
        try Sandbox.install(tcp: table.hasTCP)
        logger.notice("ready", metadata: [
            "version": "\(BulkheadVersion.line)",
            "uid": .stringConvertible(helperAccount.uid),
            "capabilities": "\(HelperCapabilities.held.map(\.1).joined(separator: ","))",
            "seccomp": "allow-list, default kill-process",
            "listeners": "\(table.entries.keys.map(\.rawValue).sorted().joined(separator: ","))",
        ])

        let binder = ListenerBinder(table: table, logger: Logger(label: "helper.listeners"))
        var netfilter: NetfilterState?, policyRouting: PolicyRoutingApplier?
        if let executor, let netwatch = config.enabledNetwatch {
            let state = NetfilterState(executor: executor, settings: netwatch, logger: Logger(label: "helper.netfilter"))
            netfilter = state
            policyRouting = PolicyRoutingApplier(policy: netwatch.policyRouting, executor: executor, netfilter: state, logger: Logger(label: "helper.netfilter"))
        }
        // Its links and drop rules outlive the helper: containers keep their links while it restarts.
        let i2p = config.enabledI2P.flatMap { settings in executor.map { I2PService(executor: $0, settings: settings, logger: Logger(label: "helper.i2p")) } }
        let handler = RequestHandler(
            binder: binder, connector: DockerSocketConnector(router: config.router, binder: binder, diag: diag, inspector: inspector),
            upstreams: upstreams, configDocument: document,
            netfilter: netfilter, policyRouting: policyRouting, i2p: i2p, logger: Logger(label: "helper.ipc"))
        let code = HelperLoop(handler: handler, binder: binder, signals: signals, source: source,
                              executor: executor, inspector: inspector, notifier: notifier, readiness: readiness, logger: logger).run()
        // Nothing maintains the rules once the helper is gone: take them with it.
        policyRouting?.undo()
        netfilter?.removeAll()
        executor?.stop()
        if code != 0 { throw ExitCode(code) }
    }

    private func agentBinary(_ config: BulkheadConfig) throws -> String {
        var path = config.agent.path
        if path.isEmpty {
            let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            path = (me as NSString).deletingLastPathComponent + "/bulkhead-agent"
        }
        guard access(path, X_OK) == 0 else {
            throw ValidationError("the agent binary \(path) is missing or not executable; set agent.path")
        }
        return path
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the config and print the effective result as JSON.")

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let config = try options.load()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(config), as: UTF8.self))
    }
}
