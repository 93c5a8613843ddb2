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
        // The helper round trip blocks briefly: never on a splice loop.
        let connector = NIOThreadPool(numberOfThreads: 1)
        connector.start()
        let splice = SpliceRelay(threads: SpliceRelay.defaultThreads, fallback: group, logger: logger)

        let listener = try helper.bindUnixListener(ListenerName.audit)  // already listening
        let connections = AuditConnection(
            helper: helper, connector: connector, splice: splice, group: group, pipeline: pipeline, containers: containers, policy: policy, logger: logger)
        splice.accept(on: listener) { connections.start($0) }
        let helper = self.helper
        StatusBoard.shared.facts("audit") { ["open_connections": .count(AuditConnection.open.load(ordering: .relaxed)), "queue_depth": .count(pipeline.depth)] }
        StatusBoard.shared.probe("audit") { AuditConnection.probeUpstream(helper: helper) }
        await serveUntilShutdown("audit", listening: [
            "listen": "\(config.listen)", "upstream": "\(config.upstream)", "log_file": "\(config.logFile)",
            "rules": .stringConvertible(ruleSet.rules.count), "disabled_rules": "\(config.disabledRules.joined(separator: ","))",
            "api_filter": "\(policy?.summary ?? "none")", "baseline_fingerprints": .stringConvertible(baseline.count), "queue_full": "\(config.queueFull.rawValue)",
        ]) {
            splice.stopAccepting()
            close(listener)
            try? await connector.shutdownGracefully()
            return nil
        }
    }
}

/// Joins each client connection to a new upstream connection, with the taps.
struct AuditConnection: Sendable {
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

    let helper: HelperClient
    let connector: NIOThreadPool
    let splice: SpliceRelay
    let group: any EventLoopGroup
    let pipeline: AuditPipeline
    let containers: ContainerDirectory
    let policy: APIPolicy?
    let logger: Logger

    /// Runs on the splice loop that accepted `client`; owns it from here on. The
    /// upstream is connected by the helper on the connector thread, then the
    /// connection is spliced with its taps.
    func start(_ client: Int32) {
        let started = ContinuousClock.now
        let (logger, connection) = ConnectionID.tagged(logger)
        connector.submit { [self] _ in
            let upstream: Int32
            do {
                upstream = try helper.connectUpstream(ListenerName.audit)
            } catch {
                logger.warning("upstream unavailable", metadata: ["error": "\(error)"])
                AuditMetrics.relay.connections("upstream_unavailable").increment()
                Self.reportUpstream(error)
                let message = (error as? Refusal).map { "bulkhead audit: \($0.message)" } ?? "bulkhead audit: the privileged helper is unavailable"
                HTTPErrorResponder.respond(on: client, status: .badGateway, message: message, group: group)
                return
            }
            Self.reportUpstream(nil)
            AuditMetrics.relay.connections("relayed").increment()
            AuditMetrics.relay.active.increment()
            Self.open.add(1, ordering: .relaxed)
            let exchanges = ExchangeLog()
            let gate = policy.map { APIRefusal(policy: $0, pipeline: pipeline, connection: connection, logger: logger) }
            let taps = Relay.Taps(
                request: RequestTap(exchanges: exchanges, gate: gate),
                response: ResponseTap(exchanges: exchanges, pipeline: pipeline, containers: containers, connection: connection))
            splice.start(client: client, upstream: upstream, taps: taps) { totals in
                Self.open.subtract(1, ordering: .relaxed)
                AuditMetrics.relay.active.decrement()
                AuditMetrics.relay.relayed(toDaemon: totals.fromClient, toClient: totals.toClient)
                logger.info("connection closed", metadata: totals.metadata(since: started))
            }
        }
    }
}
