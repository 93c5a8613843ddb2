import Foundation

/// What `<state_dir>/status.json` holds: every endpoint the plugin serves and every
/// container's I2P addresses with the state of each session.
struct I2PStatus: Codable, Equatable, Sendable {
    struct Endpoint: Codable, Equatable, Sendable {
        var endpoint: String
        var network: String
        var address: String
        var container: String?
        var identity: String?
        var ports: [UInt16]
    }
    var endpoints: [Endpoint]
    var containers: [I2PContainerStatus]

    init(endpoints: [PluginEndpoint], containers: [I2PContainerStatus]) {
        self.endpoints = endpoints.map {
            Endpoint(endpoint: String($0.id.prefix(12)), network: String($0.network.prefix(12)), address: $0.address,
                     container: $0.containerName, identity: $0.identity, ports: $0.ports)
        }
        self.containers = containers.sorted { $0.container < $1.container }
    }

    func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return Array((try? encoder.encode(self)) ?? Data("{}".utf8)) + [0x0A]
    }

    /// One line per container: `web: 80/tcp -> <b32> (up); outbound <b32> (up)`.
    func text() -> String {
        var lines: [String] = []
        for c in containers {
            var parts = c.services.map { "\($0.port.map { "\($0)/tcp" } ?? "?") -> \(Self.describe($0))" }
            parts.append("outbound \(Self.describe(c.outbound))")
            lines.append("\(c.container): " + parts.joined(separator: "; "))
        }
        let known = Set(containers.map(\.container))
        for e in endpoints where e.identity.map({ !known.contains($0) }) ?? true {
            var who = e.container ?? "(container not known yet)"
            if let identity = e.identity, identity != e.container { who += " (as \(identity))" }
            lines.append("\(who): \(e.address) on network \(e.network), no I2P session")
        }
        return lines.isEmpty ? "no container on a bulkhead-i2p network\n" : lines.joined(separator: "\n") + "\n"
    }

    private static func describe(_ s: I2PContainerStatus.Session) -> String {
        "\(s.address ?? "(no address yet)") (\(s.state)\(s.detail.map { ": \($0)" } ?? ""))"
    }
}
