import Foundation
import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `bulkhead-helper cleanup` after a `kill -9` of the helper's whole process group:
/// a real helper with netwatch (container chains, policy routing and its
/// masquerade) and i2p (links, drop chains, plugin socket) in a network namespace
/// of its own, so the host's tables are never touched.
final class CleanupTests: HelperInNetnsTestCase {
    private var pluginSocket: String { "\(dir)/plugins/bulkhead-i2p.sock" }
    override var startsHelper: Bool { false }  // each test starts it in a process group of its own

    override var configYAML: String {
        """
        router:
          enabled: false
        agent:
          user: nobody
        netwatch:
          iptables_mangle_mark_published_ports: "2"
          policy_routing:
            rules: [{fwmark: 2, table: 100}]
            routes: [{table: 100, gateway: 10.77.0.2, dev: bhtest0}]
            masquerade: [{subnet: 10.9.0.0/24, out_interface: bhtest0}]
        i2p:
          subnets: ["10.231.0.0/16"]
          fake_pool: 10.64.0.0/10
          plugin_socket: \(pluginSocket)
          state_dir: \(dir)/state/i2p
          docker_socket: \(dir)/docker.sock

        """
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        // An uplink for the policy route and the masquerade.
        try inNetns("ip", "link", "add", "bhtest0", "type", "veth", "peer", "name", "bhtest1")
        try inNetns("ip", "addr", "add", "10.77.0.1/24", "dev", "bhtest0")
        try inNetns("ip", "link", "set", "bhtest0", "up")
    }

    func testCleanupAfterKillRemovesEverythingOwnedAndOnlyThat() throws {
        try startHelperAndMakeState()
        // Someone else's rules in the same tables: cleanup must leave them.
        try inNetns("iptables", "-A", "FORWARD", "-s", "10.99.0.0/24", "-j", "ACCEPT")
        try inNetns("ip6tables", "-A", "INPUT", "-s", "fd00::/64", "-j", "ACCEPT")
        try XCTUnwrap(helper).killGroup()
        helper = nil
        XCTAssertTrue(try owned().contains { $0.contains("BULKHEAD-I2P") }, "kill -9 left the i2p chains (nothing could remove them)")
        XCTAssertTrue(try owned().contains { $0.contains("BHN-") }, "kill -9 left the container chains")
        XCTAssertTrue(try links().contains("bhi000000000001"))

        // Without iptables-save's "# Generated ... on <time>" comments, which change each second.
        let tables = { try (self.inNetns("iptables-save") + self.inNetns("ip6tables-save")).split(separator: "\n").filter { !$0.hasPrefix("#") } }
        let before = try tables()
        let dry = try cleanup("--dry-run")
        XCTAssertEqual(dry.status, 0, dry.output)
        XCTAssertTrue(dry.output.contains("would remove link bhi000000000001"), dry.output)
        XCTAssertTrue(dry.output.contains("would remove socket \(pluginSocket)"), dry.output)
        XCTAssertTrue(dry.output.contains("would remove ip rule fwmark 2 table 100"), dry.output)
        XCTAssertEqual(try tables(), before, "--dry-run changed the tables")
        XCTAssertTrue(try links().contains("bhi000000000001"), "--dry-run deleted a link")
        XCTAssertEqual(FileKind.kind(pluginSocket), S_IFSOCK, "--dry-run removed the socket")

        let run = try cleanup()
        XCTAssertEqual(run.status, 0, run.output)
        for expected in ["removed link bhi000000000001", "removed link bhi000000000002",
                         "removed chain ipv4 filter BULKHEAD-I2P-FWD", "removed chain ipv6 filter BULKHEAD-I2P-IN6",
                         "removed jump ipv4 nat: PREROUTING -i bhi+ -j BULKHEAD-I2P-NAT",
                         "removed chain ipv4 nat BHN-000000000001", "removed chain ipv4 nat BULKHEAD-MASQ",
                         "removed jump ipv4 filter: FORWARD -j BULKHEAD-FWD",
                         "removed ip rule fwmark 2 table 100", "removed default route of table 100",
                         "removed socket \(pluginSocket)"] {
            XCTAssertTrue(run.output.contains(expected), "missing \"\(expected)\" in:\n\(run.output)")
        }
        XCTAssertEqual(try owned(), [], "owned rules left:\n\(run.output)")
        XCTAssertFalse(try links().contains { $0.hasPrefix("bhi") || $0.hasPrefix("bhc") })
        XCTAssertTrue(try links().contains("bhtest0"), "a link that is not the plugin's was deleted")
        XCTAssertEqual(try inNetns("ip", "-4", "rule", "show", "fwmark", "2"), "")
        XCTAssertEqual(try inNetns("ip", "-4", "route", "show", "table", "100"), "")
        XCTAssertNil(FileKind.kind(pluginSocket), "the plugin socket is left")
        XCTAssertTrue(try inNetns("iptables-save").contains("-A FORWARD -s 10.99.0.0/24 -j ACCEPT"), "someone else's rule was removed")
        XCTAssertTrue(try inNetns("ip6tables-save").contains("-A INPUT -s fd00::/64 -j ACCEPT"), "someone else's rule was removed")

        let again = try cleanup()
        XCTAssertEqual(again.status, 0, again.output)
        // Only the logger's own start-up notice may precede it.
        XCTAssertEqual(again.output.split(separator: "\n").last, "nothing to do", again.output)
        XCTAssertFalse(again.output.contains("removed") || again.output.contains("left:"), again.output)
    }

