/// The agent's observability listener: Prometheus metrics (`/metrics`), health
/// (`/healthz`) and status (`/status`, read by `bulkhead-agent status`). The helper
/// binds it like every other listener; the agent only serves it.
public struct MetricsSection: ConfigSection {
    public var enabled = true
    /// "ADDRESS:PORT" (numeric, loopback by default) or the absolute path of a Unix socket.
    public var listen: MetricsAddress = "127.0.0.1:9741"
    /// Mode and group of the Unix socket (ignored for TCP).
    public var mode: FileMode = "0660"
    public var group = "root"

    public init() {}

    public static var fields: [ConfigField<Self>] {
        [.init("enabled", \.enabled), .init("listen", \.listen), .init("mode", \.mode), .init("group", \.group)]
    }

    /// A Unix socket path rather than a TCP address.
    public var isUnix: Bool { if case .unix = listen { true } else { false } }

    static func problems(in section: MetricsSection) -> [String] {
        guard section.enabled else { return [] }
        switch section.listen {
        case .unix(let path):
            return ConfigValidator.isCleanAbsolutePath(path) ? [] : ["metrics.listen must be an absolute path without '..' or NUMERIC-ADDRESS:PORT"]
        case .tcp(let address):
            return address.isNumeric ? [] : ["metrics.listen \(address.text.debugDescription) is not NUMERIC-ADDRESS:PORT (e.g. 127.0.0.1:9741, [::1]:9741) or an absolute socket path"]
        }
    }
}
