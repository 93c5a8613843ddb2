import IPC
import XCTest

/// `netwatch.dnat_allowed_ports`, enforced by the helper: a compromised agent cannot
/// DNAT (or accept forwarding to) a port outside the list, and a refusal discards the
/// whole staged batch, so nothing of it is applied.
final class NetfilterAllowListTests: NetfilterTestCase {
    override var netwatchYAML: String {
        super.netwatchYAML + "  dnat_in_interface: \(dnatInInterface)\n  dnat_allowed_ports: [\"18001-18005/tcp\", \"80\", \"5353/udp\"]\n"
    }
    override var dnatInInterface: String { "wg0" }

    func testPortsInTheListAreWrittenForTrafficToTheHostOnTheInterface() throws {
        try commit([sample(1), sample(5)], .replaceAll)
        XCTAssertEqual(try ownedLines(), expected([sample(1), sample(5)]))
        XCTAssertTrue(try ownedLines().contains("-A BHN-000000000001 -i wg0 -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 18001 -j DNAT --to-destination 10.9.0.1:80"))
        XCTAssertTrue(try commit([sample(1), sample(5)], .replaceAll).contains("written=0 removed=0 unchanged=6"), "the rendered lines are what iptables-save prints: no rewrite loop")
    }

    func testAPortOutsideTheListDiscardsTheWholeBatch() throws {
        try commit([sample(1)], .replaceAll)
        let a = ip("10.9.0.3")
        let rogues: [(ContainerRule, String)] = [
            (.dnat(.tcp, port: 22, to: a, targetPort: 22), "DNAT port 22/tcp"),
            (.dnat(.tcp, port: 18006, to: a, targetPort: 80), "DNAT port 18006/tcp"),  // one past the range
            (.dnat(.tcp, port: 5353, to: a, targetPort: 5353), "DNAT port 5353/tcp"),  // only udp is allowed
            (.dnat(.udp, port: 80, to: a, targetPort: 80), "DNAT port 80/udp"),
            (.forward(.tcp, to: a, port: 443), "FORWARD accept of port 443/tcp"),
        ]
        for (rule, port) in rogues {
            let (ok, _) = try helper.call(.netfilterStage(sets: [sample(2)]))
            XCTAssertEqual(ok, .ok(payload: []))
            let rogue = ContainerRuleSet(key: key(3), rules: [.dnat(.tcp, port: 18003, to: a, targetPort: 80), rule])
            let message = assertRefused(try helper.call(.netfilterStage(sets: [rogue])), .policyRefused)
            XCTAssertTrue(message.contains("container 000000000003: \(port) is not in netwatch.dnat_allowed_ports"), message)
            XCTAssertTrue(try commit([], .changes).hasPrefix("written=0 removed=0"), "\(port): nothing left staged")
            XCTAssertEqual(try ownedLines(), expected([sample(1)]), "\(port): neither the rogue set nor the one staged before it was applied")
        }
    }
}
