/// The typed vocabulary of netfilter intents: what a container's rules may be.
/// The agent never sends rule text; the helper renders these into rules of the
/// chains it owns, after checking every field again.

public enum NetProtocol: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case tcp = 6
    case udp = 17

    public var description: String { self == .tcp ? "tcp" : "udp" }

    public init?(name: String) {
        switch name.lowercased() {
        case "tcp": self = .tcp
        case "udp": self = .udp
        default: return nil
        }
    }
}

/// A unicast IPv4 address a container may have (no 0/8, loopback, multicast, broadcast).
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    public let value: UInt32

    public init?(_ value: UInt32) {
        let first = value >> 24
        guard first != 0, first != 127, first < 224 else { return nil }
        self.value = value
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard (1...3).contains(p.count), p.allSatisfy(\.isASCII), let octet = UInt8(p), p == "\(octet)" else { return nil }
            v = v << 8 | UInt32(octet)
        }
        self.init(v)
    }

    public var description: String { "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)" }
}

/// The first 12 hex digits of a container id: names its chains (BHN-, BHF-, BHM-).
public typealias ContainerKey = ShortHexKey<ContainerKeyKind>

/// A container, as the kind of a `ContainerKey`.
public enum ContainerKeyKind: ShortHexKeyKind {
    public static var name: String { "container" }
}

extension ContainerKey {
    /// From a full container id (Docker and Podman use 64 lowercase hex digits).
    public init?(containerID: String) { self.init(String(containerID.prefix(Self.length))) }
}

/// One rule a container causes.
public enum ContainerRule: Hashable, Sendable {
    /// nat: traffic to `port` is sent to the container's `address:targetPort`.
    case dnat(NetProtocol, port: UInt16, to: IPv4Address, targetPort: UInt16)
    /// filter: forwarded traffic to the container's `address:port` is accepted.
    case forward(NetProtocol, to: IPv4Address, port: UInt16)
    /// mangle: replies from the container's published `port` get the fwmark `mark`.
    case mark(NetProtocol, from: IPv4Address, port: UInt16, mark: UInt32)

    static let dnatTag: UInt8 = 1, forwardTag: UInt8 = 2, markTag: UInt8 = 3

    func encode(_ w: inout WireWriter) {
        switch self {
        case .dnat(let p, let port, let to, let target):
            w.u8(Self.dnatTag); w.u8(p.rawValue); w.u16(port); w.u32(to.value); w.u16(target)
        case .forward(let p, let to, let port):
            w.u8(Self.forwardTag); w.u8(p.rawValue); w.u32(to.value); w.u16(port)
        case .mark(let p, let from, let port, let mark):
            w.u8(Self.markTag); w.u8(p.rawValue); w.u32(from.value); w.u16(port); w.u32(mark)
        }
    }

    static func decode(_ r: inout WireReader) throws(IPCError) -> ContainerRule {
        let tag = try r.u8()
        guard let proto = NetProtocol(rawValue: try r.u8()) else { throw .malformed("protocol must be tcp or udp") }
        func port(_ v: UInt16) throws(IPCError) -> UInt16 {
            guard v > 0 else { throw .malformed("port 0") }
            return v
        }
        func address(_ v: UInt32) throws(IPCError) -> IPv4Address {
            guard let a = IPv4Address(v) else { throw .malformed("not a unicast container address") }
            return a
        }
        switch tag {
        case dnatTag:
            let p = try port(try r.u16()), to = try address(try r.u32()), target = try port(try r.u16())
            return .dnat(proto, port: p, to: to, targetPort: target)
        case forwardTag:
            let to = try address(try r.u32()), p = try port(try r.u16())
            return .forward(proto, to: to, port: p)
        case markTag:
            let from = try address(try r.u32()), p = try port(try r.u16()), mark = try r.u32()
            guard mark != 0 else { throw .malformed("mark 0") }
            return .mark(proto, from: from, port: p, mark: mark)
        default:
            throw .malformed("unknown rule kind \(tag)")
        }
    }
}

/// The complete rules of one container (empty: the container has none any more).
public struct ContainerRuleSet: Hashable, Sendable {
    public static let maxRules = 256
    public var key: ContainerKey
    public var rules: [ContainerRule]

    public init(key: ContainerKey, rules: [ContainerRule]) { self.key = key; self.rules = rules }
}

/// How a staged batch is committed.
public enum NetfilterCommitMode: UInt8, Sendable {
    /// Only the staged containers change.
    case changes = 1
    /// The staged containers are the whole desired state: every other container
    /// chain is removed (start-up, reconnects, periodic verification).
    case replaceAll = 2
}

extension ContainerRuleSet {
    /// Payload of `netfilterStage`: u16 count, then per set: key, u16 rule count, rules.
    public static func encode(_ sets: [ContainerRuleSet], _ w: inout WireWriter) {
        w.u16(UInt16(sets.count))
        for set in sets {
            set.key.encode(&w)
            w.u16(UInt16(set.rules.count))
            for rule in set.rules { rule.encode(&w) }
        }
    }

    public static func decodeList(_ r: inout WireReader) throws(IPCError) -> [ContainerRuleSet] {
        let count = Int(try r.u16())
        guard count > 0 else { throw .malformed("an empty stage") }
        var sets: [ContainerRuleSet] = []
        for _ in 0..<count {
            let key = try ContainerKey.decode(&r)
            let n = Int(try r.u16())
            guard n <= maxRules else { throw .malformed("more than \(maxRules) rules for one container") }
            var rules: [ContainerRule] = []
            for _ in 0..<n { rules.append(try ContainerRule.decode(&r)) }
            sets.append(ContainerRuleSet(key: key, rules: rules))
        }
        return sets
    }

    /// Splits sets into stage payloads that fit one request frame each.
    public static func stagePayloads(_ sets: [ContainerRuleSet], limit: Int = 3800) -> [[ContainerRuleSet]] {
        var batches: [[ContainerRuleSet]] = [], current: [ContainerRuleSet] = [], size = 2
        for set in sets {
            var w = WireWriter()
            encode([set], &w)
            let cost = w.bytes.count - 2
            if !current.isEmpty, size + cost > limit || current.count == Int(UInt16.max) {
                batches.append(current); current = []; size = 2
            }
            current.append(set); size += cost
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }
}
