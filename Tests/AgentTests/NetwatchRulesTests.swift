import Config
import IPC
import XCTest
@testable import Agent

/// Labels → typed rules: the part of netwatch that decides what the helper is asked for.
final class NetwatchRulesTests: XCTestCase {
    let id = "27f6bcdf0af8" + String(repeating: "0", count: 52)

    func container(labels: [String: String], ip: String? = "172.31.77.2", published: [PublishedPort] = []) -> WatchedContainer {
        WatchedContainer(id: id, name: "web", ipv4: ip, labels: labels, publishedPorts: published)
    }

    func testPortLabelSyntax() throws {
        let ports = try PortLabel.parse("80,443/tcp,53/udp, 8080 ,53/UDP")
        XCTAssertEqual(ports.map(\.port), [80, 443, 53, 8080])
        XCTAssertEqual(ports.map(\.proto), [.tcp, .tcp, .udp, .tcp], "tcp by default; a repeat is dropped")
        for bad in ["", "80,", "0", "65536", "99999", "http", "80/sctp", "80/tcp/x", "-1", "8o"] {
            XCTAssertThrowsError(try PortLabel.parse(bad), bad)
        }
        XCTAssertThrowsError(try PortLabel.parse((1...65).map(String.init).joined(separator: ",")), "more than 64 ports")
    }

    func testDNATAndForwardForEachLabelPortAndMarkForOtherPublishedPorts() {
        var settings = NetwatchSection()
        settings.iptablesMangleMarkPublishedPorts = "0x2"
        let c = container(labels: ["network.enable": "true", "network.dnat.ports": "80,53/udp"],
                          published: [PublishedPort(containerPort: 80, proto: "tcp"), PublishedPort(containerPort: 9090, proto: "tcp")])
        let (rules, problem) = DesiredRules.rules(for: c, settings: settings)
        XCTAssertNil(problem)
        let a = IPv4Address("172.31.77.2")!
        XCTAssertEqual(rules, [
            .dnat(.tcp, port: 80, to: a, targetPort: 80), .forward(.tcp, to: a, port: 80),
            .dnat(.udp, port: 53, to: a, targetPort: 53), .forward(.udp, to: a, port: 53),
            .mark(.tcp, from: a, port: 9090, mark: 2),  // 80 is DNATed: not marked
        ])
    }

    func testNoMarkWhenDisabledAndBadLabelsAreReportedByContainer() {
        let settings = NetwatchSection()
        let c = container(labels: ["network.dnat.ports": "99999"], published: [PublishedPort(containerPort: 9090, proto: "tcp")])
        let result = DesiredRules.compute([c], settings: settings)
        XCTAssertEqual(result.sets, [ContainerRuleSet(key: ContainerKey("27f6bcdf0af8")!, rules: [])])
        XCTAssertEqual(result.problems.count, 1)
        XCTAssertTrue(result.problems[0].contains("container web (27f6bcdf0af8)") && result.problems[0].contains("99999"), result.problems[0])
    }

    func testContainerWithoutAnAddressOnTheNetworkGetsNoRules() {
        let result = DesiredRules.compute([container(labels: ["network.dnat.ports": "80"], ip: nil)], settings: NetwatchSection())
        XCTAssertEqual(result.sets.first?.rules, [])
        XCTAssertTrue(result.problems.first?.contains("no IPv4 address on network bridge") == true)
    }

    func testPlanRendersWhatTheHelperWrites() {
        var settings = NetwatchSection()
        settings.dnatInInterface = "wg0"
        let set = ContainerRuleSet(key: ContainerKey("27f6bcdf0af8")!, rules: [.dnat(.tcp, port: 80, to: IPv4Address("172.31.77.2")!, targetPort: 80)])
        let text = NetwatchPlanCommand.render([set], settings: settings)
        XCTAssertTrue(text.contains("-A BHN-27f6bcdf0af8 -i wg0 -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 80 -j DNAT --to-destination 172.31.77.2:80"), text)
        XCTAssertTrue(text.contains("-A BULKHEAD-DNAT -j BHN-27f6bcdf0af8"))
        XCTAssertFalse(text.contains("BHF-"), "no FORWARD chain for a container without forward rules")
    }
}
