import Config
import Foundation
import XCTest

/// Values parsed once at load: typed in both processes, named in errors by key.
final class ConfigTextTests: XCTestCase {
    private let remote = "ssh:\n  remotes:\n    - name: prod\n      local_socket: /run/p.sock\n      ssh_user: u\n      ssh_host: h\n"

    func testValuesAreTypedAfterLoading() throws {
        let config = try ConfigLoader.load(yaml: remote + "      timeout: 1.5\n      mode: \"0600\"\nnetwatch:\n  debounce: 250ms\n  iptables_mangle_mark_published_ports: \"0x10\"\n")
        let r = try XCTUnwrap(config.enabledSSHRemotes.first)
        XCTAssertEqual(r.timeout.duration, .milliseconds(1500))
        XCTAssertEqual(r.keepalive.duration, .seconds(15), "the default")
        XCTAssertEqual(r.mode.bits, 0o600)
        XCTAssertEqual(r.sshHost.port, 22)
        XCTAssertEqual(config.netwatch?.debounce.duration, .milliseconds(250))
        XCTAssertEqual(config.netwatch?.publishedPortMark, 16)
        XCTAssertEqual(config.agent.restartBackoffMax.duration, .seconds(30))
    }

    /// The helper hands the config to the agent as JSON: it must come back equal.
    func testTheHandOverToTheAgentKeepsEveryValue() throws {
        let config = try ConfigLoader.load(yaml: remote + "netwatch:\n  iptables_mangle_mark_published_ports: \"7\"\n  dnat_allowed_ports: [\"80\", \"9000-9100/udp\"]\n"
            + "  policy_routing: {routes: [{table: 200, gateway: 10.1.2.3}], masquerade: [{subnet: 172.20.0.0/24, out_interface: wg0}]}\n"
            + "i2p:\n  converge_interval: 2m\n  sam: \"[::1]:7656\"\nlisteners:\n  extra: {tcp: \"127.0.0.1:8443\"}\n")
        let back = try JSONDecoder().decode(BulkheadConfig.self, from: JSONEncoder().encode(config))
        XCTAssertEqual(back, config)
        XCTAssertEqual(back.netwatch?.iptablesMangleMarkPublishedPorts.text, "7", "the scripts get the mark as written")
        XCTAssertEqual(back.i2p?.sam.text, "[::1]:7656")
        XCTAssertEqual(back.netwatch?.dnatAllowedPorts?.map(\.text), ["80/tcp", "9000-9100/udp"])
    }

    func testAValueThatDoesNotParseIsNamedByItsKey() {
        assertConfigRefused([
            (remote + "      timeout: 10 years\n", "ssh.remotes[0].timeout \"10 years\" is not a duration"),
            (remote + "      keepalive: 1e300s\n", "ssh.remotes[0].keepalive \"1e300s\" is not a duration"),
            (remote.replacingOccurrences(of: "ssh_host: h", with: "ssh_host: \"a b\""), "ssh.remotes[0].ssh_host \"a b\" is not HOST, HOST:PORT or [IPv6]:PORT"),
            ("router: {mode: \"999\"}\n", "router.mode \"999\" is not an octal mode like 0660"),
            ("agent: {restart_backoff_max: soon}\n", "agent.restart_backoff_max \"soon\" is not a duration"),
            ("netwatch: {iptables_mangle_mark_published_ports: two}\n", "netwatch.iptables_mangle_mark_published_ports must be a non-zero number"),
            ("netwatch: {dnat_allowed_ports: [\"80\", \"http\"]}\n", "netwatch.dnat_allowed_ports[1] \"http\": port \"http\" is not 1...65535"),
            ("i2p: {subnets: [10.231.0.0/16, nonsense]}\n", "i2p.subnets[1] must be an IPv4 CIDR"),
            ("listeners: {x: {tcp: \"8443\"}}\n", "listeners.x.tcp \"8443\" is not NUMERIC-ADDRESS:PORT"),
            ("ssh:\n  remotes:\n    - name: prod\n      local_socket: /run/p.sock\n      ssh_user: u\n", "ssh.remotes[0].ssh_host is missing"),
        ])
    }

    func testOverridesAreParsedLikeTheFile() throws {
        let config = try ConfigLoader.load(yaml: "", environment: ["BULKHEAD_AGENT__BINARY_CHECK_INTERVAL": "2m"], overrides: ["router.mode=0640"])
        XCTAssertEqual(config.agent.binaryCheckInterval.duration, .seconds(120))
        XCTAssertEqual(config.router?.mode.bits, 0o640)
        XCTAssertThrowsError(try ConfigLoader.load(yaml: "", overrides: ["agent.binary_check_interval=2d"])) {
            XCTAssertTrue("\($0)".contains("agent.binary_check_interval \"2d\" is not a duration"), "\($0)")
        }
    }

    func testTextIsCanonicalWhereItIsNotKeptAsWritten() throws {
        XCTAssertEqual(try FileMode(parsing: "600").text, "0600")
        XCTAssertEqual(try ConfigDuration(parsing: " 2m").text, " 2m", "a duration keeps its text as written")
        XCTAssertEqual(try SSHHostAddress(parsing: "[::1]:22").text, "[::1]")
        XCTAssertEqual(try IPv4Subnet(parsing: "10.0.0.0/8").text, "10.0.0.0/8")
    }
}
