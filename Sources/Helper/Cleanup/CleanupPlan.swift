import Config
import IPC

/// What `cleanup` found of Bulkhead's, as steps in a safe order: i2p links before
/// the i2p drop rules (a container is cut off, never let out), then netwatch's
/// chains, policy routing, and the sockets. Each step removes the things it names.
struct CleanupPlan {
    enum Action {
        case executor(NetfilterExecutor.Command)
        case unlink(path: String)
    }

    struct Step {
        var removes: [String]
        var action: Action
    }

    private(set) var steps: [Step] = []
    /// Things left alone on purpose, with why (printed, never acted on).
    private(set) var notes: [String] = []

    var count: Int { steps.reduce(0) { $0 + $1.removes.count } }

    /// Reads the state through `executor` (nothing is changed).
    init(config: BulkheadConfig, executor: NetfilterExecutor) throws(Refusal) {
        for key in try I2PLinkApplier(executor: executor).existingKeys().sorted() {
            let name = I2PLayout.hostInterface(key)
            steps.append(Step(removes: ["link \(name)"], action: .executor(.ip(["link", "del", name]))))
        }
        let v4 = try Self.save(.save, "iptables-save", executor), v6 = try Self.save(.save6, "ip6tables-save", executor)
        for (family, chains, saved, restore) in [("ipv4", I2PRuleRenderer.v4, v4, { NetfilterExecutor.Command.restore(input: $0) }),
                                                 ("ipv6", I2PRuleRenderer.v6, v6, { NetfilterExecutor.Command.restore6(input: $0) })] {
            guard let input = I2PRuleRenderer.removal(chains, saved: saved).input else { continue }
            steps.append(Step(removes: Self.describe(family, input), action: .executor(restore(input))))
        }
        // Jumps and rules first, in every table; the chains once nothing refers to them.
        let removals = NetfilterLayout.Table.allCases.map { ($0, NetfilterPlanner.removal($0, snapshot: IptablesSnapshot.table($0.rawValue, in: v4))) }
        for lines in [removals.map { ($0.0, $0.1.main) }, removals.map { ($0.0, $0.1.cleanup) }] {
            for (table, body) in lines where !body.isEmpty {
                let input = NetfilterPlan.transaction(table, body)
                steps.append(Step(removes: Self.describe("ipv4", input), action: .executor(.restore(input: input))))
            }
        }
        if let policy = config.netwatch?.policyRouting {
            for (what, command) in PolicyRoutingApplier.inPlace(policy, executor: executor) {
                steps.append(Step(removes: [what], action: .executor(command)))
            }
            if !policy.rpFilter.isEmpty {
                notes.append("rp_filter of \(policy.rpFilter.keys.sorted().joined(separator: ", ")) is left as it is: only the helper that changed it knew the value before")
            }
        }
        for path in Self.socketPaths(config) {
            switch StaleSocket.probe(path) {
            case .stale: steps.append(Step(removes: ["socket \(path)"], action: .unlink(path: path)))
            case .live: notes.append("\(path) is left: something listens on it")
            case .notASocket: notes.append("\(path) is left: it is not a socket")
            case .unprobeable(let e): notes.append("\(path) is left: cannot probe it (errno \(e))")
            case .absent: break
            }
        }
    }

    /// The Unix sockets the helper binds for the enabled sections (a disabled router's
    /// default is Docker's own socket: never touched).
    static func socketPaths(_ config: BulkheadConfig) -> [String] {
        var paths = [config.enabledRouter?.listen, config.enabledAudit?.listen, config.enabledI2P?.pluginSocket].compactMap { $0 }
        paths += config.enabledSSHRemotes.map(\.localSocket)
        paths += config.listeners.values.compactMap(\.unix)
        return paths
    }

    /// "jump ipv4 filter: FORWARD -i bhi+ -j BULKHEAD-I2P-FWD" for each deleted rule,
    /// "chain ipv4 filter BULKHEAD-I2P-FWD" for each deleted chain, of a restore input.
    static func describe(_ family: String, _ input: String) -> [String] {
        var table = "", out: [String] = []
        for line in input.split(separator: "\n") {
            if line.hasPrefix("*") { table = String(line.dropFirst()) }
            else if line.hasPrefix("-D ") { out.append("jump \(family) \(table): \(line.dropFirst(3))") }
            else if line.hasPrefix("-X ") { out.append("chain \(family) \(table) \(line.dropFirst(3))") }
        }
        return out
    }

    private static func save(_ command: NetfilterExecutor.Command, _ program: String, _ executor: NetfilterExecutor) throws(Refusal) -> String {
        let result: NetfilterExecutor.Result
        do { result = try executor.run(command) } catch { throw Refusal(.systemError, "the netfilter executor is gone: \(error)") }
        guard result.succeeded else { throw Refusal(.systemError, "\(program) failed: \(result.output.prefix(400))") }
        return result.output
    }
}
