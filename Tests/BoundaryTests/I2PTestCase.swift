import Foundation
import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A helper with i2p enabled, inside a network namespace of its own (its links and
/// rules vanish with the namespace), with its sockets and state under a private
/// root-only directory.
class I2PTestCase: HelperInNetnsTestCase {
    var pluginSocket: String { "\(dir)/plugins/bulkhead-i2p.sock" }
    var stateDir: String { "\(dir)/state/i2p" }
    var dockerSocket: String { "\(dir)/docker.sock" }

    override var configYAML: String {
        """
        router:
          enabled: false
        agent:
          user: nobody
        i2p:
          subnets: ["10.231.0.0/16", "10.232.0.0/24"]
          fake_pool: 10.64.0.0/10
          transparent_port: 7680
          dns_port: 7653
          plugin_socket: \(pluginSocket)
          state_dir: \(stateDir)
          docker_socket: \(dockerSocket)

        """
    }

    /// Every rule line of the namespace that belongs to the plugin (jumps included), sorted.
    func i2pLines(v6: Bool = false) throws -> [String] {
        try inNetns(v6 ? "ip6tables-save" : "iptables-save").split(separator: "\n").map(String.init)
            .filter { $0.hasPrefix("-A") && ($0.contains("BULKHEAD-I2P") || $0.contains("bhi")) }.sorted()
    }

    /// Whether any plugin chain, or jump into one, is left in either family.
    func anyI2PRule() throws -> Bool {
        try (inNetns("iptables-save") + inNetns("ip6tables-save")).contains("BULKHEAD-I2P")
    }

    func key(_ n: Int) -> EndpointKey { EndpointKey(String(format: "%012x", n))! }

    /// Endpoint `n` of network 10.231.`net`.0/24: the container is .(n+1), the gateway .1.
    func endpoint(_ n: Int, net: Int = 0) -> I2PEndpoint {
        I2PEndpoint(key: key(n), address: IPv4Address("10.231.\(net).\(n + 1)")!, prefixLength: 24, gateway: IPv4Address("10.231.\(net).1")!)
    }

    @discardableResult
    func ok(_ request: Request, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let (reply, fd) = try helper.call(request)
        if fd >= 0 { close(fd) }
        guard case .ok(let payload) = reply else { throw HelperTestError.unexpected("\(request.logDescription): \(reply)") }
        return String(decoding: payload, as: UTF8.self)
    }

    /// The exact IPv4 lines the helper must have written for `endpoints` (ports 7680/7653).
    func expected(_ endpoints: [I2PEndpoint]) -> [String] {
        let log = { (what: String) in "-m limit --limit 6/min -j LOG --log-prefix \"bulkhead-i2p drop \(what): \"" }
        var lines = [
            "-A PREROUTING -i bhi+ -j BULKHEAD-I2P-SRC", "-A PREROUTING -i bhi+ -j BULKHEAD-I2P-NAT",
            "-A INPUT -i bhi+ -j BULKHEAD-I2P-IN", "-A FORWARD -i bhi+ -j BULKHEAD-I2P-FWD", "-A FORWARD -o bhi+ -j BULKHEAD-I2P-FWD",
            "-A BULKHEAD-I2P-SRC \(log("src"))", "-A BULKHEAD-I2P-SRC -j DROP",
            "-A BULKHEAD-I2P-NAT -d 10.64.0.0/10 -p tcp -j REDIRECT --to-ports 7680",
            "-A BULKHEAD-I2P-NAT -j ACCEPT",
            "-A BULKHEAD-I2P-IN -m conntrack --ctstate ESTABLISHED -j ACCEPT",
            "-A BULKHEAD-I2P-IN -p tcp -m tcp --dport 7680 -m conntrack --ctstate DNAT -j ACCEPT",
            "-A BULKHEAD-I2P-IN -p udp -m udp --dport 7653 -m conntrack --ctstate DNAT -j ACCEPT",
            "-A BULKHEAD-I2P-IN -p tcp -m tcp --dport 7653 -m conntrack --ctstate DNAT -j ACCEPT",
            "-A BULKHEAD-I2P-IN \(log("in"))", "-A BULKHEAD-I2P-IN -j DROP",
            "-A BULKHEAD-I2P-FWD \(log("fwd"))", "-A BULKHEAD-I2P-FWD -j DROP",
        ]
        lines += endpoints.map { "-A BULKHEAD-I2P-SRC -s \($0.address)/32 -i bhi\($0.key) -j RETURN" }
        lines += endpoints.flatMap { e in
            ["udp", "tcp"].map { "-A BULKHEAD-I2P-NAT -d \(e.gateway)/32 -i bhi\(e.key) -p \($0) -m \($0) --dport 53 -j REDIRECT --to-ports 7653" }
        }
        return lines.sorted()
    }

    static let expectedV6 = [
        "-A INPUT -i bhi+ -j BULKHEAD-I2P-IN6", "-A FORWARD -i bhi+ -j BULKHEAD-I2P-FWD6", "-A FORWARD -o bhi+ -j BULKHEAD-I2P-FWD6",
        "-A BULKHEAD-I2P-IN6 -m limit --limit 6/min -j LOG --log-prefix \"bulkhead-i2p drop in6: \"", "-A BULKHEAD-I2P-IN6 -j DROP",
        "-A BULKHEAD-I2P-FWD6 -m limit --limit 6/min -j LOG --log-prefix \"bulkhead-i2p drop fwd6: \"", "-A BULKHEAD-I2P-FWD6 -j DROP",
    ].sorted()
}
