/// The audit proxy: a Docker socket whose log/attach/exec streams are scanned for
/// secrets and recorded, redacted, as JSON lines in `log_file`.
public struct AuditSection: ConfigSection {
    public enum QueueFull: String, Codable, Sendable, CaseIterable {
        /// Slow the stream until the audit catches up (no event is lost).
        case block
        /// Keep the stream at full speed; drop scan work and count it in a summary event.
        case drop
    }

    public var enabled = true
    /// The proxy's socket (bound by the helper).
    public var listen = "/var/run/docker-audit.sock"
    public var mode: FileMode = "0660"
    public var group = "root"
    /// The Docker socket it relays to (connected by the helper: rootful access).
    public var upstream = "/var/run/docker.sock"
    /// The audit file: JSON lines, appended; reopened on SIGHUP.
    public var logFile = "/var/log/bulkhead/audit/audit.jsonl"
    /// Chunks waiting to be scanned, per proxy.
    public var queueSize = 1024
    public var queueFull: QueueFull = .block
    /// Extra detection rules (YAML), added to the built-in ones.
    public var rulesFile = ""
    /// Rule ids (built-in or from `rules_file`) that do not run.
    public var disabledRules: [String] = []
    /// A preset API allow-list; with `allow`, requests outside both get 403.
    public var profile: AuditAPIProfile?
    /// Per HTTP method, a regular expression the whole request path must match.
    public var allow: [String: String] = [:]
    /// An earlier audit file: secret events with its fingerprints are not recorded again.
    public var baseline = ""

    public init() {}

    public static var fields: [ConfigField<Self>] {
        [.init("enabled", \.enabled), .init("listen", \.listen), .init("mode", \.mode), .init("group", \.group),
         .init("upstream", \.upstream), .init("log_file", \.logFile), .init("queue_size", \.queueSize), .init("queue_full", \.queueFull),
         .init("rules_file", \.rulesFile), .init("disabled_rules", \.disabledRules), .init("profile", \.profile), .init("allow", \.allow),
         .init("baseline", \.baseline)]
    }

    /// Whether requests are filtered at all (a profile or an allow-list is set).
    public var filtersAPI: Bool { profile != nil || !allow.isEmpty }
}

extension AuditSection {
    /// The methods `audit.allow` may name; a request with any other method is refused
    /// whenever the API is filtered.
    public static let filterableMethods = ["DELETE", "GET", "HEAD", "POST", "PUT"]
}
