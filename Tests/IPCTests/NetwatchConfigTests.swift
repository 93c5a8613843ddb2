import Config
import IPC
import XCTest

final class NetwatchConfigTests: XCTestCase {
    func testSeedDefaultsAndEnvironmentOverrides() throws {
        let config = try ConfigLoader.load(yaml: "netwatch: {}")
        let n = try XCTUnwrap(config.enabledNetwatch)
        XCTAssertEqual(n.watchNetwork, "bridge")
        XCTAssertEqual(n.watchContainerLabel, "network.enable")
        XCTAssertEqual(n.iptablesDnatPortsLabel, "network.dnat.ports")
        XCTAssertNil(n.publishedPortMark, "disabled by default")
        let env = ["WATCH_NETWORK": "internal", "IPTABLES_MANGLE_MARK_PUBLISHED_PORTS": "2", "RUNTIME_API": "/run/podman/podman.sock"]
        let overridden = try XCTUnwrap(try ConfigLoader.load(yaml: "netwatch:\n  watch_network: other\n", environment: env).enabledNetwatch)
        XCTAssertEqual(overridden.watchNetwork, "internal")
        XCTAssertEqual(overridden.publishedPortMark, 2)
        XCTAssertEqual(overridden.runtimeAPI, "/run/podman/podman.sock")
        XCTAssertNil(try ConfigLoader.load(yaml: "", environment: env).netwatch, "the variables alone do not enable netwatch")
    }

    func testBadValuesNameTheKey() {
        assertConfigRefused([
            ("iptables_mangle_mark_published_ports: \"0\"", "iptables_mangle_mark_published_ports"),
            ("iptables_mangle_mark_published_ports: two", "iptables_mangle_mark_published_ports"),
            ("watch_container_label: \"a=b\"", "watch_container_label"),
            ("runtime_api: docker.sock", "runtime_api"),
            ("dnat_in_interface: \"eth0/1\"", "dnat_in_interface"),
            ("verify_interval: 0s", "verify_interval"),
            ("startup_script: run.sh", "startup_script"),
            ("policy_routing: {rules: [{fwmark: 2, table: 254}]}", "policy_routing.rules[0]"),
            ("policy_routing: {routes: [{table: 200, gateway: 127.0.0.1}]}", "routes[0].gateway"),
            ("policy_routing: {masquerade: [{subnet: 172.20.0.1/24, out_interface: wg0}]}", "masquerade[0].subnet"),
            ("policy_routing: {rp_filter: {wg0: 3}}", "rp_filter.wg0"),
            ("policy_routing: {rules: [{fwmark: 2, tabel: 200}]}", "policy_routing.rules[0].tabel"),
            ("polcy_routing: {}", "netwatch.polcy_routing"),
            ("dnat_allowed_ports: [\"8080/tcp\", \"9100-9000/tcp\"]", "netwatch.dnat_allowed_ports[1]"),
            ("dnat_allowed_ports: [\"80/sctp\"]", "netwatch.dnat_allowed_ports[0]"),
            ("dnat_allowed_ports: [\"0\"]", "netwatch.dnat_allowed_ports[0]"),
            ("dnat_allowed_ports: [\"80-\"]", "netwatch.dnat_allowed_ports[0]"),
            ("dnat_allowed_ports: [\"http\"]", "netwatch.dnat_allowed_ports[0]"),
            ("trust_image_labels: maybe", "trust_image_labels"),
        ], section: "netwatch:\n")
    }

    func testImageLabelsAreNotTrustedAndDNATIsUnrestrictedByDefault() throws {
        let n = try XCTUnwrap(try ConfigLoader.load(yaml: "netwatch: {}").enabledNetwatch)
        XCTAssertFalse(n.trustImageLabels)
        XCTAssertNil(n.dnatAllowedPorts, "absent: any port, as before")
    }

    func testDNATAllowListSyntax() throws {
        let yaml = "netwatch:\n  trust_image_labels: true\n  dnat_allowed_ports: [\"8080\", \"5353/udp\", \"9000-9100/TCP\"]\n"
        let n = try XCTUnwrap(try ConfigLoader.load(yaml: yaml).enabledNetwatch)
        XCTAssertTrue(n.trustImageLabels)
        let allowance = try XCTUnwrap(n.dnatAllowedPorts)
        XCTAssertEqual(allowance.map(\.description), ["8080/tcp", "5353/udp", "9000-9100/tcp"], "tcp when no protocol is given")
        XCTAssertTrue(allowance.allows(9000, .tcp) && allowance.allows(9100, .tcp) && allowance.allows(5353, .udp))
        XCTAssertFalse(allowance.allows(8999, .tcp) || allowance.allows(9101, .tcp) || allowance.allows(8080, .udp) || allowance.allows(5353, .tcp))
        XCTAssertEqual(try XCTUnwrap(try ConfigLoader.load(yaml: "netwatch:\n  dnat_allowed_ports: []\n").enabledNetwatch).dnatAllowedPorts, [],
                       "an empty list allows no DNAT port at all")
    }
}
