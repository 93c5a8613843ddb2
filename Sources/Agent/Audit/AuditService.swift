import Config
import IPC
import Logging
import NIOCore
import NIOPosix
import LogSetup
import SecretScan
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The audit proxy: a Docker socket (bound by the helper at `audit.listen`) whose
/// every connection is relayed byte for byte to `audit.upstream` (connected by the
/// helper), while logs/attach/exec output is scanned for secrets on the side.
struct AuditService: ListeningService {
    let config: AuditSection
    let context: ServiceContext

    func run() async throws {
        let ruleSet = try RuleSet(rules: AuditRuleSelection.rules(
            rulesFile: config.rulesFile, disabled: config.disabledRules, setting: "audit.disabled_rules"))
        let baseline = try config.baseline.isEmpty ? [] : ScanBaseline(path: config.baseline).fingerprints
        let pipeline = AuditPipeline(
            ruleSet: ruleSet, log: try AuditLogFile(path: config.logFile, logger: logger), capacity: config.queueSize,
            policy: config.queueFull, baseline: baseline, logger: logger)
        AuditMetrics.prepare()
        let containers = ContainerDirectory()
        let policy = try APIPolicy(config)
        // The helper round trip blocks briefly: never on an event loop.
        let connector = NIOThreadPool(numberOfThreads: 1)
        connector.start()

        let listener = try helper.bindUnixListener(ListenerName.audit)
        let helper = self.helper, logger = self.logger
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { client in
                AuditConnection.set(
                    up: client, connector: connector, helper: helper, pipeline: pipeline, containers: containers, policy: policy, logger: logger)
            }
            .withBoundSocket(listener).get()
        StatusBoard.shared.facts("audit") { ["open_connections": .count(AuditConnection.open.load(ordering: .relaxed)), "queue_depth": .count(pipeline.depth)] }
        StatusBoard.shared.probe("audit") { AuditConnection.probeUpstream(helper: helper) }
        await serveUntilShutdown("audit", listening: [
            "listen": "\(config.listen)", "upstream": "\(config.upstream)", "log_file": "\(config.logFile)",
            "rules": .stringConvertible(ruleSet.rules.count), "disabled_rules": "\(config.disabledRules.joined(separator: ","))",
            "api_filter": "\(policy?.summary ?? "none")", "baseline_fingerprints": .stringConvertible(baseline.count), "queue_full": "\(config.queueFull.rawValue)",
        ]) {
            try? await server.close()
            try? await connector.shutdownGracefully()
            return nil
        }
    }
}

/// Joins one client connection to a new upstream connection, with the taps.
enum AuditConnection {
    static let open = Atomic<Int>(0)

    /// Whether the upstream answers a connect, for /healthz; skipped while traffic
    /// reported on it in the last few seconds.
    static func probeUpstream(helper: HelperClient) {
        if let age = StatusBoard.shared.age("audit", "upstream"), age < 5 { return }
        do {
            close(try helper.connectUpstream(ListenerName.audit))
            reportUpstream(nil)
        } catch {
            reportUpstream(error)
        }
    }

    static func reportUpstream(_ error: (any Error)?) {
        if let error {
            StatusBoard.shared.set("audit", "upstream", healthy: false, state: "unreachable", detail: "\(error)")
        } else {
            StatusBoard.shared.set("audit", "upstream", healthy: true, state: "reachable")
        }
    }

    static func set(
        up client: any Channel, connector: NIOThreadPool, helper: HelperClient, pipeline: AuditPipeline,
        containers: ContainerDirectory, policy: APIPolicy?, logger: Logger
    ) -> EventLoopFuture<Void> {
        let loop = client.eventLoop
        let started = ContinuousClock.now
        let (logger, connection) = ConnectionID.tagged(logger)
        return connector.runIfActive(eventLoop: loop) { try helper.connectUpstream(ListenerName.audit) }
            .flatMap { upstreamFD in
                reportUpstream(nil)
                AuditMetrics.relay.connections("relayed").increment()
                AuditMetrics.relay.active.increment()
                open.add(1, ordering: .relaxed)
                let exchanges = ExchangeLog()
                let counter = RelayCounter { c in
                    open.subtract(1, ordering: .relaxed)
                    AuditMetrics.relay.active.decrement()
                    AuditMetrics.relay.relayed(toDaemon: c.fromClient, toClient: c.toClient)
                    logger.info("connection closed", metadata: Relay.Totals(fromClient: c.fromClient, toClient: c.toClient).metadata(since: started))
                }
                let clientRelay = RelayHandler(counter: counter, isClientSide: true)
                let upstreamRelay = RelayHandler(counter: counter, isClientSide: false)
                RelayHandler.join(clientRelay, upstreamRelay)
                let upstreamHandlers = NIOLoopBound(
                    [ResponseTap(exchanges: exchanges, pipeline: pipeline, containers: containers, connection: connection), upstreamRelay] as [any ChannelHandler],
                    eventLoop: loop)
                let gate = policy.map { APIRefusal(policy: $0, pipeline: pipeline, connection: connection, logger: logger) }
                let clientHandlers = NIOLoopBound(
                    [RequestTap(exchanges: exchanges, gate: gate), clientRelay] as [any ChannelHandler], eventLoop: loop)
                return Relay.bootstrap(on: loop, handlers: upstreamHandlers)
                    .withConnectedSocket(upstreamFD)
                    .flatMapThrowing { _ in try client.pipeline.syncOperations.addHandlers(clientHandlers.value) }
            }
            .flatMapError { error in
                logger.warning("upstream unavailable", metadata: ["error": "\(error)"])
                AuditMetrics.relay.connections("upstream_unavailable").increment()
                reportUpstream(error)
                let message = error is Refusal ? "bulkhead audit: \((error as! Refusal).message)" : "bulkhead audit: the privileged helper is unavailable"
                return client.writeAndFlush(client.allocator.buffer(string: HTTPErrorResponder.badGateway(message))).flatMap { client.close() }
            }
    }
}
