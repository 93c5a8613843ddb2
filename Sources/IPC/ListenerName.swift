/// The name of a socket the helper binds from its own configuration. Names are
/// short identifiers, never paths: `^[a-z][a-z0-9_-]{0,31}$`.
public struct ListenerName: Hashable, Sendable, CustomStringConvertible {
    public static let maxLength = 32
    public let rawValue: String

    public init?(_ raw: String) {
        let bytes = Array(raw.utf8)
        guard let first = bytes.first, bytes.count <= Self.maxLength, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first),
              bytes.allSatisfy({ Self.allowed($0) }) else { return nil }
        rawValue = raw
    }

    private static func allowed(_ b: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
            || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    public var description: String { rawValue }
}

/// The names the helper's config defines, spelled once. Each literal satisfies the
/// pattern, so the unwraps cannot fail.
extension ListenerName {
    /// The observability listener (`metrics.listen`): /metrics, /healthz, /status.
    public static let metrics = ListenerName("metrics")!
    /// The router's socket (`router.listen`).
    public static let router = ListenerName("router")!
    /// The audit proxy's socket (`audit.listen`), and its upstream (`audit.upstream`).
    public static let audit = ListenerName("audit")!
    /// The i2p network plugin's socket (`i2p.plugin_socket`).
    public static let i2pPlugin = ListenerName("i2p-plugin")!
    /// The i2p service's Docker upstream (`i2p.docker_socket`).
    public static let i2p = ListenerName("i2p")!
    /// netwatch's container runtime upstream (`netwatch.runtime_api`).
    public static let netwatch = ListenerName("netwatch")!
}

/// In config, a listener's name is a YAML key (`listeners: {NAME: ...}`): a name that
/// breaks the pattern does not decode.
extension ListenerName: Codable, CodingKeyRepresentable {
    public var codingKey: any CodingKey { Key(stringValue: rawValue) }

    public init?<T: CodingKey>(codingKey: T) { self.init(codingKey.stringValue) }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let name = ListenerName(raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "names are [a-z][a-z0-9_-]{0,31}"))
        }
        self = name
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    private struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
