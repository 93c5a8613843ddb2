import Config
import IPC
import XCTest
@testable import Agent

/// Labels → typed rules: the part of netwatch that decides what the helper is asked for.
final class NetwatchRulesTests: XCTestCase {
    let id = "27f6bcdf0af8" + String(repeating: "0", count: 52)
    let image = "sha256:91d22a25f76b" + String(repeating: "0", count: 52)

    /// `imageLabels`: the image's own labels (none by default); nil: the image cannot be inspected.
    func container(
        labels: [String: String], imageLabels: [String: String]? = [:], ip: String? = "172.31.77.2", published: [PublishedPort] = []
    ) -> WatchedContainer {
        WatchedContainer(id: id, name: "web", ipv4: ip, labels: labels, image: image, imageLabels: imageLabels, publishedPorts: published)
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

    // MARK: labels baked into the image

    /// The image: `LABEL network.enable=true network.dnat.ports=22,53/udp,443`.
    let hostile = ["network.enable": "true", "network.dnat.ports": "22,53/udp,443"]

    func testLabelsThatOnlyRepeatTheImagesAreIgnoredByDefault() {
        let result = DesiredRules.compute([container(labels: hostile, imageLabels: hostile)], settings: NetwatchSection())
        XCTAssertEqual(result.sets, [ContainerRuleSet(key: ContainerKey("27f6bcdf0af8")!, rules: [])], "no rules at all")
        XCTAssertEqual(result.problems, [
            "container web (27f6bcdf0af8): label(s) network.enable, network.dnat.ports only repeat image 91d22a25f76b's own labels; "
                + "ignored (netwatch.trust_image_labels is false); no rules for this container",
        ])
    }

    func testTrustImageLabelsObeysThem() {
        var settings = NetwatchSection()
        settings.trustImageLabels = true
        let (rules, problem) = DesiredRules.rules(for: container(labels: hostile, imageLabels: nil), settings: settings)
        XCTAssertNil(problem)
        XCTAssertEqual(rules.count, 6, "DNAT + FORWARD for 22, 53/udp and 443")
    }

    func testOwnLabelsCountAndAnImageOnlyDNATLabelIsDropped() {
        let a = IPv4Address("172.31.77.2")!
        // The container sets its own values: they count, whatever the image says.
        let own = container(labels: ["network.enable": "True", "network.dnat.ports": "8080"], imageLabels: hostile)
        XCTAssertEqual(DesiredRules.rules(for: own, settings: NetwatchSection()).0,
                       [.dnat(.tcp, port: 8080, to: a, targetPort: 8080), .forward(.tcp, to: a, port: 8080)])
        // The documented limitation: exactly the image's value cannot be told apart from it.
        let same = container(labels: ["network.enable": "true", "network.dnat.ports": "8080"], imageLabels: hostile)
        XCTAssertEqual(DesiredRules.rules(for: same, settings: NetwatchSection()).0, [])
        // Its own watch label, the image's port label: watched, but no DNAT; the published port is marked as usual.
        var settings = NetwatchSection()
        settings.iptablesMangleMarkPublishedPorts = "2"
        let mixed = container(labels: hostile, imageLabels: ["network.dnat.ports": "22,53/udp,443"], published: [PublishedPort(containerPort: 22, proto: "tcp")])
        let (rules, problem) = DesiredRules.rules(for: mixed, settings: settings)
        XCTAssertEqual(rules, [.mark(.tcp, from: a, port: 22, mark: 2)])
        XCTAssertEqual(problem, "label(s) network.dnat.ports only repeat image 91d22a25f76b's own labels; ignored (netwatch.trust_image_labels is false)")
        // The image's watch label with the container's own port label: not watched.
        let enabledByImage = container(labels: ["network.enable": "true", "network.dnat.ports": "8080"], imageLabels: ["network.enable": "true"])
        XCTAssertEqual(DesiredRules.rules(for: enabledByImage, settings: NetwatchSection()).0, [])
    }

    func testAnImageThatCannotBeInspectedFailsClosed() {
        let (rules, problem) = DesiredRules.rules(for: container(labels: hostile, imageLabels: nil), settings: NetwatchSection())
        XCTAssertEqual(rules, [])
        XCTAssertEqual(problem, "image 91d22a25f76b cannot be inspected, so label(s) network.enable, network.dnat.ports may be the image's; ignored; no rules for this container")
    }

    func testLabelTrustLooksOnlyAtNetwatchsLabelsAndTheirValues() {
        let verdict = LabelTrust.verdict(
            ["network.enable": "true", "network.dnat.ports": "80", "maintainer": "x"],
            imageLabels: ["network.enable": "TRUE", "network.dnat.ports": "80", "maintainer": "x"],
            keys: ["network.enable", "network.dnat.ports"])
        XCTAssertEqual(verdict, LabelTrust.Verdict(labels: ["network.enable": "true", "maintainer": "x"], ignored: ["network.dnat.ports"]),
                       "a different value (even only in case) is the container's own; other labels are none of netwatch's business")
        XCTAssertEqual(LabelTrust.verdict(["a": "1"], imageLabels: nil, keys: ["network.enable"]).ignored, [], "nothing to ignore")
    }

    // MARK: netwatch.dnat_allowed_ports

    func testPortsOutsideTheAllowListAreSkippedAndTheOthersKept() {
        var settings = NetwatchSection()
        settings.dnatAllowedPorts = ["8080/tcp", "9000-9100/tcp", "5353/udp"]
        settings.iptablesMangleMarkPublishedPorts = "2"
        let c = container(labels: ["network.enable": "true", "network.dnat.ports": "22,8080,9050,53/udp,5353/udp"],
                          published: [PublishedPort(containerPort: 22, proto: "tcp")])
        let (rules, problem) = DesiredRules.rules(for: c, settings: settings)
        let a = IPv4Address("172.31.77.2")!
        XCTAssertEqual(rules, [
            .dnat(.tcp, port: 8080, to: a, targetPort: 8080), .forward(.tcp, to: a, port: 8080),
            .dnat(.tcp, port: 9050, to: a, targetPort: 9050), .forward(.tcp, to: a, port: 9050),
            .dnat(.udp, port: 5353, to: a, targetPort: 5353), .forward(.udp, to: a, port: 5353),
        ], "22 was meant for DNAT: skipped, and not marked either")
        XCTAssertEqual(problem, "DNAT port(s) 22/tcp, 53/udp not in netwatch.dnat_allowed_ports; skipped")
    }
}
