/// netwatch: container labels drive DNAT, FORWARD and MARK rules in the helper's
/// own chains. The first seven keys are the original daemon's settings, with the
/// same names (lower case) and defaults; its environment variables override them.
public struct NetwatchSection: Codable, Equatable, Sendable {
    public var enabled: Bool
    /// Docker or Podman API socket; empty: auto-detect. Connected by the helper.
    public var runtimeAPI: String
    public var watchNetwork: String
    public var watchContainerLabel: String
    /// fwmark for replies from published ports that are not DNATed; empty: disabled.
    public var iptablesMangleMarkPublishedPorts: String
    public var iptablesDnatPortsLabel: String
    /// Run by the agent (as agent.user, never by the helper) before watching and on stop.
    public var startupScript: String
    public var shutdownScript: String
    /// DNAT only traffic arriving on this interface; empty: any (as the original).
    public var dnatInInterface: String
    /// Quiet time after an event before rules are recomputed.
    public var debounce: String
    /// Rules are re-derived from the runtime and re-applied this often (repairs a flush).
    public var verifyInterval: String
    /// Connect to each new container once, so reverse-path routes are warm.
    public var warmup: Bool
    /// Obey netwatch's labels even when they only repeat the image's own labels
    /// (anyone who can publish an image could otherwise claim host ports).
    public var trustImageLabels: Bool
    /// Host ports DNAT may take, e.g. ["8080/tcp", "9000-9100/tcp"], enforced by the
    /// helper; nil: any port.
    public var dnatAllowedPorts: [String]?
    public var policyRouting: PolicyRouting

    public init(
        enabled: Bool = true, runtimeAPI: String = "", watchNetwork: String = "bridge", watchContainerLabel: String = "network.enable",
        iptablesMangleMarkPublishedPorts: String = "", iptablesDnatPortsLabel: String = "network.dnat.ports",
        startupScript: String = "", shutdownScript: String = "", dnatInInterface: String = "", debounce: String = "200ms",
        verifyInterval: String = "10s", warmup: Bool = true, trustImageLabels: Bool = false, dnatAllowedPorts: [String]? = nil,
        policyRouting: PolicyRouting = .init()
    ) {
        self.enabled = enabled; self.runtimeAPI = runtimeAPI; self.watchNetwork = watchNetwork; self.watchContainerLabel = watchContainerLabel
        self.iptablesMangleMarkPublishedPorts = iptablesMangleMarkPublishedPorts; self.iptablesDnatPortsLabel = iptablesDnatPortsLabel
        self.startupScript = startupScript; self.shutdownScript = shutdownScript; self.dnatInInterface = dnatInInterface
        self.debounce = debounce; self.verifyInterval = verifyInterval; self.warmup = warmup
        self.trustImageLabels = trustImageLabels; self.dnatAllowedPorts = dnatAllowedPorts; self.policyRouting = policyRouting
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, debounce, warmup
        case runtimeAPI = "runtime_api", watchNetwork = "watch_network", watchContainerLabel = "watch_container_label"
        case iptablesMangleMarkPublishedPorts = "iptables_mangle_mark_published_ports", iptablesDnatPortsLabel = "iptables_dnat_ports_label"
        case startupScript = "startup_script", shutdownScript = "shutdown_script", dnatInInterface = "dnat_in_interface"
        case verifyInterval = "verify_interval", policyRouting = "policy_routing"
        case trustImageLabels = "trust_image_labels", dnatAllowedPorts = "dnat_allowed_ports"
    }

    /// The original daemon's environment variables, and the key each one overrides.
    public static let seedEnvironment: [(variable: String, key: String)] = [
        ("RUNTIME_API", "runtime_api"), ("WATCH_NETWORK", "watch_network"), ("WATCH_CONTAINER_LABEL", "watch_container_label"),
        ("IPTABLES_MANGLE_MARK_PUBLISHED_PORTS", "iptables_mangle_mark_published_ports"),
        ("IPTABLES_DNAT_PORTS_LABEL", "iptables_dnat_ports_label"), ("STARTUP_SCRIPT", "startup_script"), ("SHUTDOWN_SCRIPT", "shutdown_script"),
    ]

