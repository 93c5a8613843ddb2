import IPC

/// One table as `iptables-save -t TABLE` printed it: every chain and its rule lines.
struct IptablesSnapshot: Equatable {
    var chains: [String: [String]] = [:]

    init(_ text: String) {
        for raw in text.split(separator: "\n") {
            let line = String(raw)
            if line.hasPrefix(":") {
                let name = String(line.dropFirst().prefix { $0 != " " })
                if chains[name] == nil { chains[name] = [] }
            } else if line.hasPrefix("-A ") {
                let name = String(line.dropFirst(3).prefix { $0 != " " })
                chains[name, default: []].append(line)
            }
        }
    }

    init(chains: [String: [String]]) { self.chains = chains }

    /// Splits a whole `iptables-save` into the owned tables (absent ones are empty).
    static func tables(_ text: String) -> [NetfilterLayout.Table: IptablesSnapshot] {
        var result: [NetfilterLayout.Table: IptablesSnapshot] = [:]
        for table in NetfilterLayout.Table.allCases { result[table] = self.table(table.rawValue, in: text) }
        return result
    }

    /// Table `name` of a whole `iptables-save` or `ip6tables-save` (empty when absent).
    static func table(_ name: String, in text: String) -> IptablesSnapshot {
        var section: [Substring] = []
        var inside = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("*") { inside = line.dropFirst() == name; continue }
            if inside { section.append(line) }
        }
        return IptablesSnapshot(section.joined(separator: "\n"))
    }

    func exists(_ chain: String) -> Bool { chains[chain] != nil }
    func lines(_ chain: String) -> [String] { chains[chain] ?? [] }

    /// How many rules of `chain` jump straight to `target`.
    func jumps(in chain: String, to target: String) -> Int {
        let line = NetfilterLayout.jump(from: chain, to: target)
        return lines(chain).filter { $0 == line }.count
    }
}

extension IptablesSnapshot {
    /// The table after `lines` (restore syntax) were applied to it: the helper's view
    /// between full reads, so an incremental commit costs only what it changes.
    func applying(_ lines: [String]) -> IptablesSnapshot {
        var next = self
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            if line.hasPrefix(":") {
                next.chains[String(parts[0].dropFirst())] = []
                continue
            }
            guard parts.count >= 2 else { continue }
            let chain = parts[1], rest = parts.count > 2 ? parts[2] : ""
            switch parts[0] {
            case "-A": next.chains[chain, default: []].append(line)
            case "-F": next.chains[chain] = []
            case "-X": next.chains[chain] = nil
            case "-D":
                let target = "-A \(chain) \(rest)"
                if let i = next.chains[chain]?.firstIndex(of: target) { next.chains[chain]!.remove(at: i) }
            case "-I":
                // "-I CHAIN 1 RULE" inserts first.
                let rule = rest.split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
                next.chains[chain, default: []].insert("-A \(chain) \(rule)", at: 0)
            default: break
            }
        }
        return next
    }
}
