/// The chains the helper owns and how typed rules become their lines (shared: the
/// helper renders with it, `netwatch plan` shows what the helper would write). Lines are
/// written exactly as `iptables-save` prints them, so the current state can be
/// compared with the desired one line by line.
///
///   nat     PREROUTING  → BULKHEAD-DNAT → BHN-<key> (one per container)
///   filter  DOCKER-USER (or FORWARD) → BULKHEAD-FWD → BHF-<key>
///   mangle  PREROUTING  → BULKHEAD-MARK → BHM-<key>
///   nat     POSTROUTING → BULKHEAD-MASQ (policy routing's masquerade)
public enum NetfilterLayout {
    public enum Table: String, CaseIterable, Sendable {
        // Commit order: a failure in a later table rolls back the earlier ones.
        case mangle, filter, nat
    }

    public struct Parent: Sendable {
        public var table: Table
        public var chain: String
        /// Built-in (or Docker's) chains that jump to it, first one present wins.
        public var hooks: [String]
        /// Prefix of the per-container chains it dispatches to (nil: none).
        public var childPrefix: String?
    }

    public static let dnat = Parent(table: .nat, chain: "BULKHEAD-DNAT", hooks: ["PREROUTING"], childPrefix: "BHN-")
    public static let forward = Parent(table: .filter, chain: "BULKHEAD-FWD", hooks: ["DOCKER-USER", "FORWARD"], childPrefix: "BHF-")
    public static let mark = Parent(table: .mangle, chain: "BULKHEAD-MARK", hooks: ["PREROUTING"], childPrefix: "BHM-")
    public static let masquerade = Parent(table: .nat, chain: "BULKHEAD-MASQ", hooks: ["POSTROUTING"], childPrefix: nil)
    public static let parents = [dnat, forward, mark, masquerade]
    public static let containerParents = [dnat, forward, mark]

    public static func isOwned(_ chain: String) -> Bool {
        parents.contains { $0.chain == chain } || containerParents.contains { chain.hasPrefix($0.childPrefix!) && ContainerKey(String(chain.dropFirst(4))) != nil }
    }

    public static func childChain(_ parent: Parent, _ key: ContainerKey) -> String { parent.childPrefix! + key.rawValue }

    public static func jump(from chain: String, to target: String) -> String { "-A \(chain) -j \(target)" }

    /// The lines of each of a container's chains (only kinds it has rules of).
    public static func chains(for set: ContainerRuleSet, dnatInInterface: String) -> [(Parent, [String])] {
        var dnatLines: [String] = [], forwardLines: [String] = [], markLines: [String] = []
        let n = childChain(dnat, set.key), f = childChain(forward, set.key), m = childChain(mark, set.key)
        let inInterface = dnatInInterface.isEmpty ? "" : " -i \(dnatInInterface)"
        for rule in set.rules {
            switch rule {
            case .dnat(let p, let port, let to, let target):
                // Only traffic addressed to the host itself: never other hosts' or containers' traffic passing through.
                dnatLines.append("-A \(n)\(inInterface) -p \(p) -m addrtype --dst-type LOCAL -m \(p) --dport \(port) -j DNAT --to-destination \(to):\(target)")
            case .forward(let p, let to, let port):
                forwardLines.append("-A \(f) -d \(to)/32 -p \(p) -m \(p) --dport \(port) -j ACCEPT")
            case .mark(let p, let from, let port, let value):
                markLines.append("-A \(m) -s \(from)/32 -p \(p) -m \(p) --sport \(port) -j MARK --set-xmark 0x\(String(value, radix: 16))/0xffffffff")
            }
        }
        return [(dnat, dnatLines), (forward, forwardLines), (mark, markLines)].filter { !$0.1.isEmpty }
    }
}
