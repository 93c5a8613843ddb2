import IPC

/// The one configuration file, shared by helper and agent. The helper reads it
/// (as root, before dropping privileges), applies overrides, validates it, and
/// hands the effective result to the agent in its `hello` reply.
///
/// Each service is enabled by its own section. Keys are snake_case in YAML.
public struct BulkheadConfig: ConfigSection {
    public var logFormat: LogFormat = .text
    public var logLevel: LogLevel = .info
    public var helper = HelperSection()
    public var agent = AgentSection()
    /// Extra sockets the helper may bind by name (the router's own is implied).
    public var listeners: [ListenerName: ListenerSpec] = [:]
    public var router: RouterSection?
    public var audit: AuditSection?
    public var ssh: SSHSection?
    public var netwatch: NetwatchSection?
    public var i2p: I2PSection?
    /// The metrics/health/status listener; absent means none.
    public var metrics: MetricsSection?

    public init() {}

    public static var fields: [ConfigField<Self>] {
        [.init("log_format", \.logFormat), .init("log_level", \.logLevel), .init("helper", \.helper), .init("agent", \.agent),
         .init("listeners", \.listeners), .init("router", \.router), .init("audit", \.audit), .init("ssh", \.ssh),
         .init("netwatch", \.netwatch), .init("i2p", \.i2p), .init("metrics", \.metrics)]
    }

    /// The router's section when present and enabled.
    public var enabledRouter: RouterSection? { router.flatMap { $0.enabled ? $0 : nil } }
    /// The audit proxy's section when present and enabled.
    public var enabledAudit: AuditSection? { audit.flatMap { $0.enabled ? $0 : nil } }
    /// The netwatch section when present and enabled.
    public var enabledNetwatch: NetwatchSection? { netwatch.flatMap { $0.enabled ? $0 : nil } }
    /// The i2p plugin's section when present and enabled.
    public var enabledI2P: I2PSection? { i2p.flatMap { $0.enabled ? $0 : nil } }
    /// The metrics listener's section when present and enabled.
    public var enabledMetrics: MetricsSection? { metrics.flatMap { $0.enabled ? $0 : nil } }
    /// The remotes of the ssh service when the section is present and enabled.
    public var enabledSSHRemotes: [SSHRemote] { ssh.map { $0.enabled ? $0.remotes : [] } ?? [] }
}

public enum LogFormat: String, Codable, Sendable, CaseIterable {
    case text, json
}

/// Mirrors swift-log's levels; every grant and refusal is logged at info/warning.
public enum LogLevel: String, Codable, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

public struct HelperSection: ConfigSection {
    /// The dedicated unprivileged account the helper drops to.
    public var user = "bulkhead-helper"
    /// The dedicated account of the netfilter executor (netwatch): it runs iptables
    /// and ip with only CAP_NET_ADMIN and CAP_NET_RAW, never as root.
    public var netfilterUser = "bulkhead-netfilter"

    public init() {}

    public static var fields: [ConfigField<Self>] { [.init("user", \.user), .init("netfilter_user", \.netfilterUser)] }
}

public struct AgentSection: ConfigSection {
    /// The unprivileged account the agent runs as.
    public var user = "bulkhead"
    /// The agent binary; empty means `bulkhead-agent` next to the helper binary.
    public var path = ""
    /// Longest wait between restarts of an agent that keeps dying.
    public var restartBackoffMax: ConfigDuration = "30s"
    /// The agent's seccomp filter; false only to diagnose a SIGSYS (logged loudly).
    public var seccomp = true
    /// How often the helper checks whether the agent binary changed on disk.
    public var binaryCheckInterval: ConfigDuration = "60s"

    public init() {}

    public static var fields: [ConfigField<Self>] {
        [.init("user", \.user), .init("path", \.path), .init("restart_backoff_max", \.restartBackoffMax), .init("seccomp", \.seccomp),
         .init("binary_check_interval", \.binaryCheckInterval)]
    }
}

/// A socket the helper binds for the agent: exactly one of `unix` or `tcp`.
public struct ListenerSpec: ConfigSection {
    /// Absolute path of a Unix socket.
    public var unix: String?
    /// Mode of the Unix socket, written in octal: "0660".
    public var mode: FileMode = "0660"
    /// Owner and group of the Unix socket (names or numbers).
    public var owner = "root"
    public var group = "root"
    /// "ADDRESS:PORT" of a TCP socket (IPv6 as "[::1]:443").
    public var tcp: TCPAddress?

    public init() {}

    public static var fields: [ConfigField<Self>] {
        [.init("unix", \.unix), .init("mode", \.mode), .init("owner", \.owner), .init("group", \.group), .init("tcp", \.tcp)]
    }
}

public enum RootPolicy: String, Codable, Sendable, CaseIterable {
    /// uid 0 gets a clear refusal.
    case refuse
    /// uid 0 is relayed to `router.root_socket` (a rootful dockerd).
    case socket
}

public struct RouterSection: ConfigSection {
    public var enabled = true
    /// The system socket users connect to.
    public var listen = "/var/run/docker.sock"
    public var mode: FileMode = "0666"
    public var group = "root"
    /// Each user's rootless Docker socket; `%d` is the uid.
    public var userSocket = "/run/user/%d/docker.sock"
    public var rootPolicy: RootPolicy = .refuse
    public var rootSocket = ""
    public var maxConnectionsPerUser = 64
    /// Connections of all users together, relayed or being refused.
    public var maxConnections = 1024

    public init() {}

    public static var fields: [ConfigField<Self>] {
        [.init("enabled", \.enabled), .init("listen", \.listen), .init("mode", \.mode), .init("group", \.group),
         .init("user_socket", \.userSocket), .init("root_policy", \.rootPolicy), .init("root_socket", \.rootSocket),
         .init("max_connections_per_user", \.maxConnectionsPerUser), .init("max_connections", \.maxConnections)]
    }
}
