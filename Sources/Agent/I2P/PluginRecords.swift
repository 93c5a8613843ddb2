import Config
import IPC

/// A plugin network as kept on disk (`networks/<id>.json`).
struct PluginNetwork: Codable, Equatable, Sendable {
    var id: String
    /// IPAM's pool, "10.231.0.0/24".
    var pool: String
    var gateway: String

    var gatewayAddress: IPv4Address? { IPv4Address(gateway) }
    var subnet: IPv4Subnet? { IPv4Subnet(pool) }
}

/// A plugin endpoint as kept on disk (`endpoints/<id>.json`): what CreateEndpoint gave,
/// what Join added, and the container learned after Join.
struct PluginEndpoint: Codable, Equatable, Sendable {
    var id: String
    var network: String
    var address: String
    var prefixLength: UInt8
    var gateway: String
    /// Exposed TCP ports from Join (empty before Join).
    var ports: [UInt16] = []
    var joined = false
    /// The container behind it (id, name) and the identity its sessions use.
    var containerID: String?
    var containerName: String?
    var identity: String?

    /// The helper's typed view; nil if the record is not coherent (then it is ignored).
    var link: I2PEndpoint? {
        guard let key = EndpointKey(endpointID: id), let address = IPv4Address(address), let gateway = IPv4Address(gateway) else { return nil }
        let endpoint = I2PEndpoint(key: key, address: address, prefixLength: prefixLength, gateway: gateway)
        return endpoint.isCoherent ? endpoint : nil
    }
}

/// Docker's network and endpoint ids: 64 lowercase hex digits (they also name files).
enum DockerID {
    static func isValid(_ id: String) -> Bool {
        id.utf8.count == 64 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
