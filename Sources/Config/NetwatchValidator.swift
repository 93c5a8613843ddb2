import IPC

/// Semantic checks of the `netwatch:` section; each problem names the key to fix.
enum NetwatchValidator {
    static func problems(in config: BulkheadConfig) -> [String] {
        guard let n = config.enabledNetwatch else { return [] }
        var problems: [String] = []
        if !n.runtimeAPI.isEmpty, !ConfigValidator.isCleanAbsolutePath(n.runtimeAPI) {
            problems.append("netwatch.runtime_api must be an absolute socket path (or empty to auto-detect)")
        }
        if n.watchNetwork.isEmpty || n.watchNetwork.count > 128 { problems.append("netwatch.watch_network must name a network") }
        for (key, value) in [("watch_container_label", n.watchContainerLabel), ("iptables_dnat_ports_label", n.iptablesDnatPortsLabel)]
        where value.isEmpty || value.count > 128 || value.contains("=") {
            problems.append("netwatch.\(key) must be a label name without '='")
        }
        for (key, path) in [("startup_script", n.startupScript), ("shutdown_script", n.shutdownScript)] where !path.isEmpty && !ConfigValidator.isCleanAbsolutePath(path) {
            problems.append("netwatch.\(key) must be an absolute path")
        }
        if !n.dnatInInterface.isEmpty, !isInterfaceName(n.dnatInInterface) { problems.append("netwatch.dnat_in_interface is not an interface name") }
        if n.debounce > "10s" { problems.append("netwatch.debounce must be a duration up to 10s, e.g. 200ms") }
        if !("1s"..."1h").contains(n.verifyInterval) { problems.append("netwatch.verify_interval must be a duration from 1s to 1h, e.g. 10s") }
        let p = n.policyRouting
        for (i, rule) in p.rules.enumerated() where rule.fwmark == 0 {
            problems.append("netwatch.policy_routing.rules[\(i)].fwmark must be non-zero")
        }
        for (i, route) in p.routes.enumerated() {
            if let dev = route.dev, !isInterfaceName(dev) { problems.append("netwatch.policy_routing.routes[\(i)].dev is not an interface name") }
        }
        for (i, m) in p.masquerade.enumerated() {
            if !isInterfaceName(m.outInterface) { problems.append("netwatch.policy_routing.masquerade[\(i)].out_interface is not an interface name") }
        }
        for (iface, value) in p.rpFilter.sorted(by: { $0.key < $1.key }) {
            if !isInterfaceName(iface) && iface != "all" && iface != "default" { problems.append("netwatch.policy_routing.rp_filter: \(iface.debugDescription) is not an interface name") }
            if !(0...2).contains(value) { problems.append("netwatch.policy_routing.rp_filter.\(iface) must be 0, 1 or 2") }
        }
        return problems
    }

    /// Linux interface names: 1-15 bytes, no '/', whitespace or ':'.
    public static func isInterfaceName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 15 && name != "." && name != ".." && !name.hasPrefix("-")
            && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") }
    }
}

/// "a.b.c.d/len" with no host bits set.
public struct IPv4Subnet: ConfigLiteral {
    public let network: UInt32
    public let length: Int

    public init(parsing text: String) throws(ConfigTextProblem) {
        let problem = ConfigTextProblem("must be an IPv4 CIDR like 172.20.0.0/24 (no host bits set), not \(text.debugDescription)")
        let parts = text.split(separator: "/")
        guard parts.count == 2, let len = Int(parts[1]), (1...32).contains(len) else { throw problem }
        // Network addresses may end in .0: parse the octets without IPv4Address's unicast rule.
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard octets.count == 4 else { throw problem }
        let value = octets.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let mask: UInt32 = len == 32 ? .max : ~(UInt32.max >> UInt32(len))
        guard value & ~mask == 0, value >> 24 != 0, value >> 24 < 224 else { throw problem }
        network = value; length = len
    }

    /// Docker's IPAM answers and other text from outside the config (a literal
    /// argument is taken as a literal: `IPv4Subnet("10.0.0.0/8")` is not optional).
    public init?(_ text: String) {
        do { try self.init(parsing: text) } catch { return nil }
    }

    public var text: String { "\(network >> 24).\(network >> 16 & 0xff).\(network >> 8 & 0xff).\(network & 0xff)/\(length)" }
}

/// A route's gateway: a unicast IPv4 address.
extension IPv4Address: ConfigText {
    public init(parsing text: String) throws(ConfigTextProblem) {
        guard let address = IPv4Address(text) else { throw ConfigTextProblem("must be a unicast IPv4 address, not \(text.debugDescription)") }
        self = address
    }

    public var text: String { description }
}
