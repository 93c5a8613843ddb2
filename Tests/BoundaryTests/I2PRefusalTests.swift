import Foundation
import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Every way a compromised agent can misuse the i2p intents: each is refused, logged,
/// and leaves no link and no rule behind.
final class I2PRefusalTests: I2PTestCase {
    private func ip(_ text: String) -> IPv4Address { IPv4Address(text)! }

    private func assertNothingApplied(file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertTrue(helper.isAlive, file: file, line: line)
        XCTAssertFalse(try anyI2PRule(), "no chain was written", file: file, line: line)
        XCTAssertFalse(try links().contains { $0.hasPrefix("bhi") || $0.hasPrefix("bhc") }, "no link was made", file: file, line: line)
    }

    func testEndpointsOutsideTheConfiguredSubnetsArePolicyRefused() throws {
        let k = key(1)
        let cases: [(String, I2PEndpoint)] = [
            ("address and gateway outside i2p.subnets", I2PEndpoint(key: k, address: ip("192.168.5.2"), prefixLength: 24, gateway: ip("192.168.5.1"))),
            ("gateway in another configured subnet than the address",
             I2PEndpoint(key: k, address: ip("10.232.0.2"), prefixLength: 8, gateway: ip("10.231.0.1"))),
            ("address inside, gateway just outside", I2PEndpoint(key: k, address: ip("10.231.255.2"), prefixLength: 8, gateway: ip("10.230.0.1"))),
            ("prefix wider than its configured subnet", I2PEndpoint(key: k, address: ip("10.232.0.2"), prefixLength: 16, gateway: ip("10.232.0.1"))),
        ]
        for (name, e) in cases {
            XCTAssertFalse(assertRefused(try helper.call(.i2pLinkUp(endpoint: e)), .policyRefused).isEmpty, name)
            assertRefused(try helper.call(.i2pConverge(endpoints: [endpoint(2), e], keepBase: true)), .policyRefused)
        }
        try assertNothingApplied()
    }

    func testAnAddressAlreadyUsedByAnotherEndpointIsRefused() throws {
        try ok(.i2pLinkUp(endpoint: endpoint(1)))
        let before = try i2pLines()
        let sameAddress = I2PEndpoint(key: key(2), address: ip("10.231.0.2"), prefixLength: 24, gateway: ip("10.231.0.1"))
        let addressIsAGateway = I2PEndpoint(key: key(3), address: ip("10.231.0.1"), prefixLength: 24, gateway: ip("10.231.0.9"))
        for e in [sameAddress, addressIsAGateway] {
            assertRefused(try helper.call(.i2pLinkUp(endpoint: e)), .policyRefused)
            assertRefused(try helper.call(.i2pConverge(endpoints: [endpoint(1), e], keepBase: true)), .policyRefused)
        }
        XCTAssertEqual(try i2pLines(), before)
        XCTAssertEqual(try links().filter { $0.hasPrefix("bhi") }, ["bhi000000000001"])
    }

    func testARefusedConvergeChangesNothing() throws {
        try ok(.i2pLinkUp(endpoint: endpoint(1)))
        let before = try i2pLines()
        let outside = I2PEndpoint(key: key(9), address: ip("172.16.0.2"), prefixLength: 24, gateway: ip("172.16.0.1"))
        assertRefused(try helper.call(.i2pConverge(endpoints: [outside], keepBase: false)), .policyRefused)
        XCTAssertEqual(try i2pLines(), before)
        XCTAssertTrue(try links().contains("bhi000000000001"), "the link not listed was not deleted by a refused converge")
    }

    // MARK: malformed on the wire (a compromised agent's bytes)

    private func raw(_ type: RequestType, fd: Int32 = -1, _ body: (inout WireWriter) -> Void) throws -> (Reply, Int32) {
        var w = WireWriter()
        body(&w)
        return try helper.callRaw(Frame(kind: .request, type: type.rawValue, id: 7, payload: w.bytes).encoded(), fd: fd)
    }

