/// The one configuration file, shared by helper and agent. The helper reads it
/// (as root, before dropping privileges), applies overrides, validates it, and
/// hands the effective result to the agent in its `hello` reply.
///
/// Each service is enabled by its own section. Keys are snake_case in YAML.
public struct BulkheadConfig: Codable, Equatable, Sendable {
    public var logFormat: LogFormat
    public var logLevel: LogLevel
    public var helper: HelperSection
    public var agent: AgentSection
    /// Extra sockets the helper may bind by name (the router's own is implied).
    public var listeners: [String: ListenerSpec]
    public var router: RouterSection?
    public var audit: AuditSection?
    public var ssh: SSHSection?
    public var netwatch: NetwatchSection?
    public var i2p: I2PSection?
    /// The metrics/health/status listener; absent means none.
    public var metrics: MetricsSection?

    public init(
        logFormat: LogFormat = .text, logLevel: LogLevel = .info, helper: HelperSection = .init(), agent: AgentSection = .init(),
        listeners: [String: ListenerSpec] = [:], router: RouterSection? = nil, audit: AuditSection? = nil,
        ssh: SSHSection? = nil, netwatch: NetwatchSection? = nil, i2p: I2PSection? = nil, metrics: MetricsSection? = nil
    ) {
        self.logFormat = logFormat; self.logLevel = logLevel; self.helper = helper; self.agent = agent
        self.listeners = listeners; self.router = router; self.audit = audit
        self.ssh = ssh; self.netwatch = netwatch; self.i2p = i2p; self.metrics = metrics
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case logFormat = "log_format", logLevel = "log_level", helper, agent, listeners, router, audit, ssh, netwatch, i2p, metrics
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        logFormat = try c.decodeIfPresent(LogFormat.self, forKey: .logFormat) ?? .text
        logLevel = try c.decodeIfPresent(LogLevel.self, forKey: .logLevel) ?? .info
        helper = try c.decodeIfPresent(HelperSection.self, forKey: .helper) ?? .init()
        agent = try c.decodeIfPresent(AgentSection.self, forKey: .agent) ?? .init()
        listeners = try c.decodeIfPresent([String: ListenerSpec].self, forKey: .listeners) ?? [:]
        router = try c.decodeIfPresent(RouterSection.self, forKey: .router)
        audit = try c.decodeIfPresent(AuditSection.self, forKey: .audit)
        ssh = try c.decodeIfPresent(SSHSection.self, forKey: .ssh)
        netwatch = try c.decodeIfPresent(NetwatchSection.self, forKey: .netwatch)
        i2p = try c.decodeIfPresent(I2PSection.self, forKey: .i2p)
        metrics = try c.decodeIfPresent(MetricsSection.self, forKey: .metrics)
    }

    /// The router's section when present and enabled.
    public var enabledRouter: RouterSection? { router.flatMap { $0.enabled ? $0 : nil } }
    /// The audit proxy's section when present and enabled.
    public var enabledAudit: AuditSection? { audit.flatMap { $0.enabled ? $0 : nil } }
    /// The remotes of the ssh service when the section is present and enabled.
    /// The netwatch section when present and enabled.
    public var enabledNetwatch: NetwatchSection? { netwatch.flatMap { $0.enabled ? $0 : nil } }
    /// The i2p plugin's section when present and enabled.
    public var enabledI2P: I2PSection? { i2p.flatMap { $0.enabled ? $0 : nil } }
    /// The metrics listener's section when present and enabled.
    public var enabledMetrics: MetricsSection? { metrics.flatMap { $0.enabled ? $0 : nil } }
    public var enabledSSHRemotes: [SSHRemote] { ssh.map { $0.enabled ? $0.remotes : [] } ?? [] }
}

public enum LogFormat: String, Codable, Sendable, CaseIterable {
    case text, json
}

/// Mirrors swift-log's levels; every grant and refusal is logged at info/warning.
public enum LogLevel: String, Codable, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

public struct HelperSection: Codable, Equatable, Sendable {
    /// The dedicated unprivileged account the helper drops to.
    public var user: String
    /// The dedicated account of the netfilter executor (netwatch): it runs iptables
    /// and ip with only CAP_NET_ADMIN and CAP_NET_RAW, never as root.
    public var netfilterUser: String

    public init(user: String = "bulkhead-helper", netfilterUser: String = "bulkhead-netfilter") {
        self.user = user; self.netfilterUser = netfilterUser
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case user, netfilterUser = "netfilter_user" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = HelperSection()
        user = try c.decodeIfPresent(String.self, forKey: .user) ?? d.user
        netfilterUser = try c.decodeIfPresent(String.self, forKey: .netfilterUser) ?? d.netfilterUser
    }
}

