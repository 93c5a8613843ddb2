import Config
import IPC
import Logging

/// The helper's netfilter intents: a bounded staging area per agent session, and
/// commits applied through the executor, table by table, with the earlier tables
/// rolled back if a later one fails, so a refusal never leaves half a change.
final class NetfilterState {
    static let maxStagedContainers = 20_000
    static let maxStagedRules = 200_000

    private let executor: NetfilterExecutor
    private let settings: NetwatchSection
    /// `netwatch.dnat_allowed_ports`, parsed once (nil: any port).
    private let dnatAllowance: [PortRange]?
    private let logger: Logger
    private var staged: [ContainerKey: [ContainerRule]] = [:]
    private var stagedRules = 0
    /// The tables as the last successful commit left them. Incremental commits plan
    /// against it; a full commit (`replaceAll`, sent periodically by the agent) always
    /// reads the tables again, which repairs anything changed behind the helper's back.
    private var cache: [NetfilterLayout.Table: IptablesSnapshot]?

    init(executor: NetfilterExecutor, settings: NetwatchSection, logger: Logger) {
        self.executor = executor; self.settings = settings; self.logger = logger
        dnatAllowance = settings.dnatAllowedPorts
    }

    /// A new agent session starts with nothing staged.
    func resetSession() { staged = [:]; stagedRules = 0 }

    func stage(_ sets: [ContainerRuleSet]) throws(Refusal) {
        for set in sets {
            for rule in set.rules {
                if case .mark(_, _, _, let mark) = rule, mark != settings.publishedPortMark {
                    discard()
                    throw Refusal(.policyRefused, "container \(set.key): mark \(mark) is not netwatch.iptables_mangle_mark_published_ports (\(settings.publishedPortMark.map { "\($0)" } ?? "disabled")); the staged batch is discarded")
                }
                if let refused = disallowedDNAT(rule) {
                    discard()
                    throw Refusal(.policyRefused, "container \(set.key): \(refused) is not in netwatch.dnat_allowed_ports [\(settings.dnatAllowedPorts?.map(\.text).joined(separator: ", ") ?? "")]; the staged batch is discarded")
                }
            }
            stagedRules += set.rules.count - (staged[set.key]?.count ?? 0)
            staged[set.key] = set.rules
        }
        if staged.count > Self.maxStagedContainers || stagedRules > Self.maxStagedRules {
            discard()
            throw Refusal(.oversized, "more than \(Self.maxStagedContainers) containers or \(Self.maxStagedRules) rules staged; the staged batch is discarded")
        }
    }

    /// Applies the staged batch. Returns a one-line summary for the agent's log.
    func commit(_ mode: NetfilterCommitMode) throws(Refusal) -> String {
        let sets = staged
        discard()
        let fresh = mode == .replaceAll || cache == nil
        let snapshots = try fresh ? snapshot() : cache!
        let plan = NetfilterPlanner.plan(sets: sets, replaceAll: mode == .replaceAll, dnatInInterface: settings.dnatInInterface, snapshots: snapshots)
        try apply(plan, snapshots: snapshots)
        return "written=\(plan.written) removed=\(plan.removed) unchanged=\(plan.unchanged) repaired=\(plan.repaired) read_tables=\(fresh)"
    }

    /// Makes the masquerade chain hold exactly `lines`.
    func applyStatic(_ parent: NetfilterLayout.Parent, lines: [String]) throws(Refusal) {
        let snapshots = try snapshot()
        let plan = NetfilterPlanner.planStatic(parent, lines: lines, snapshot: snapshots[parent.table] ?? IptablesSnapshot(chains: [:]))
        try apply(plan, snapshots: snapshots)
    }

    /// Removes every owned chain and the jumps into them (helper shutdown).
    func removeAll() {
        cache = nil
        guard let snapshots = try? snapshot() else { return }
        for table in NetfilterLayout.Table.allCases {
            guard let snap = snapshots[table] else { continue }
            let removal = NetfilterPlanner.removal(table, snapshot: snap)
            for lines in [removal.main, removal.cleanup] where !lines.isEmpty {
                if let result = try? executor.run(.restore(input: NetfilterPlan.transaction(table, lines))), !result.succeeded {
                    logger.error("cannot remove owned chains", metadata: ["table": "\(table.rawValue)", "output": "\(result.output)"])
                }
            }
        }
        logger.notice("owned chains removed")
    }

    private func discard() { staged = [:]; stagedRules = 0 }

    /// The port a DNAT rule (or the FORWARD accept that goes with it) would open
    /// when the allow-list does not cover it; nil when it may, or the rule is no DNAT.
    private func disallowedDNAT(_ rule: ContainerRule) -> String? {
        guard let allowance = dnatAllowance else { return nil }
        switch rule {
        case .dnat(let p, let port, _, _): return allowance.allows(port, p) ? nil : "DNAT port \(port)/\(p)"
        case .forward(let p, _, let port): return allowance.allows(port, p) ? nil : "FORWARD accept of port \(port)/\(p)"
        case .mark: return nil
        }
    }

    private func snapshot() throws(Refusal) -> [NetfilterLayout.Table: IptablesSnapshot] {
        let result = try run(.save)
        guard result.succeeded else { throw Refusal(.systemError, "iptables-save failed: \(result.output.prefix(500))") }
        return IptablesSnapshot.tables(result.output)
    }

    private func apply(_ plan: NetfilterPlan, snapshots: [NetfilterLayout.Table: IptablesSnapshot]) throws(Refusal) {
        cache = nil  // unknown until this commit has fully succeeded
        var applied: [NetfilterLayout.Table] = []
        for table in NetfilterLayout.Table.allCases {
            guard let lines = plan.main[table], !lines.isEmpty else { continue }
            let result = try run(.restore(input: NetfilterPlan.transaction(table, lines)))
            guard result.succeeded else {
                for done in applied.reversed() {
                    let undo = NetfilterPlanner.rollback(plan.main[done] ?? [], inserted: plan.insertedHooks[done] ?? [], snapshot: snapshots[done]!)
                    let r = try? executor.run(.restore(input: NetfilterPlan.transaction(done, undo)))
                    if r?.succeeded != true { logger.error("rollback failed", metadata: ["table": "\(done.rawValue)", "output": "\(r?.output ?? "no executor")"]) }
                }
                throw Refusal(.systemError, "iptables-restore refused the \(table.rawValue) table; nothing was changed: \(result.output.trimmingCharacters(in: .whitespacesAndNewlines).prefix(600))")
            }
            applied.append(table)
        }
        for table in NetfilterLayout.Table.allCases {
            guard let lines = plan.cleanup[table], !lines.isEmpty else { continue }
            let result = try run(.restore(input: NetfilterPlan.transaction(table, lines)))
            // Only empty, unreferenced chains are left if this fails; the next full commit retries.
            if !result.succeeded {
                logger.warning("cannot delete emptied chains yet", metadata: ["table": "\(table.rawValue)", "output": "\(result.output)"])
                return
            }
        }
        var next = snapshots
        for table in NetfilterLayout.Table.allCases {
            next[table] = (snapshots[table] ?? IptablesSnapshot(chains: [:])).applying((plan.main[table] ?? []) + (plan.cleanup[table] ?? []))
        }
        cache = next
    }

    private func run(_ command: NetfilterExecutor.Command) throws(Refusal) -> NetfilterExecutor.Result {
        do {
            return try executor.run(command)
        } catch {
            throw Refusal(.systemError, "the netfilter executor is gone: \(error)")
        }
    }
}