    private func endpointBytes(_ w: inout WireWriter, key: String = "000000000001", address: String = "10.231.0.2", prefix: UInt8 = 24, gateway: String = "10.231.0.1") {
        w.string(key); w.u32(ip(address).value); w.u8(prefix); w.u32(ip(gateway).value)
    }

    func testMalformedEndpointsAreRefusedForEachIntent() throws {
        let endpoints: [(String, (inout WireWriter) -> Void)] = [
            ("address == gateway", { self.endpointBytes(&$0, address: "10.231.0.1") }),
            ("network address", { self.endpointBytes(&$0, address: "10.231.0.0") }),
            ("broadcast address", { self.endpointBytes(&$0, address: "10.231.0.255") }),
            ("gateway is the broadcast", { self.endpointBytes(&$0, gateway: "10.231.0.255") }),
            ("prefix 31", { self.endpointBytes(&$0, prefix: 31) }),
            ("prefix 7", { self.endpointBytes(&$0, prefix: 7) }),
            ("prefix 0", { self.endpointBytes(&$0, prefix: 0) }),
            ("gateway outside the prefix", { self.endpointBytes(&$0, gateway: "10.231.1.1") }),
            ("upper-case key", { self.endpointBytes(&$0, key: "00000000000A") }),
            ("short key", { self.endpointBytes(&$0, key: "00000001") }),
            ("path as key", { self.endpointBytes(&$0, key: "../../etc/pw") }),
            ("interface name as key", { self.endpointBytes(&$0, key: "eth0") }),
            ("loopback address", { $0.string("000000000001"); $0.u32(0x7f00_0002); $0.u8(24); $0.u32(0x7f00_0001) }),
            ("multicast gateway", { $0.string("000000000001"); $0.u32(self.ip("10.231.0.2").value); $0.u8(24); $0.u32(0xe000_0001) }),
            ("truncated", { $0.string("000000000001"); $0.u32(self.ip("10.231.0.2").value) }),
        ]
        for (name, body) in endpoints {
            XCTAssertFalse(assertRefused(try raw(.i2pLinkUp, body), .malformed).isEmpty, "linkUp: \(name)")
            XCTAssertFalse(assertRefused(try raw(.i2pConverge) { $0.u16(1); body(&$0); $0.u8(1) }, .malformed).isEmpty, "converge: \(name)")
        }
        for bad in ["00000000000A", "1", "", "../x", "0000000000012"] {
            assertRefused(try raw(.i2pLinkDown) { $0.string(bad) }, .malformed)
        }
        try assertNothingApplied()
    }

    func testMalformedFramingIsRefusedForEachIntent() throws {
        // Trailing bytes.
        assertRefused(try raw(.i2pLinkUp) { endpointBytes(&$0); $0.u8(0) }, .malformed)
        assertRefused(try raw(.i2pLinkDown) { $0.string("000000000001"); $0.u8(0) }, .malformed)
        assertRefused(try raw(.i2pConverge) { $0.u16(0); $0.u8(1); $0.u8(0) }, .malformed)
        // keepBase other than 0 or 1, and missing.
        assertRefused(try raw(.i2pConverge) { $0.u16(0); $0.u8(2) }, .malformed)
        assertRefused(try raw(.i2pConverge) { $0.u16(0) }, .malformed)
        // Duplicate keys, too many endpoints, a count larger than what follows.
        assertRefused(try raw(.i2pConverge) { w in
            w.u16(2); endpointBytes(&w); endpointBytes(&w, address: "10.231.0.3"); w.u8(1)
        }, .malformed)
        assertRefused(try raw(.i2pConverge) { w in
            w.u16(UInt16(I2PEndpoint.maxPerConverge + 1))
            for n in 0...I2PEndpoint.maxPerConverge { endpointBytes(&w, key: String(format: "%012x", n + 1), address: "10.231.\(n / 200).\(n % 200 + 2)", gateway: "10.231.\(n / 200).1") }
            w.u8(1)
        }, .malformed)
        assertRefused(try raw(.i2pConverge) { $0.u16(3); endpointBytes(&$0); $0.u8(1) }, .malformed)
        // An fd attached where none belongs.
        var pair: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair), 0)
        defer { close(pair[0]); close(pair[1]) }
        assertRefused(try raw(.i2pLinkUp, fd: pair[1]) { endpointBytes(&$0) }, .malformed)
        assertRefused(try raw(.i2pLinkDown, fd: pair[1]) { $0.string("000000000001") }, .malformed)
        assertRefused(try raw(.i2pConverge, fd: pair[1]) { $0.u16(0); $0.u8(0) }, .malformed)
        try assertNothingApplied()
    }

    func testNoMoreEndpointsThanOneConvergeCanName() throws {
        let all = (1...I2PEndpoint.maxPerConverge).map { endpoint($0) }
        try ok(.i2pConverge(endpoints: all, keepBase: true))  // known, without links: converge creates none
        let extra = I2PEndpoint(key: key(0xfff), address: ip("10.231.1.2"), prefixLength: 24, gateway: ip("10.231.1.1"))
        assertRefused(try helper.call(.i2pLinkUp(endpoint: extra)), .oversized)
        XCTAssertFalse(try links().contains("bhi000000000fff"))
        XCTAssertFalse(try i2pLines().contains { $0.contains("10.231.1.2") })
        try ok(.i2pLinkUp(endpoint: endpoint(5)))  // a known key is still fine
        XCTAssertTrue(try links().contains("bhi000000000005"))
    }
}

