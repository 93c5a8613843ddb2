/// A part of the config whose keys are declared once, in `fields`: the YAML name and
/// the property it fills. The property's declaration carries its default and its doc.
/// Decoding starts from `init()` (every default), refuses a key that is not a field,
/// and fills the fields that are present; encoding writes every field back.
public protocol ConfigSection: Codable, Equatable, Sendable {
    init()
    static var fields: [ConfigField<Self>] { get }
}

extension ConfigSection {
    /// The keys this section accepts, as written in YAML.
    public static var keys: [String] { fields.map(\.key) }

    public init(from decoder: any Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: ConfigKey.self)
        let known = Self.keys
        for key in container.allKeys where !known.contains(key.stringValue) {
            // A DecodingError, as decoders pass those through unchanged.
            throw DecodingError.dataCorrupted(.init(codingPath: container.codingPath + [key], debugDescription: "unknown key",
                                                    underlyingError: UnknownConfigKey(known: known)))
        }
        for field in Self.fields { try field.decode(&self, container) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ConfigKey.self)
        for field in Self.fields { try field.encode(self, &container) }
    }
}

/// One key of a section: decoded when present (the default stays otherwise), or
/// required.
public struct ConfigField<Section> {
    let key: String
    let decode: (inout Section, KeyedDecodingContainer<ConfigKey>) throws -> Void
    let encode: (Section, inout KeyedEncodingContainer<ConfigKey>) throws -> Void

    public init<Value: Codable>(_ key: String, _ property: WritableKeyPath<Section, Value>) {
        self.key = key
        decode = { section, container in
            if let value = try container.decodeIfPresent(Value.self, forKey: ConfigKey(key)) { section[keyPath: property] = value }
        }
        encode = { section, container in try container.encode(section[keyPath: property], forKey: ConfigKey(key)) }
    }

    /// A key that may be absent, and is then nil.
    public init<Value: Codable>(_ key: String, _ property: WritableKeyPath<Section, Value?>) {
        self.key = key
        decode = { section, container in section[keyPath: property] = try container.decodeIfPresent(Value.self, forKey: ConfigKey(key)) }
        encode = { section, container in try container.encodeIfPresent(section[keyPath: property], forKey: ConfigKey(key)) }
    }

    /// A key without a default: its absence is an error that names it.
    public static func required<Value: Codable>(_ key: String, _ property: WritableKeyPath<Section, Value>) -> Self {
        Self(key: key, decode: { section, container in
            section[keyPath: property] = try container.decode(Value.self, forKey: ConfigKey(key))
        }, encode: { section, container in try container.encode(section[keyPath: property], forKey: ConfigKey(key)) })
    }

    private init(key: String, decode: @escaping (inout Section, KeyedDecodingContainer<ConfigKey>) throws -> Void,
                 encode: @escaping (Section, inout KeyedEncodingContainer<ConfigKey>) throws -> Void) {
        self.key = key; self.decode = decode; self.encode = encode
    }
}

/// Any key, so that unknown ones can be seen and refused.
public struct ConfigKey: CodingKey {
    public let stringValue: String
    public var intValue: Int? { nil }
    public init(_ name: String) { stringValue = name }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

/// A key no section declares; the loader names it with the keys that are known there.
struct UnknownConfigKey: Error {
    let known: [String]
}
