import Config
import IPC
import Logging

/// `policyRoutingApply`: what the original daemon's scripts did by hand, declared in
/// the helper's own config (the agent cannot name a gateway or a table), applied
/// idempotently, and undone when the helper stops.
final class PolicyRoutingApplier {
    private let policy: PolicyRouting
    private let executor: NetfilterExecutor
    private let netfilter: NetfilterState
    private let logger: Logger
    /// rp_filter values found before the first change, restored at shutdown.
    private var previousRPFilter: [String: String] = [:]
    private var applied = false

    init(policy: PolicyRouting, executor: NetfilterExecutor, netfilter: NetfilterState, logger: Logger) {
        self.policy = policy; self.executor = executor; self.netfilter = netfilter; self.logger = logger
    }

    func apply() throws(Refusal) -> String {
        for (iface, value) in policy.rpFilter.sorted(by: { $0.key < $1.key }) {
            let path = "/proc/sys/net/ipv4/conf/\(iface)/rp_filter"
            if previousRPFilter[iface] == nil, let old = try? executor.run(.ip(["-4", "netconf", "show", "dev", iface])), old.succeeded {
                // "ipv4 dev eth0 forwarding on rp_filter strict ..." → remember strict/loose/off as 1/2/0.
                let words = old.output.split(separator: " ")
                if let i = words.firstIndex(of: "rp_filter"), i + 1 < words.count {
                    previousRPFilter[iface] = ["off": "0", "strict": "1", "loose": "2"][String(words[i + 1])]
                }
            }
            try check(.sysctl(path: path, value: "\(value)"), "rp_filter of \(iface)")
        }
        for route in policy.routes {
            var args = ["-4", "route", "replace", "default", "via", route.gateway.text, "table", "\(route.table)"]
            if let dev = route.dev { args += ["dev", dev] }
            try check(.ip(args), "default route of table \(route.table)")
        }
        for rule in policy.rules {
            let selector = ["fwmark", "\(rule.fwmark)", "table", "\(rule.table)"]
            let shown = try run(.ip(["-4", "rule", "show"] + selector))
            let count = shown.output.split(separator: "\n").count
            if count == 0 { try check(.ip(["-4", "rule", "add"] + selector), "rule fwmark \(rule.fwmark)") }
            for _ in 1..<max(1, count) { try check(.ip(["-4", "rule", "del"] + selector), "duplicate rule fwmark \(rule.fwmark)") }
        }
        let masquerade = policy.masquerade.map { "-A \(NetfilterLayout.masquerade.chain) -s \($0.subnet) -o \($0.outInterface) -j MASQUERADE" }
        if !masquerade.isEmpty { try netfilter.applyStatic(NetfilterLayout.masquerade, lines: masquerade) }
        applied = true
        return "rules=\(policy.rules.count) routes=\(policy.routes.count) masquerade=\(masquerade.count) rp_filter=\(policy.rpFilter.count)"
    }

    /// Undoes what `apply` did (the masquerade chain goes with the other owned chains).
    func undo() {
        guard applied else { return }
        for (_, command) in Self.inPlace(policy, executor: executor) { _ = try? executor.run(command) }
        for (iface, value) in previousRPFilter { _ = try? executor.run(.sysctl(path: "/proc/sys/net/ipv4/conf/\(iface)/rp_filter", value: value)) }
        logger.notice("policy routing removed")
    }

    /// The rules and routes of `policy` that exist now, each with the command that
    /// removes it (`undo`, and `cleanup` after a helper that could not undo).
    /// rp_filter is not among them: only the helper that changed it knew the old value.
    static func inPlace(_ policy: PolicyRouting, executor: NetfilterExecutor) -> [(String, NetfilterExecutor.Command)] {
        var found: [(String, NetfilterExecutor.Command)] = []
        for rule in policy.rules {
            let selector = ["fwmark", "\(rule.fwmark)", "table", "\(rule.table)"]
            guard let shown = try? executor.run(.ip(["-4", "rule", "show"] + selector)), shown.succeeded else { continue }
            for _ in shown.output.split(separator: "\n") {
                found.append(("ip rule fwmark \(rule.fwmark) table \(rule.table)", .ip(["-4", "rule", "del"] + selector)))
            }
        }
        for route in policy.routes {
            guard let shown = try? executor.run(.ip(["-4", "route", "show", "default", "table", "\(route.table)"])), shown.succeeded,
                  !shown.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { continue }
            found.append(("default route of table \(route.table)", .ip(["-4", "route", "del", "default", "table", "\(route.table)"])))
        }
        return found
    }

    private func check(_ command: NetfilterExecutor.Command, _ what: String) throws(Refusal) {
        let result = try run(command)
        guard result.succeeded else { throw Refusal(.systemError, "\(what): \(result.output.trimmingCharacters(in: .whitespacesAndNewlines).prefix(400))") }
    }

    private func run(_ command: NetfilterExecutor.Command) throws(Refusal) -> NetfilterExecutor.Result {
        do { return try executor.run(command) } catch { throw Refusal(.systemError, "the netfilter executor is gone: \(error)") }
    }
}
