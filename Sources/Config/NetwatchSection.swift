import IPC

/// netwatch: container labels drive DNAT, FORWARD and MARK rules in the helper's
/// own chains. The first seven keys are the original daemon's settings, with the
/// same names (lower case) and defaults; its environment variables override them.
public struct NetwatchSection: ConfigSection {
    public var enabled = true
    /// Docker or Podman API socket; empty: auto-detect. Connected by the helper.
    public var runtimeAPI = ""
    public var watchNetwork = "bridge"
    public var watchContainerLabel = "network.enable"
    /// fwmark for replies from published ports that are not DNATed; empty: disabled.
    public var iptablesMangleMarkPublishedPorts: PacketMark = ""
    public var iptablesDnatPortsLabel = "network.dnat.ports"
    /// Run by the agent (as agent.user, never by the helper) before watching and on stop.
    public var startupScript = ""
    public var shutdownScript = ""
    /// DNAT only traffic arriving on this interface; empty: any (as the original).
    public var dnatInInterface = ""
    /// Quiet time after an event before rules are recomputed.
    public var debounce: ConfigDuration = "200ms"
    /// Rules are re-derived from the runtime and re-applied this often (repairs a flush).
    public var verifyInterval: ConfigDuration = "10s"
    /// Connect to each new container once, so reverse-path routes are warm.
    public var warmup = true
    /// Obey netwatch's labels even when they only repeat the image's own labels
    /// (anyone who can publish an image could otherwise claim host ports).
    public var trustImageLabels = false
    /// Host ports DNAT may take, e.g. ["8080/tcp", "9000-9100/tcp"], enforced by the
    /// helper; nil: any port.
    public var dnatAllowedPorts: [PortRange]?
    public var policyRouting = PolicyRouting()

    public init() {}

    public static var fields: [ConfigField<Self>] {
        [.init("enabled", \.enabled), .init("runtime_api", \.runtimeAPI), .init("watch_network", \.watchNetwork),
         .init("watch_container_label", \.watchContainerLabel),
         .init("iptables_mangle_mark_published_ports", \.iptablesMangleMarkPublishedPorts),
         .init("iptables_dnat_ports_label", \.iptablesDnatPortsLabel), .init("startup_script", \.startupScript),
         .init("shutdown_script", \.shutdownScript), .init("dnat_in_interface", \.dnatInInterface), .init("debounce", \.debounce),
         .init("verify_interval", \.verifyInterval), .init("warmup", \.warmup), .init("trust_image_labels", \.trustImageLabels),
         .init("dnat_allowed_ports", \.dnatAllowedPorts), .init("policy_routing", \.policyRouting)]
    }

    /// The original daemon's environment variables, and the key each one overrides.
    public static let seedEnvironment: [(variable: String, key: String)] = [
        ("RUNTIME_API", "runtime_api"), ("WATCH_NETWORK", "watch_network"), ("WATCH_CONTAINER_LABEL", "watch_container_label"),
        ("IPTABLES_MANGLE_MARK_PUBLISHED_PORTS", "iptables_mangle_mark_published_ports"),
        ("IPTABLES_DNAT_PORTS_LABEL", "iptables_dnat_ports_label"), ("STARTUP_SCRIPT", "startup_script"), ("SHUTDOWN_SCRIPT", "shutdown_script"),
    ]

    /// The configured mark, nil when disabled.
    public var publishedPortMark: UInt32? { iptablesMangleMarkPublishedPorts.value }
}

/// What the original's scripts did by hand, declared: applied by the helper.
public struct PolicyRouting: ConfigSection {
    public struct Rule: ConfigSection {
        public var fwmark: UInt32 = 0
        public var table: RoutingTable = "1"
        public init() {}
        public static var fields: [ConfigField<Self>] { [.required("fwmark", \.fwmark), .required("table", \.table)] }
    }
    public struct Route: ConfigSection {
        public var table: RoutingTable = "1"
        /// Required: this default (10.0.0.1, a constant that is unicast) is always replaced.
        public var gateway = IPv4Address(UInt32(0x0a00_0001))!
        public var dev: String?
        public init() {}
        public static var fields: [ConfigField<Self>] { [.required("table", \.table), .required("gateway", \.gateway), .init("dev", \.dev)] }
    }
    public struct Masquerade: ConfigSection {
        public var subnet: IPv4Subnet = "10.0.0.0/8"
        public var outInterface = ""
        public init() {}
        public static var fields: [ConfigField<Self>] { [.required("subnet", \.subnet), .required("out_interface", \.outInterface)] }
    }

    public var rules: [Rule] = []
    public var routes: [Route] = []
    public var masquerade: [Masquerade] = []
    /// Interface name → 0 (off), 1 (strict), 2 (loose).
    public var rpFilter: [String: Int] = [:]

    public init() {}

    public static var fields: [ConfigField<Self>] {
        [.init("rules", \.rules), .init("routes", \.routes), .init("masquerade", \.masquerade), .init("rp_filter", \.rpFilter)]
    }

    public var isEmpty: Bool { rules.isEmpty && routes.isEmpty && masquerade.isEmpty && rpFilter.isEmpty }
}
