import Config
import IPC

/// The endpoints the helper has linked (from `i2pLinkUp` and `i2pConverge`), and the
/// checks every endpoint passes before anything is applied for it.
struct I2PLinkState {
    /// As many as one converge can name: a larger set could not be converged.
    static let maxEndpoints = I2PEndpoint.maxPerConverge

    private let subnets: [IPv4Subnet]
    private(set) var endpoints: [EndpointKey: I2PEndpoint] = [:]

    init(subnets: [IPv4Subnet]) { self.subnets = subnets }

    /// Sorted by key, so that rendering is stable.
    var sorted: [I2PEndpoint] { endpoints.values.sorted { $0.key < $1.key } }

    mutating func insert(_ endpoint: I2PEndpoint) { endpoints[endpoint.key] = endpoint }
    mutating func remove(_ key: EndpointKey) { endpoints[key] = nil }
    mutating func replace(with list: [I2PEndpoint]) { endpoints = Dictionary(uniqueKeysWithValues: list.map { ($0.key, $0) }) }

    /// Refuses an endpoint that is not a host and its gateway inside ONE configured
    /// subnet (its prefix no wider than that subnet), or whose address is already
    /// another endpoint's address or gateway (the peer route would be ambiguous).
    func check(_ endpoint: I2PEndpoint, against others: [I2PEndpoint]) throws(Refusal) {
        guard endpoint.isCoherent else { throw Refusal(.policyRefused, "endpoint \(endpoint) is not one host and its gateway in a /8.../30") }
        let inOne = subnets.contains {
            $0.contains(endpoint.address.value) && $0.contains(endpoint.gateway.value) && endpoint.prefixLength >= $0.length
        }
        guard inOne else {
            throw Refusal(.policyRefused, "endpoint \(endpoint): address and gateway are not inside one of i2p.subnets [\(subnets.map(\.description).joined(separator: ", "))]")
        }
        for other in others where other.key != endpoint.key {
            if other.address == endpoint.address || other.gateway == endpoint.address || other.address == endpoint.gateway {
                throw Refusal(.policyRefused, "endpoint \(endpoint) clashes with endpoint \(other)")
            }
        }
    }

    /// `i2pLinkUp`: the endpoint against the others already linked, and the bound.
    func checkNew(_ endpoint: I2PEndpoint) throws(Refusal) {
        try check(endpoint, against: Array(endpoints.values))
        if endpoints[endpoint.key] == nil, endpoints.count >= Self.maxEndpoints {
            throw Refusal(.oversized, "already \(Self.maxEndpoints) i2p endpoints linked")
        }
    }

    /// `i2pConverge`: every endpoint against every other.
    func checkAll(_ list: [I2PEndpoint]) throws(Refusal) {
        for endpoint in list { try check(endpoint, against: list) }
    }
}
