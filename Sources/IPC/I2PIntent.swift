/// The typed vocabulary of the i2p plugin's link intents. The agent names an
/// endpoint (by the first 12 hex digits of Docker's endpoint id) and the addresses
/// Docker's IPAM gave it; the helper checks them against `i2p.subnets` in its own
/// config and derives every interface name, chain and port itself.

/// The first 12 hex digits of a Docker endpoint id: names the endpoint's veth pair.
public typealias EndpointKey = ShortHexKey<EndpointKeyKind>

/// Docker's network endpoint, as the kind of an `EndpointKey`.
public enum EndpointKeyKind: ShortHexKeyKind {
    public static var name: String { "endpoint" }
}

extension EndpointKey {
    /// From a full endpoint id (64 lowercase hex digits).
    public init?(endpointID: String) {
        guard endpointID.utf8.count == 64 else { return nil }
        self.init(String(endpointID.prefix(Self.length)))
    }
}

/// One plugin endpoint: its container address and prefix, and its network's gateway.
public struct I2PEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var key: EndpointKey
    public var address: IPv4Address
    public var prefixLength: UInt8
    public var gateway: IPv4Address

    public init(key: EndpointKey, address: IPv4Address, prefixLength: UInt8, gateway: IPv4Address) {
        self.key = key; self.address = address; self.prefixLength = prefixLength; self.gateway = gateway
    }

    public var description: String { "\(key) \(address)/\(prefixLength) gw \(gateway)" }

    /// Both addresses in one subnet of this prefix, neither its network nor its broadcast
    /// address, and different from each other. The helper also checks `i2p.subnets`.
    public var isCoherent: Bool {
        guard (8...30).contains(prefixLength), address != gateway else { return false }
        let mask: UInt32 = ~(UInt32.max >> UInt32(prefixLength))
        let network = address.value & mask
        guard gateway.value & mask == network else { return false }
        return [address.value, gateway.value].allSatisfy { $0 != network && $0 != network | ~mask }
    }

    func encode(_ w: inout WireWriter) {
        key.encode(&w); w.u32(address.value); w.u8(prefixLength); w.u32(gateway.value)
    }

    static func decode(_ r: inout WireReader) throws(IPCError) -> I2PEndpoint {
        let key = try EndpointKey.decode(&r)
        guard let address = IPv4Address(try r.u32()) else { throw .malformed("endpoint address is not unicast") }
        let prefix = try r.u8()
        guard let gateway = IPv4Address(try r.u32()) else { throw .malformed("gateway is not unicast") }
        let endpoint = I2PEndpoint(key: key, address: address, prefixLength: prefix, gateway: gateway)
        guard endpoint.isCoherent else { throw .malformed("endpoint \(endpoint) is not one host and its gateway in a /8.../30") }
        return endpoint
    }

    /// The most endpoints one converge may name (a frame holds about 170 of 22 bytes).
    public static let maxPerConverge = 128

    static func encodeList(_ list: [I2PEndpoint], _ w: inout WireWriter) {
        w.u16(UInt16(list.count))
        for e in list { e.encode(&w) }
    }

    static func decodeList(_ r: inout WireReader) throws(IPCError) -> [I2PEndpoint] {
        let n = Int(try r.u16())
        guard n <= maxPerConverge else { throw .malformed("more than \(maxPerConverge) endpoints") }
        var list: [I2PEndpoint] = []
        for _ in 0..<n { list.append(try decode(&r)) }
        guard Set(list.map(\.key)).count == list.count else { throw .malformed("an endpoint key appears twice") }
        return list
    }
}

/// Names the helper derives for the i2p plugin (shared: the agent answers Join with them).
public enum I2PLayout {
    /// Host end of an endpoint's veth pair: `bhi` + key (15 bytes, the kernel's limit).
    public static func hostInterface(_ key: EndpointKey) -> String { "bhi" + key.rawValue }
    /// Container end, moved and renamed by dockerd: `bhc` + key.
    public static func containerInterface(_ key: EndpointKey) -> String { "bhc" + key.rawValue }
    /// Matches every host end (iptables' `+` wildcard).
    public static let hostInterfaceWildcard = "bhi+"
}
