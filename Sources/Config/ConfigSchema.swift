import Yams

/// The set of keys each section accepts, derived from the config types' coding keys.
enum ConfigSchema {
    static let topLevelKeys = Set(BulkheadConfig.CodingKeys.allCases.map(\.rawValue))

    /// Each top-level section and the keys it accepts.
    static let sections: [(String, [String])] = [
        ("helper", HelperSection.CodingKeys.allCases.map(\.rawValue)),
        ("agent", AgentSection.CodingKeys.allCases.map(\.rawValue)),
        ("router", RouterSection.CodingKeys.allCases.map(\.rawValue)),
        ("audit", AuditSection.CodingKeys.allCases.map(\.rawValue)),
        ("ssh", SSHSection.CodingKeys.allCases.map(\.rawValue)),
        ("netwatch", NetwatchSection.CodingKeys.allCases.map(\.rawValue)),
        ("i2p", I2PSection.CodingKeys.allCases.map(\.rawValue)),
        ("metrics", MetricsSection.CodingKeys.allCases.map(\.rawValue)),
    ]

    static func checkKnownKeys(_ root: Node) throws(ConfigError) {
        try check(root, allowed: BulkheadConfig.CodingKeys.allCases.map(\.rawValue), at: "")
        for (name, keys) in sections {
            if let section = root[name] { try check(section, allowed: keys, at: name + ".") }
        }
        if let remotes = root["ssh"]?["remotes"] {
            guard let list = remotes.sequence else { throw ConfigError("ssh.remotes must be a list of remotes") }
            for (index, remote) in list.enumerated() {
                try check(remote, allowed: SSHRemote.CodingKeys.allCases.map(\.rawValue), at: "ssh.remotes[\(index)].")
            }
        }
        if let policy = root["netwatch"]?["policy_routing"] {
            try check(policy, allowed: PolicyRouting.CodingKeys.allCases.map(\.rawValue), at: "netwatch.policy_routing.")
            let lists: [(String, [String])] = [
                ("rules", PolicyRouting.Rule.CodingKeys.allCases.map(\.rawValue)),
                ("routes", PolicyRouting.Route.CodingKeys.allCases.map(\.rawValue)),
                ("masquerade", PolicyRouting.Masquerade.CodingKeys.allCases.map(\.rawValue)),
            ]
            for (name, keys) in lists {
                guard let list = policy[name] else { continue }
                guard let items = list.sequence else { throw ConfigError("netwatch.policy_routing.\(name) must be a list") }
                for (i, item) in items.enumerated() { try check(item, allowed: keys, at: "netwatch.policy_routing.\(name)[\(i)].") }
            }
        }
        if let listeners = root["listeners"]?.mapping {
            for (name, spec) in listeners {
                try check(spec, allowed: ListenerSpec.CodingKeys.allCases.map(\.rawValue), at: "listeners.\(name.string ?? "?").")
            }
        }
    }

    private static func check(_ node: Node, allowed: [String], at prefix: String) throws(ConfigError) {
        guard let mapping = node.mapping else {
            if prefix.isEmpty { throw ConfigError("the top level must be a mapping") }
            throw ConfigError("\(prefix.dropLast()) must be a mapping of keys")
        }
        for key in mapping.keys {
            let name = key.string ?? "\(key)"
            guard allowed.contains(name) else {
                throw ConfigError("unknown key \(prefix)\(name) (known here: \(allowed.sorted().joined(separator: ", ")))")
            }
        }
    }
}