    public init(from decoder: any Decoder) throws {
        let d = NetwatchSection()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        runtimeAPI = try c.decodeIfPresent(String.self, forKey: .runtimeAPI) ?? d.runtimeAPI
        watchNetwork = try c.decodeIfPresent(String.self, forKey: .watchNetwork) ?? d.watchNetwork
        watchContainerLabel = try c.decodeIfPresent(String.self, forKey: .watchContainerLabel) ?? d.watchContainerLabel
        iptablesMangleMarkPublishedPorts = try c.decodeIfPresent(String.self, forKey: .iptablesMangleMarkPublishedPorts) ?? d.iptablesMangleMarkPublishedPorts
        iptablesDnatPortsLabel = try c.decodeIfPresent(String.self, forKey: .iptablesDnatPortsLabel) ?? d.iptablesDnatPortsLabel
        startupScript = try c.decodeIfPresent(String.self, forKey: .startupScript) ?? d.startupScript
        shutdownScript = try c.decodeIfPresent(String.self, forKey: .shutdownScript) ?? d.shutdownScript
        dnatInInterface = try c.decodeIfPresent(String.self, forKey: .dnatInInterface) ?? d.dnatInInterface
        debounce = try c.decodeIfPresent(String.self, forKey: .debounce) ?? d.debounce
        verifyInterval = try c.decodeIfPresent(String.self, forKey: .verifyInterval) ?? d.verifyInterval
        warmup = try c.decodeIfPresent(Bool.self, forKey: .warmup) ?? d.warmup
        trustImageLabels = try c.decodeIfPresent(Bool.self, forKey: .trustImageLabels) ?? d.trustImageLabels
        dnatAllowedPorts = try c.decodeIfPresent([String].self, forKey: .dnatAllowedPorts)
        policyRouting = try c.decodeIfPresent(PolicyRouting.self, forKey: .policyRouting) ?? d.policyRouting
    }

    /// The configured mark as a number (decimal or 0x hex), nil when disabled.
    public var publishedPortMark: UInt32? {
        let t = iptablesMangleMarkPublishedPorts
        if t.isEmpty { return nil }
        return t.hasPrefix("0x") ? UInt32(t.dropFirst(2), radix: 16) : UInt32(t)
    }

    /// `dnat_allowed_ports` parsed (nil: no restriction). Entries that do not parse
    /// allow nothing; the validator refuses them at load.
    public var dnatAllowance: [PortRange]? { dnatAllowedPorts.map { $0.compactMap { try? PortRange.parse($0) } } }
}

/// What the original's scripts did by hand, declared: applied by the helper.
public struct PolicyRouting: Codable, Equatable, Sendable {
    public struct Rule: Codable, Equatable, Sendable {
        public var fwmark: UInt32
        public var table: UInt32
        enum CodingKeys: String, CodingKey, CaseIterable { case fwmark, table }
        public init(fwmark: UInt32, table: UInt32) { self.fwmark = fwmark; self.table = table }
    }
    public struct Route: Codable, Equatable, Sendable {
        public var table: UInt32
        public var gateway: String
        public var dev: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case table, gateway, dev }
        public init(table: UInt32, gateway: String, dev: String? = nil) { self.table = table; self.gateway = gateway; self.dev = dev }
    }
    public struct Masquerade: Codable, Equatable, Sendable {
        public var subnet: String
        public var outInterface: String
        enum CodingKeys: String, CodingKey, CaseIterable { case subnet, outInterface = "out_interface" }
        public init(subnet: String, outInterface: String) { self.subnet = subnet; self.outInterface = outInterface }
    }

    public var rules: [Rule]
    public var routes: [Route]
    public var masquerade: [Masquerade]
    /// Interface name → 0 (off), 1 (strict), 2 (loose).
    public var rpFilter: [String: Int]

    public init(rules: [Rule] = [], routes: [Route] = [], masquerade: [Masquerade] = [], rpFilter: [String: Int] = [:]) {
        self.rules = rules; self.routes = routes; self.masquerade = masquerade; self.rpFilter = rpFilter
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case rules, routes, masquerade, rpFilter = "rp_filter" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rules = try c.decodeIfPresent([Rule].self, forKey: .rules) ?? []
        routes = try c.decodeIfPresent([Route].self, forKey: .routes) ?? []
        masquerade = try c.decodeIfPresent([Masquerade].self, forKey: .masquerade) ?? []
        rpFilter = try c.decodeIfPresent([String: Int].self, forKey: .rpFilter) ?? [:]
    }

    public var isEmpty: Bool { rules.isEmpty && routes.isEmpty && masquerade.isEmpty && rpFilter.isEmpty }
}
