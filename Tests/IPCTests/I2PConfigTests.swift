import Config
import IPC
import XCTest

/// The `i2p:` section's validator: each problem names the key to fix.
final class I2PConfigTests: XCTestCase {
    /// A valid section: the defaults alone.
    private let base = "i2p:\n  enabled: true\n"

    func testAValidSectionLoadsAndAbsentMeansDisabled() throws {
        let s = try XCTUnwrap(try ConfigLoader.load(yaml: base).enabledI2P)
        XCTAssertEqual(s.subnets.map(\.description), ["10.231.0.0/16"])
        XCTAssertEqual([s.transparentPort, s.dnsPort], [7680, 7653])
        XCTAssertEqual(s.fakePool.description, "10.64.0.0/10")
        XCTAssertNil(try ConfigLoader.load(yaml: "").enabledI2P)
        XCTAssertNil(try ConfigLoader.load(yaml: "i2p:\n  enabled: false\n").enabledI2P)
    }

    func testBadValuesNameTheKey() {
        assertConfigRefused([
            ("fake_pool: 127.64.0.0/10", "i2p.fake_pool must not be in 127.0.0.0/8"),
            ("fake_pool: 10.231.128.0/20", "i2p.fake_pool overlaps i2p.subnets[0]"),
            ("fake_pool: 10.64.0.0/25", "i2p.fake_pool must be /24 or larger"),
            ("fake_pool: pool", "i2p.fake_pool must be an IPv4 CIDR"),
            ("subnets: [10.231.0.0/16, 10.231.4.0/24]", "i2p.subnets[0] and i2p.subnets[1] overlap"),
            ("subnets: []", "i2p.subnets must name at least one subnet"),
            ("subnets: [10.231.0.0/31]", "i2p.subnets[0] must be /30 or larger"),
            ("subnets: [127.1.0.0/16]", "i2p.subnets[0] must not be in 127.0.0.0/8"),
            ("subnets: [10.231.0.1/16]", "i2p.subnets[0] must be an IPv4 CIDR"),
            ("transparent_port: 80", "i2p.transparent_port must be 1024...65535"),
            ("dns_port: 53", "i2p.dns_port must be 1024...65535"),
            ("dns_port: 7680", "i2p.transparent_port and i2p.dns_port must differ"),
            ("sam: localhost:7656", "i2p.sam must be NUMERIC-ADDRESS:PORT"),
            ("plugin_socket: /run/docker/plugins/bulkhead-i2p", "i2p.plugin_socket must end in .sock"),
            ("state_dir: var/lib/i2p", "i2p.state_dir must be an absolute path"),
            ("docker_socket: /run/../docker.sock", "i2p.docker_socket must be an absolute path"),
            ("inbound_length: 8", "i2p.inbound_length must be 0...7"),
            ("outbound_quantity: 0", "i2p.outbound_quantity must be 1...16"),
            ("converge_interval: 0s", "i2p.converge_interval"),
            ("samm: 127.0.0.1:7656", "i2p.samm"),
        ], section: base)
    }

    func testThePluginListenerNameIsReserved() {
        XCTAssertThrowsError(try ConfigLoader.load(yaml: "listeners: {i2p-plugin: {unix: /run/a.sock}}")) {
            XCTAssertTrue("\($0)".contains("the name `i2p-plugin` is reserved for i2p.plugin_socket"), "\($0)")
        }
    }
}
