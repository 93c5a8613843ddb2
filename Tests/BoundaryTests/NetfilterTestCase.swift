import Foundation
import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A helper with netwatch enabled, inside a network namespace of its own, so the
/// tests see exactly the rules it writes and touch no table of the host.
class NetfilterTestCase: HelperInNetnsTestCase {
    /// Extra YAML under `netwatch:` (indented by two spaces).
    var netwatchYAML: String { "  iptables_mangle_mark_published_ports: \"2\"\n" }
    /// The `netwatch.dnat_in_interface` that `netwatchYAML` sets, for `expected`.
    var dnatInInterface: String { "" }

    override var configYAML: String { "router:\n  enabled: false\nnetwatch:\n\(netwatchYAML)" }

    override func tearDown() {
        helper = nil  // the helper stops and removes its chains
        if !netns.isEmpty {
            let left = (try? save()) ?? ""
            XCTAssertFalse(left.contains("BULKHEAD") || left.contains("-A BH") || left.contains(":BH"), "rules left behind:\n\(left)")
        }
        super.tearDown()
    }

    /// iptables-save of the namespace.
    func save() throws -> String { try inNetns("iptables-save") }

    /// The owned chains' rule lines, sorted (what the helper is responsible for).
    func ownedLines() throws -> [String] {
        try save().split(separator: "\n").map(String.init)
            .filter { $0.hasPrefix("-A") && ($0.contains("BULKHEAD") || $0.contains(" BH")) }.sorted()
    }

    func key(_ n: Int) -> ContainerKey { ContainerKey(String(format: "%012x", n))! }
    func ip(_ text: String) -> IPv4Address { IPv4Address(text)! }

    /// A container with one DNAT port (DNAT + FORWARD) and one marked published port.
    func sample(_ n: Int) -> ContainerRuleSet {
        let a = ip("10.9.0.\(n)")
        return ContainerRuleSet(key: key(n), rules: [
            .dnat(.tcp, port: UInt16(18000 + n), to: a, targetPort: 80), .forward(.tcp, to: a, port: 80),
            .mark(.udp, from: a, port: 53, mark: 2),
        ])
    }

    @discardableResult
    func commit(_ sets: [ContainerRuleSet], _ mode: NetfilterCommitMode) throws -> String {
        for batch in ContainerRuleSet.stagePayloads(sets) {
            let (reply, _) = try helper.call(.netfilterStage(sets: batch))
            guard case .ok = reply else { throw HelperTestError.unexpected("stage: \(reply)") }
        }
        let (reply, _) = try helper.call(.netfilterCommit(mode: mode))
        guard case .ok(let payload) = reply else { throw HelperTestError.unexpected("commit: \(reply)") }
        return String(decoding: payload, as: UTF8.self)
    }

    /// The exact owned lines `sets` must produce (hooks included).
    func expected(_ sets: [ContainerRuleSet]) -> [String] {
        var lines = ["-A PREROUTING -j BULKHEAD-DNAT", "-A FORWARD -j BULKHEAD-FWD", "-A PREROUTING -j BULKHEAD-MARK"]
        for set in sets {
            let k = set.key.rawValue
            lines += ["-A BULKHEAD-DNAT -j BHN-\(k)", "-A BULKHEAD-FWD -j BHF-\(k)", "-A BULKHEAD-MARK -j BHM-\(k)"]
            for rule in set.rules {
                switch rule {
                case .dnat(let p, let port, let to, let t):
                    let inInterface = dnatInInterface.isEmpty ? "" : " -i \(dnatInInterface)"
                    lines.append("-A BHN-\(k)\(inInterface) -p \(p) -m addrtype --dst-type LOCAL -m \(p) --dport \(port) -j DNAT --to-destination \(to):\(t)")
                case .forward(let p, let to, let port): lines.append("-A BHF-\(k) -d \(to)/32 -p \(p) -m \(p) --dport \(port) -j ACCEPT")
                case .mark(let p, let from, let port, let m): lines.append("-A BHM-\(k) -s \(from)/32 -p \(p) -m \(p) --sport \(port) -j MARK --set-xmark 0x\(String(m, radix: 16))/0xffffffff")
                }
            }
        }
        return lines.sorted()
    }
}
