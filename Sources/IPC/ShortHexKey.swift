/// The first 12 lowercase hex digits of a Docker or Podman id: how container and
/// endpoint keys are spelled on the wire and in chain and link names. `Kind` names
/// the id it is taken from, so that a key of one kind never stands for the other.
public struct ShortHexKey<Kind: ShortHexKeyKind>: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static var length: Int { 12 }
    public let rawValue: String

    public init?(_ raw: String) {
        guard raw.utf8.count == Self.length, raw.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        rawValue = raw
    }

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    func encode(_ w: inout WireWriter) { w.string(rawValue) }

    static func decode(_ r: inout WireReader) throws(IPCError) -> Self {
        let raw = try r.string(max: length)
        guard let key = Self(raw) else { throw .malformed("invalid \(Kind.name) key \(raw.debugDescription)") }
        return key
    }
}

/// What a `ShortHexKey` is the key of.
public protocol ShortHexKeyKind {
    /// As errors name it: "endpoint", "container".
    static var name: String { get }
}