    func testCleanupRefusesWhileAHelperRunsUnlessForced() throws {
        try startHelperAndMakeState()
        let refused = try cleanup()
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("a bulkhead-helper process is running"), refused.output)
        XCTAssertTrue(try links().contains("bhi000000000001"), "a refused cleanup deleted a link")
        XCTAssertFalse(try owned().isEmpty)
        XCTAssertEqual(FileKind.kind(pluginSocket), S_IFSOCK)

        // --force takes the rules and links, but never the socket the helper still listens on.
        let forced = try cleanup("--force")
        XCTAssertEqual(forced.status, 0, forced.output)
        XCTAssertTrue(forced.output.contains("left: \(pluginSocket) is left: something listens on it"), forced.output)
        XCTAssertEqual(try owned(), [])
        XCTAssertEqual(FileKind.kind(pluginSocket), S_IFSOCK)
    }

    func testHelpTeachesThatCleanupIsForRemoval() throws {
        let (process, text) = try runBinary("bulkhead-helper", ["cleanup", "--help"])
        XCTAssertEqual(process.terminationStatus, 0)
        for word in ["--dry-run", "--force", "--config", "cuts their containers off", "bhi", "BULKHEAD-I2P", "policy_routing"] {
            XCTAssertTrue(text.contains(word), "--help does not mention \(word):\n\(text)")
        }
    }

    // MARK: -

    /// A helper in its own process group with container rules, policy routing, two
    /// i2p links and the plugin socket bound.
    private func startHelperAndMakeState() throws {
        let helper = try HelperUnderTest(configPath: configPath, netns: netns, ownGroup: true)
        self.helper = helper
        try helper.hello()
        let a = IPv4Address("10.9.0.1")!
        let key = ContainerKey("000000000001")!
        try ok(helper, .netfilterStage(sets: [ContainerRuleSet(key: key, rules: [
            .dnat(.tcp, port: 18001, to: a, targetPort: 80), .forward(.tcp, to: a, port: 80), .mark(.udp, from: a, port: 53, mark: 2)])]))
        try ok(helper, .netfilterCommit(mode: .changes))
        try ok(helper, .policyRoutingApply)
        for n in 1...2 {
            try ok(helper, .i2pLinkUp(endpoint: I2PEndpoint(key: EndpointKey(String(format: "%012x", n))!,
                address: IPv4Address("10.231.0.\(n + 1)")!, prefixLength: 24, gateway: IPv4Address("10.231.0.1")!)))
        }
        let (reply, fd) = try helper.call(.bindUnixListener(name: ListenerName("i2p-plugin")!))
        guard case .ok = reply, fd >= 0 else { throw HelperTestError.unexpected("bind i2p-plugin: \(reply)") }
        close(fd)
        XCTAssertEqual(try inNetns("ip", "-4", "rule", "show", "fwmark", "2").isEmpty, false)
    }

    private func ok(_ helper: HelperUnderTest, _ request: Request) throws {
        let (reply, fd) = try helper.call(request)
        if fd >= 0 { close(fd) }
        guard case .ok = reply else { throw HelperTestError.unexpected("\(request.logDescription): \(reply)") }
    }

    /// `bulkhead-helper cleanup` in the namespace: its exit status and output.
    private func cleanup(_ extra: String...) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = ["netns", "exec", netns, "\(HelperUnderTest.binDir)/bulkhead-helper", "cleanup", "--config", configPath] + extra
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    /// Every owned chain declaration and rule (jumps included) in both families.
    private func owned() throws -> [String] {
        try (inNetns("iptables-save") + inNetns("ip6tables-save")).split(separator: "\n").map(String.init)
            .filter { ($0.hasPrefix("-A") || $0.hasPrefix(":")) && ($0.contains("BULKHEAD") || $0.contains(" BH") || $0.hasPrefix(":BH")) }
    }
}

/// The file type at a path (nil: nothing there).
private enum FileKind {
    static func kind(_ path: String) -> mode_t? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : nil
    }
}
