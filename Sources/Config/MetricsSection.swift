/// The agent's observability listener: Prometheus metrics (`/metrics`), health
/// (`/healthz`) and status (`/status`, read by `bulkhead-agent status`). The helper
/// binds it like every other listener; the agent only serves it.
public struct MetricsSection: Codable, Equatable, Sendable {
    public var enabled: Bool
    /// "ADDRESS:PORT" (numeric, loopback by default) or the absolute path of a Unix socket.
    public var listen: String
    /// Mode and group of the Unix socket (ignored for TCP).
    public var mode: String
    public var group: String

    public static let defaultListen = "127.0.0.1:9741"

    public init(enabled: Bool = true, listen: String = MetricsSection.defaultListen, mode: String = "0660", group: String = "root") {
        self.enabled = enabled; self.listen = listen; self.mode = mode; self.group = group
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case enabled, listen, mode, group }

    public init(from decoder: any Decoder) throws {
        let d = MetricsSection()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? d.listen
        mode = try c.decodeIfPresent(String.self, forKey: .mode) ?? d.mode
        group = try c.decodeIfPresent(String.self, forKey: .group) ?? d.group
    }

    /// A Unix socket path rather than a TCP address.
    public var isUnix: Bool { listen.hasPrefix("/") }

    static func problems(in section: MetricsSection) -> [String] {
        guard section.enabled else { return [] }
        if section.isUnix {
            var problems: [String] = []
            if !ConfigValidator.isCleanAbsolutePath(section.listen) { problems.append("metrics.listen must be an absolute path without '..' or NUMERIC-ADDRESS:PORT") }
            if ConfigValidator.parseMode(section.mode) == nil { problems.append("metrics.mode \(section.mode.debugDescription) is not an octal mode like 0660") }
            return problems
        }
        if TCPAddress(section.listen)?.isNumeric != true {
            return ["metrics.listen \(section.listen.debugDescription) is not NUMERIC-ADDRESS:PORT (e.g. 127.0.0.1:9741, [::1]:9741) or an absolute socket path"]
        }
        return []
    }
}
