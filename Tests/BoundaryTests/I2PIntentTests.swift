import Foundation
import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// i2pLinkUp / i2pLinkDown / i2pConverge against the real, sandboxed helper, real
/// links and real iptables and ip6tables (nft), in a private network namespace.
final class I2PIntentTests: I2PTestCase {
    func testLinkUpCreatesThePairAddressedAsTheGatewayWithAPeerRoute() throws {
        let e = endpoint(1)
        XCTAssertTrue(try ok(.i2pLinkUp(endpoint: e)).hasPrefix("created=true"))
        XCTAssertTrue(try links().contains("bhi000000000001") && links().contains("bhc000000000001"))
        XCTAssertTrue(try inNetns("ip", "-o", "-4", "addr", "show", "dev", "bhi000000000001").contains("inet 10.231.0.1 peer 10.231.0.2/32"))
        XCTAssertTrue(try inNetns("ip", "-4", "route", "show").contains("10.231.0.2 dev bhi000000000001"))
        XCTAssertTrue(try inNetns("ip", "-o", "link", "show", "dev", "bhi000000000001").contains(",UP"), "the host end is up")
        XCTAssertFalse(try inNetns("ip", "-o", "link", "show", "dev", "bhc000000000001").contains(",UP"), "the container end is dockerd's to bring up")
        for (path, value) in [("ipv6/conf/bhi000000000001/disable_ipv6", "1"), ("ipv4/conf/bhi000000000001/forwarding", "0"), ("ipv4/conf/bhi000000000001/rp_filter", "1")] {
            XCTAssertEqual(try inNetns("cat", "/proc/sys/net/" + path).trimmingCharacters(in: .whitespacesAndNewlines), value, path)
        }
        XCTAssertEqual(try inNetns("ip", "-6", "addr", "show", "dev", "bhi000000000001"), "", "no IPv6 address, not even link-local")
        XCTAssertEqual(try i2pLines(), expected([e]))
        XCTAssertEqual(try i2pLines(v6: true), Self.expectedV6)
    }

    func testLinkUpTwiceIsTheSameStateWithNoDuplicate() throws {
        try ok(.i2pLinkUp(endpoint: endpoint(1)))
        try ok(.i2pLinkUp(endpoint: endpoint(2)))
        let again = try ok(.i2pLinkUp(endpoint: endpoint(2)))
        XCTAssertTrue(again.contains("created=false") && again.contains("chains_written=0"), again)
        XCTAssertEqual(try i2pLines(), expected([endpoint(1), endpoint(2)]))
        XCTAssertEqual(try i2pLines(v6: true), Self.expectedV6)
        XCTAssertEqual(try inNetns("ip", "-o", "-4", "addr", "show", "dev", "bhi000000000002").split(separator: "\n").count, 1)
    }

    func testLinkUpWithANewAddressFixesTheLink() throws {
        try ok(.i2pLinkUp(endpoint: endpoint(1)))
        let moved = I2PEndpoint(key: key(1), address: IPv4Address("10.231.7.9")!, prefixLength: 24, gateway: IPv4Address("10.231.7.1")!)
        try ok(.i2pLinkUp(endpoint: moved))
        let shown = try inNetns("ip", "-o", "-4", "addr", "show", "dev", "bhi000000000001")
        XCTAssertTrue(shown.contains("inet 10.231.7.1 peer 10.231.7.9/32") && shown.split(separator: "\n").count == 1, shown)
        XCTAssertEqual(try i2pLines(), expected([moved]))
    }

    func testLinkDownRemovesTheLinkAndItsSourceRule() throws {
        try ok(.i2pLinkUp(endpoint: endpoint(1)))
        try ok(.i2pLinkUp(endpoint: endpoint(2)))
        XCTAssertTrue(try ok(.i2pLinkDown(key: key(1))).hasPrefix("deleted=true"))
        XCTAssertFalse(try links().contains { $0.hasSuffix("000000000001") }, "both ends are gone")
        XCTAssertEqual(try i2pLines(), expected([endpoint(2)]), "the drop chains stay while the network exists")
        XCTAssertEqual(try ok(.i2pLinkDown(key: key(1))), "deleted=false", "twice: nothing to do")
        XCTAssertEqual(try ok(.i2pLinkDown(key: key(0xabc))), "deleted=false", "an unknown key: nothing to do")
    }

    func testConvergeDeletesStrayLinksAndUnlistedEndpointsOnly() throws {
        try ok(.i2pLinkUp(endpoint: endpoint(1)))
        try ok(.i2pLinkUp(endpoint: endpoint(2)))
        try inNetns("ip", "link", "add", "bhi00000000beef", "type", "veth", "peer", "name", "bhc00000000beef")  // left by a crash
        try inNetns("ip", "link", "add", "bhiother", "type", "veth", "peer", "name", "bhcother")  // not the plugin's name pattern
        try inNetns("ip", "link", "add", "bhi00000000000X", "type", "veth", "peer", "name", "bhc00000000000X")
        let summary = try ok(.i2pConverge(endpoints: [endpoint(1)], keepBase: true))
        XCTAssertTrue(summary.contains("links_deleted=2 links_asserted=1"), summary)
        let names = try links()
        XCTAssertTrue(names.contains("bhi000000000001"))
        XCTAssertFalse(names.contains("bhi000000000002") || names.contains("bhi00000000beef") || names.contains("bhc00000000beef"))
        XCTAssertTrue(names.contains("bhiother") && names.contains("bhi00000000000X"), "only bhi + 12 hex digits is the plugin's")
        XCTAssertEqual(try i2pLines(), expected([endpoint(1)]), "the unlisted endpoint's SRC rule is gone")
    }