public struct AgentSection: Codable, Equatable, Sendable {
    /// The unprivileged account the agent runs as.
    public var user: String
    /// The agent binary; empty means `bulkhead-agent` next to the helper binary.
    public var path: String
    /// Longest wait between restarts of an agent that keeps dying, in seconds.
    public var restartBackoffMax: Double
    /// The agent's seccomp filter; false only to diagnose a SIGSYS (logged loudly).
    public var seccomp: Bool
    /// How often the helper checks whether the agent binary changed on disk, in seconds.
    public var binaryCheckInterval: Double

    public init(user: String = "bulkhead", path: String = "", restartBackoffMax: Double = 30, seccomp: Bool = true,
                binaryCheckInterval: Double = 60) {
        self.user = user; self.path = path; self.restartBackoffMax = restartBackoffMax; self.seccomp = seccomp
        self.binaryCheckInterval = binaryCheckInterval
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case user, path, restartBackoffMax = "restart_backoff_max", seccomp, binaryCheckInterval = "binary_check_interval"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        user = try c.decodeIfPresent(String.self, forKey: .user) ?? "bulkhead"
        path = try c.decodeIfPresent(String.self, forKey: .path) ?? ""
        restartBackoffMax = try c.decodeIfPresent(Double.self, forKey: .restartBackoffMax) ?? 30
        seccomp = try c.decodeIfPresent(Bool.self, forKey: .seccomp) ?? true
        binaryCheckInterval = try c.decodeIfPresent(Double.self, forKey: .binaryCheckInterval) ?? 60
    }
}

/// A socket the helper binds for the agent: exactly one of `unix` or `tcp`.
public struct ListenerSpec: Codable, Equatable, Sendable {
    /// Absolute path of a Unix socket.
    public var unix: String?
    /// Octal mode of the Unix socket, e.g. "0660".
    public var mode: String
    /// Owner and group of the Unix socket (names or numbers).
    public var owner: String
    public var group: String
    /// "ADDRESS:PORT" of a TCP socket (IPv6 as "[::1]:443").
    public var tcp: String?

    public init(unix: String? = nil, mode: String = "0660", owner: String = "root", group: String = "root", tcp: String? = nil) {
        self.unix = unix; self.mode = mode; self.owner = owner; self.group = group; self.tcp = tcp
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case unix, mode, owner, group, tcp }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        unix = try c.decodeIfPresent(String.self, forKey: .unix)
        mode = try c.decodeIfPresent(String.self, forKey: .mode) ?? "0660"
        owner = try c.decodeIfPresent(String.self, forKey: .owner) ?? "root"
        group = try c.decodeIfPresent(String.self, forKey: .group) ?? "root"
        tcp = try c.decodeIfPresent(String.self, forKey: .tcp)
    }
}

public enum RootPolicy: String, Codable, Sendable, CaseIterable {
    /// uid 0 gets a clear refusal.
    case refuse
    /// uid 0 is relayed to `router.root_socket` (a rootful dockerd).
    case socket
}

public struct RouterSection: Codable, Equatable, Sendable {
    public var enabled: Bool
    /// The system socket users connect to.
    public var listen: String
    public var mode: String
    public var group: String
    /// Each user's rootless Docker socket; `%d` is the uid.
    public var userSocket: String
    public var rootPolicy: RootPolicy
    public var rootSocket: String
    public var maxConnectionsPerUser: Int
    /// Connections of all users together, relayed or being refused.
    public var maxConnections: Int

    public init(
        enabled: Bool = true, listen: String = "/var/run/docker.sock", mode: String = "0666", group: String = "root",
        userSocket: String = "/run/user/%d/docker.sock", rootPolicy: RootPolicy = .refuse, rootSocket: String = "",
        maxConnectionsPerUser: Int = 64, maxConnections: Int = 1024
    ) {
        self.enabled = enabled; self.listen = listen; self.mode = mode; self.group = group
        self.userSocket = userSocket; self.rootPolicy = rootPolicy; self.rootSocket = rootSocket
        self.maxConnectionsPerUser = maxConnectionsPerUser; self.maxConnections = maxConnections
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, listen, mode, group
        case userSocket = "user_socket", rootPolicy = "root_policy", rootSocket = "root_socket"
        case maxConnectionsPerUser = "max_connections_per_user", maxConnections = "max_connections"
    }

    public init(from decoder: any Decoder) throws {
        let d = RouterSection()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? d.listen
        mode = try c.decodeIfPresent(String.self, forKey: .mode) ?? d.mode
        group = try c.decodeIfPresent(String.self, forKey: .group) ?? d.group
        userSocket = try c.decodeIfPresent(String.self, forKey: .userSocket) ?? d.userSocket
        rootPolicy = try c.decodeIfPresent(RootPolicy.self, forKey: .rootPolicy) ?? d.rootPolicy
        rootSocket = try c.decodeIfPresent(String.self, forKey: .rootSocket) ?? d.rootSocket
        maxConnectionsPerUser = try c.decodeIfPresent(Int.self, forKey: .maxConnectionsPerUser) ?? d.maxConnectionsPerUser
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? d.maxConnections
    }
}
