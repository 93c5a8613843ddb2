/// A config value written as text (in YAML, `--set` and the environment) and parsed
/// once, when the config is decoded. It encodes back to its text, so the config the
/// helper hands to the agent in `hello` decodes to the same typed value.
public protocol ConfigText: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Parses `text`, or says what is wrong with it in words that follow the key
    /// (`"rw" is not an octal mode like 0660`); the loader puts the key in front.
    init(parsing text: String) throws(ConfigTextProblem)
    /// The value as it is written in config.
    var text: String { get }
}

/// Why a config text does not parse; the loader names the key.
public struct ConfigTextProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension ConfigText {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath, debugDescription: error.description, underlyingError: error))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    public var description: String { text }
}

/// Values whose defaults are written as text in code ("0660", "10s"). Not for the
/// address types: their failable `init?(_:)` would be shadowed by the literal.
public protocol ConfigLiteral: ConfigText, ExpressibleByStringLiteral where StringLiteralType == String {}

extension ConfigLiteral {
    /// A literal that does not parse is a programming error, caught by the first
    /// test that touches it.
    public init(stringLiteral value: String) {
        do { try self.init(parsing: value) } catch { preconditionFailure("config literal \(value.debugDescription) \(error.description)") }
    }
}