    func testConvergeReassertsListedLinksButNeverCreatesOne() throws {
        try ok(.i2pLinkUp(endpoint: endpoint(1)))
        try inNetns("ip", "addr", "flush", "dev", "bhi000000000001")
        try inNetns("ip", "link", "set", "bhi000000000001", "down")
        try ok(.i2pConverge(endpoints: [endpoint(1), endpoint(3)], keepBase: true))
        XCTAssertTrue(try inNetns("ip", "-o", "-4", "addr", "show", "dev", "bhi000000000001").contains("inet 10.231.0.1 peer 10.231.0.2/32"))
        XCTAssertTrue(try inNetns("ip", "-o", "link", "show", "dev", "bhi000000000001").contains(",UP"))
        XCTAssertFalse(try links().contains("bhi000000000003"), "a listed endpoint without a link is not recreated")
        XCTAssertEqual(try i2pLines(), expected([endpoint(1), endpoint(3)]))
    }

    func testConvergeRepairsAFlushAndPutsTheJumpsFirstOnce() throws {
        try ok(.i2pLinkUp(endpoint: endpoint(1)))
        try inNetns("iptables", "-F", "BULKHEAD-I2P-IN")                                  // a firewall reload
        try inNetns("iptables", "-t", "raw", "-D", "PREROUTING", "-i", "bhi+", "-j", "BULKHEAD-I2P-SRC")
        try inNetns("iptables", "-A", "FORWARD", "-i", "bhi+", "-j", "BULKHEAD-I2P-FWD")  // a duplicate
        try inNetns("iptables", "-I", "INPUT", "1", "-j", "ACCEPT")                       // someone else's rule first
        try inNetns("ip6tables", "-D", "INPUT", "-i", "bhi+", "-j", "BULKHEAD-I2P-IN6")
        try ok(.i2pConverge(endpoints: [endpoint(1)], keepBase: true))
        XCTAssertEqual(try i2pLines(), expected([endpoint(1)]))
        XCTAssertEqual(try i2pLines(v6: true), Self.expectedV6)
        let input = try inNetns("iptables", "-S", "INPUT").split(separator: "\n").map(String.init)
        XCTAssertEqual(input.dropFirst().first, "-A INPUT -i bhi+ -j BULKHEAD-I2P-IN", "the drop jump heads INPUT again")
        let forward = try inNetns("iptables", "-S", "FORWARD").split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(forward.dropFirst()), ["-A FORWARD -i bhi+ -j BULKHEAD-I2P-FWD", "-A FORWARD -o bhi+ -j BULKHEAD-I2P-FWD"])
    }

    func testConvergeWithNothingAndNoBaseRemovesEveryChainAndLink() throws {
        try ok(.i2pLinkUp(endpoint: endpoint(1)))
        try ok(.i2pLinkUp(endpoint: endpoint(2, net: 1)))
        XCTAssertTrue(try anyI2PRule())
        let summary = try ok(.i2pConverge(endpoints: [], keepBase: false))
        XCTAssertTrue(summary.contains("links_deleted=2") && summary.contains("chains_removed=6"), summary)
        XCTAssertFalse(try anyI2PRule(), "no chain and no jump left in iptables or ip6tables")
        XCTAssertFalse(try links().contains { $0.hasPrefix("bhi") || $0.hasPrefix("bhc") })
        XCTAssertTrue(try ok(.i2pConverge(endpoints: [], keepBase: false)).contains("chains_removed=0"), "twice: nothing to do")
        try ok(.i2pConverge(endpoints: [], keepBase: true))
        XCTAssertEqual(try i2pLines(), expected([]), "keepBase: the drop chains exist before the first link")
    }

    func testPluginSocketStateDirectoryAndDockerUpstream() throws {
        var st = stat()
        XCTAssertEqual(lstat("\(dir)/plugins", &st), 0)
        XCTAssertEqual(st.st_mode & 0o7777, 0o700, "the plugin directory is created root-only")
        XCTAssertEqual(st.st_uid, 0)
        let nobody = try XCTUnwrap(getpwnam("nobody")).pointee
        XCTAssertEqual(lstat(stateDir, &st), 0)
        XCTAssertEqual(st.st_mode & 0o7777, 0o700)
        XCTAssertEqual(st.st_uid, nobody.pw_uid, "agent.user owns the state directory")
        XCTAssertEqual(lstat("\(dir)/state", &st), 0)
        XCTAssertEqual([st.st_mode & 0o7777, st.st_uid], [0o755, 0], "a missing parent is made root's 0755")

        let (reply, fd) = try helper.call(.bindUnixListener(name: ListenerName("i2p-plugin")!))
        XCTAssertEqual(reply, .ok(payload: []))
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        XCTAssertEqual(lstat(pluginSocket, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFSOCK)
        XCTAssertEqual([st.st_mode & 0o7777, st.st_uid, st.st_gid], [0o600, 0, 0], "only dockerd (root) may talk to the plugin")

        let daemon = TestFixture.listeningSocket(at: dockerSocket)
        defer { close(daemon) }
        let (upstream, upstreamFD) = try helper.call(.connectUpstream(name: ListenerName("i2p")!))
        XCTAssertEqual(upstream, .ok(payload: []))
        XCTAssertGreaterThanOrEqual(upstreamFD, 0)
        close(upstreamFD)
    }
}
