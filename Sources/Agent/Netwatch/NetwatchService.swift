import Config
import IPC
import Logging
import NIOCore
import ServiceLifecycle

/// netwatch: keeps the helper's chains equal to what the running containers' labels
/// ask for. The desired state is always derived from the runtime: events only say
/// *when* to look. Events are subscribed to before the first listing, bursts are
/// debounced, and a full pass runs at start, after every reconnect of the events
/// stream, and every verify_interval (which also repairs a flush of the chains).
struct NetwatchService: AgentService {
    let settings: NetwatchSection
    /// Started before the agent's seccomp filter (see NetwatchScripts).
    let scripts: NetwatchScripts
    let context: ServiceContext

    /// More changed containers than this in one debounce window: a full pass is cheaper.
    static let incrementalLimit = 32

    func run() async throws {
        await scripts.finishStartup()
        NetwatchMetrics.prepare()
        if !settings.policyRouting.isEmpty {
            let summary = try helper.applyPolicyRouting()
            logger.notice("policy routing applied", metadata: ["summary": "\(summary)"])
        }
        let helper = self.helper
        let runtime = RuntimeAPI(connect: { try helper.connectUpstream(ListenerName.netwatch) }, group: group, logger: logger)
        do {
            let version = try await runtime.version()
            logger.notice("watching", metadata: [
                "runtime": "\(version)", "network": "\(settings.watchNetwork)",
                "label": "\(settings.watchContainerLabel)=true", "verify_interval": "\(settings.verifyInterval)",
            ])
        } catch {
            // Not fatal: the events loop retries, and its errors say what is wrong.
            logger.error("runtime API unreachable", metadata: ["error": "\(error)"])
        }
        let signal = ReconcileSignal()
        StatusBoard.shared.set("netwatch", "events", healthy: false, state: "connecting")
        StatusBoard.shared.facts("netwatch") {
            StatusBoard.shared.age("netwatch", "sync").map { ["last_pass_seconds_ago": .seconds($0)] } ?? [:]
        }
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await watchEvents(runtime, signal) }
            tasks.addTask { await reconcileLoop(runtime, signal) }
            tasks.addTask {
                try? await gracefulShutdown()
            }
            await tasks.next()
            tasks.cancelAll()
        }
        await scripts.runShutdown()
        logger.notice("stopped")
    }

    /// Follows the runtime's events; reconnects with backoff, and asks for a full
    /// pass after each (re)subscription, since events may have been missed meanwhile.
    private func watchEvents(_ runtime: RuntimeAPI, _ signal: ReconcileSignal) async {
        var delay = Duration.milliseconds(500)
        while !Task.isCancelled {
            do {
                try await runtime.withEvents { stream in
                    signal.requestFull()
                    for try await event in stream {
                        switch event {
                        case .containerChanged(let id, _): signal.containerChanged(id)
                        case .subscribed: StatusBoard.shared.set("netwatch", "events", healthy: true, state: "subscribed")
                        }
                        delay = .milliseconds(500)
                    }
                }
                logger.warning("runtime events stream ended; reconnecting", metadata: ["retry_in": .stringConvertible(delay)])
                StatusBoard.shared.set("netwatch", "events", healthy: false, state: "reconnecting", detail: "the events stream ended")
            } catch {
                logger.warning("runtime events stream failed; reconnecting", metadata: ["error": "\(error)", "retry_in": .stringConvertible(delay)])
                StatusBoard.shared.set("netwatch", "events", healthy: false, state: "reconnecting", detail: "\(error)")
            }
            NetwatchMetrics.eventStreamReconnects.increment()
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(30))
        }
    }

    private func reconcileLoop(_ runtime: RuntimeAPI, _ signal: ReconcileSignal) async {
        let verify = settings.verifyInterval.duration
        let debounce = settings.debounce.duration
        let warmup = ReversePathWarmup(group: group, logger: logger)
        var known = Set<String>()
        var reported = Set<String>()
        // The periodic full pass keeps its own clock: a steady stream of events (each
        // answered by an incremental pass) must not postpone the repair of a flush.
        var nextFull = ContinuousClock.now + verify
        while !Task.isCancelled {
            await signal.wait(timeout: max(.zero, nextFull - ContinuousClock.now))
            try? await Task.sleep(for: debounce)
            if Task.isCancelled { return }
            var (full, ids) = signal.take()
            if ContinuousClock.now >= nextFull { full = true }
            if full { nextFull = ContinuousClock.now + verify }
            let started = ContinuousClock.now
            let pass = full || ids.count > Self.incrementalLimit
            do {
                known = try await reconcile(runtime, full: pass, ids: ids, known: known, reported: &reported, warmup: warmup)
                NetwatchMetrics.syncDuration(pass ? "full" : "changes").record(ContinuousClock.now - started)
                StatusBoard.shared.set("netwatch", "sync", healthy: true, state: "ok", detail: nil)
            } catch {
                NetwatchMetrics.syncFailures.increment()
                StatusBoard.shared.set("netwatch", "sync", healthy: false, state: "failed", detail: "\(error)")
                logger.error("reconcile failed; retrying with a full pass", metadata: ["error": "\(error)"])
                signal.requestFull()
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// One pass. Returns the ids now known to be watched (to warm up only new ones).
    /// `reported`: label problems already logged, so a bad label is reported once, not
    /// on every periodic pass (a full pass forgets the ones that were fixed).
    private func reconcile(
        _ runtime: RuntimeAPI, full: Bool, ids: Set<String>, known: Set<String>, reported: inout Set<String>, warmup: ReversePathWarmup
    ) async throws -> Set<String> {
        var containers: [WatchedContainer] = []
        var known = known
        var gone: [ContainerKey] = []
        if full {
            containers = try await runtime.listContainers(
                network: settings.watchNetwork, label: settings.watchContainerLabel, imageLabels: !settings.trustImageLabels)
        } else {
            for id in ids.sorted() {
                if let c = try await runtime.container(
                    id: id, network: settings.watchNetwork, label: settings.watchContainerLabel, imageLabels: !settings.trustImageLabels) {
                    containers.append(c)
                } else if let key = ContainerKey(containerID: id) {
                    gone.append(key)
                    known.remove(id)
                }
            }
        }
        let desired = DesiredRules.compute(containers, settings: settings)
        for problem in desired.problems where !reported.contains(problem) { logger.warning("label problem", metadata: ["problem": "\(problem)"]) }
        reported = full ? Set(desired.problems) : reported.union(desired.problems)
        let sets = desired.sets + gone.map { ContainerRuleSet(key: $0, rules: []) }
        let summary = try helper.applyNetfilter(sets, mode: full ? .replaceAll : .changes)
        NetwatchMetrics.record(summary: summary, rules: full ? desired.sets.reduce(0) { $0 + $1.rules.count } : nil, containers: full ? containers.count : nil)
        logger.info(full ? "full pass applied" : "changes applied", metadata: [
            "containers": .stringConvertible(containers.count), "removed": .stringConvertible(gone.count),
            "rules": .stringConvertible(desired.sets.reduce(0) { $0 + $1.rules.count }), "helper": "\(summary)",
        ])
        if full { known = known.intersection(containers.map(\.id)) }
        let fresh = containers.filter { !known.contains($0.id) }
        if settings.warmup, !fresh.isEmpty {
            let rules = Dictionary(desired.sets.map { ($0.key, $0.rules) }, uniquingKeysWith: { a, _ in a })
            await warmup.warm(fresh, rules: rules)
        }
        return known.union(containers.map(\.id))
    }
}
