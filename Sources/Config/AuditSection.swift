/// The audit proxy: a Docker socket whose log/attach/exec streams are scanned for
/// secrets and recorded, redacted, as JSON lines in `log_file`.
public struct AuditSection: Codable, Equatable, Sendable {
    public enum QueueFull: String, Codable, Sendable, CaseIterable {
        /// Slow the stream until the audit catches up (no event is lost).
        case block
        /// Keep the stream at full speed; drop scan work and count it in a summary event.
        case drop
    }

    public var enabled: Bool
    /// The proxy's socket (bound by the helper).
    public var listen: String
    public var mode: String
    public var group: String
    /// The Docker socket it relays to (connected by the helper: rootful access).
    public var upstream: String
    /// The audit file: JSON lines, appended; reopened on SIGHUP.
    public var logFile: String
    /// Chunks waiting to be scanned, per proxy.
    public var queueSize: Int
    public var queueFull: QueueFull
    /// Extra detection rules (YAML), added to the built-in ones.
    public var rulesFile: String
    /// Rule ids (built-in or from `rules_file`) that do not run.
    public var disabledRules: [String]
    /// A preset API allow-list; with `allow`, requests outside both get 403.
    public var profile: AuditAPIProfile?
    /// Per HTTP method, a regular expression the whole request path must match.
    public var allow: [String: String]
    /// An earlier audit file: secret events with its fingerprints are not recorded again.
    public var baseline: String

    public init(
        enabled: Bool = true, listen: String = "/var/run/docker-audit.sock", mode: String = "0660", group: String = "root",
        upstream: String = "/var/run/docker.sock", logFile: String = "/var/log/bulkhead/audit/audit.jsonl",
        queueSize: Int = 1024, queueFull: QueueFull = .block, rulesFile: String = "",
        disabledRules: [String] = [], profile: AuditAPIProfile? = nil, allow: [String: String] = [:], baseline: String = ""
    ) {
        self.enabled = enabled; self.listen = listen; self.mode = mode; self.group = group; self.upstream = upstream
        self.logFile = logFile; self.queueSize = queueSize; self.queueFull = queueFull; self.rulesFile = rulesFile
        self.disabledRules = disabledRules; self.profile = profile; self.allow = allow
        self.baseline = baseline
    }

    /// Whether requests are filtered at all (a profile or an allow-list is set).
    public var filtersAPI: Bool { profile != nil || !allow.isEmpty }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, listen, mode, group, upstream
        case logFile = "log_file", queueSize = "queue_size", queueFull = "queue_full", rulesFile = "rules_file"
        case disabledRules = "disabled_rules", profile, allow, baseline
    }

    public init(from decoder: any Decoder) throws {
        let d = AuditSection()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? d.listen
        mode = try c.decodeIfPresent(String.self, forKey: .mode) ?? d.mode
        group = try c.decodeIfPresent(String.self, forKey: .group) ?? d.group
        upstream = try c.decodeIfPresent(String.self, forKey: .upstream) ?? d.upstream
        logFile = try c.decodeIfPresent(String.self, forKey: .logFile) ?? d.logFile
        queueSize = try c.decodeIfPresent(Int.self, forKey: .queueSize) ?? d.queueSize
        queueFull = try c.decodeIfPresent(QueueFull.self, forKey: .queueFull) ?? d.queueFull
        rulesFile = try c.decodeIfPresent(String.self, forKey: .rulesFile) ?? d.rulesFile
        disabledRules = try c.decodeIfPresent([String].self, forKey: .disabledRules) ?? d.disabledRules
        profile = try c.decodeIfPresent(AuditAPIProfile.self, forKey: .profile)
        allow = try c.decodeIfPresent([String: String].self, forKey: .allow) ?? d.allow
        baseline = try c.decodeIfPresent(String.self, forKey: .baseline) ?? d.baseline
    }
}

extension AuditSection {
    /// The methods `audit.allow` may name; a request with any other method is refused
    /// whenever the API is filtered.
    public static let filterableMethods = ["DELETE", "GET", "HEAD", "POST", "PUT"]
}
