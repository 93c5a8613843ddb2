import SecretScan

/// The rules the audit engine runs, for the service and for `audit scan` alike: the
/// built-in ones, plus a rules file, less the rules turned off by id.
enum AuditRuleSelection {
    struct UnknownRule: Error, CustomStringConvertible {
        var ids: [String]
        var setting: String
        var description: String {
            "\(setting): no rule named \(ids.joined(separator: ", ")) (`bulkhead-agent audit scan --list-rules` lists them)"
        }
    }

    static func rules(builtIn: Bool = true, rulesFile: String?, disabled: [String], setting: String) throws -> [SecretRule] {
        var all = builtIn ? BuiltInRules.all : []
        if let rulesFile, !rulesFile.isEmpty { all += try RuleFile.load(rulesFile) }
        let unknown = Set(disabled).subtracting(all.map(\.id))
        guard unknown.isEmpty else { throw UnknownRule(ids: unknown.sorted(), setting: setting) }
        return all.filter { !disabled.contains($0.id) }
    }
}