/// The i2p intents before hello.
final class I2PBeforeHelloTests: I2PTestCase {
    override var greetsOnStart: Bool { false }

    func testEveryI2PIntentNeedsHelloFirst() throws {
        for request: Request in [.i2pLinkUp(endpoint: endpoint(1)), .i2pLinkDown(key: key(1)), .i2pConverge(endpoints: [endpoint(1)], keepBase: true)] {
            XCTAssertTrue(assertRefused(try helper.call(request), .notPermittedNow).contains("before hello"))
        }
        XCTAssertFalse(try anyI2PRule())
        XCTAssertFalse(try links().contains { $0.hasPrefix("bhi") })
    }
}

/// The i2p intents when the helper's config has no enabled `i2p:` section.
final class I2PDisabledTests: HelperSessionTestCase {
    func testEveryI2PIntentNeedsI2PInTheHelpersConfig() throws {
        let e = I2PEndpoint(key: EndpointKey("000000000001")!, address: IPv4Address("10.231.0.2")!, prefixLength: 24, gateway: IPv4Address("10.231.0.1")!)
        for request: Request in [.i2pLinkUp(endpoint: e), .i2pLinkDown(key: e.key), .i2pConverge(endpoints: [], keepBase: false)] {
            XCTAssertTrue(assertRefused(try helper.call(request), .notPermittedNow).contains("i2p is not enabled"))
        }
        assertRefused(try helper.call(.bindUnixListener(name: ListenerName("i2p-plugin")!)), .unknownName)
        assertRefused(try helper.call(.connectUpstream(name: ListenerName("i2p")!)), .unknownName)
    }
}

/// A link that cannot be made: the request fails and leaves what was there before.
final class I2PFailureTests: I2PTestCase {
    func testAFailedLinkUpUndoesItsRulesAndLink() throws {
        try ok(.i2pLinkUp(endpoint: endpoint(1)))
        let before = try i2pLines()
        try inNetns("ip", "link", "add", "bhc000000000002", "type", "veth", "peer", "name", "xx000000000002")  // takes the peer's name
        assertRefused(try helper.call(.i2pLinkUp(endpoint: endpoint(2))), .systemError)
        XCTAssertEqual(try i2pLines(), before, "the new endpoint's SRC rule was taken back")
        XCTAssertFalse(try links().contains("bhi000000000002"))
        try inNetns("ip", "link", "add", "bhi000000000003", "type", "bridge")
        XCTAssertTrue(assertRefused(try helper.call(.i2pLinkUp(endpoint: endpoint(3))), .conflict).contains("not a veth"))
        XCTAssertEqual(try i2pLines(), before)
        XCTAssertTrue(try inNetns("ip", "-o", "-4", "addr", "show", "dev", "bhi000000000003").isEmpty, "someone else's link is not touched")
    }
}
