/// The few fields netwatch and the i2p plugin read from the Engine API's JSON
/// (Docker's names, which Podman's compat API uses too). Everything else is ignored.
enum RuntimeJSON {
    /// One entry of `GET /containers/json` (its networks carry the endpoint ids).
    struct Summary: Decodable {
        var id: String
        var networkSettings: Inspect.NetworkSettings?
        enum CodingKeys: String, CodingKey { case id = "Id", networkSettings = "NetworkSettings" }
    }

    /// `GET /containers/{id}/json`.
    struct Inspect: Decodable {
        var id: String
        var name: String
        /// The image's id ("sha256:..." from Docker and Podman alike).
        var image: String?
        var state: State?
        var config: Config?
        var networkSettings: NetworkSettings?
        var hostConfig: HostConfig?

        struct State: Decodable {
            var running: Bool?
            enum CodingKeys: String, CodingKey { case running = "Running" }
        }
        struct Config: Decodable {
            var labels: [String: String]?
            enum CodingKeys: String, CodingKey { case labels = "Labels" }
        }
        struct NetworkSettings: Decodable {
            var networks: [String: Endpoint]?
            var ports: [String: [Binding]?]?
            enum CodingKeys: String, CodingKey { case networks = "Networks", ports = "Ports" }
        }
        struct Endpoint: Decodable {
            var ipAddress: String?
            var networkID: String?
            var endpointID: String?
            enum CodingKeys: String, CodingKey { case ipAddress = "IPAddress", networkID = "NetworkID", endpointID = "EndpointID" }
        }
        struct HostConfig: Decodable {
            var portBindings: [String: [Binding]?]?
            var dns: [String]?
            enum CodingKeys: String, CodingKey { case portBindings = "PortBindings", dns = "Dns" }
        }
        /// A host binding; its fields do not matter, only that there is one.
        struct Binding: Decodable {}

        enum CodingKeys: String, CodingKey {
            case id = "Id", name = "Name", image = "Image", state = "State", config = "Config"
            case networkSettings = "NetworkSettings", hostConfig = "HostConfig"
        }
    }

    /// `GET /images/{id}/json`: only its labels.
    struct Image: Decodable {
        var config: Inspect.Config?
        enum CodingKeys: String, CodingKey { case config = "Config" }
    }

    /// One object of `GET /events`. Newer APIs dropped `status`/`id`; older
    /// daemons may send only those.
    struct Event: Decodable {
        var type: String?
        var action: String?
        var actor: Actor?
        var status: String?
        var id: String?

        struct Actor: Decodable {
            var id: String?
            var attributes: [String: String]?
            enum CodingKeys: String, CodingKey { case id = "ID", attributes = "Attributes" }
        }
        enum CodingKeys: String, CodingKey {
            case type = "Type", action = "Action", actor = "Actor", status, id
        }
    }

    /// `GET /version`.
    struct Version: Decodable {
        var version: String?
        var apiVersion: String?
        var components: [Component]?

        struct Component: Decodable {
            var name: String
            var version: String
            enum CodingKeys: String, CodingKey { case name = "Name", version = "Version" }
        }
        enum CodingKeys: String, CodingKey { case version = "Version", apiVersion = "ApiVersion", components = "Components" }
    }
}

extension RuntimeJSON.Inspect {
    /// The container as netwatch sees it, or nil when it is not for netwatch: not
    /// running, `label` not "true" (in any case), or not attached to `network`.
    func watched(network: String, label: String) -> WatchedContainer? {
        let labels = config?.labels ?? [:]
        guard state?.running == true,
              labels[label]?.lowercased() == "true",
              let endpoint = networkSettings?.networks?[network]
        else { return nil }
        let address = endpoint.ipAddress ?? ""
        return WatchedContainer(
            id: id,
            name: name.hasPrefix("/") ? String(name.dropFirst()) : name,
            ipv4: address.isEmpty ? nil : address,
            labels: labels,
            image: image ?? "",
            imageLabels: nil,
            publishedPorts: publishedPorts)
    }

    /// Ports with a host binding in either place: `NetworkSettings.Ports` is what is
    /// bound now, `HostConfig.PortBindings` what was asked for (right after `start`
    /// the former can still be empty).
    var publishedPorts: [PublishedPort] {
        let maps = [networkSettings?.ports, hostConfig?.portBindings].compactMap { $0 }
        let keys = maps.flatMap { map in map.filter { !($0.value ?? []).isEmpty }.keys }
        return Set(keys.compactMap(PublishedPort.init(key:))).sorted()
    }
}

extension PublishedPort {
    /// "80/tcp", "53/udp", or "80" (tcp); nil for other protocols (sctp) or a bad key.
    init?(key: String) {
        let parts = key.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let port = UInt16(first), port > 0 else { return nil }
        let proto = parts.count > 1 ? parts[1].lowercased() : "tcp"
        guard proto == "tcp" || proto == "udp" else { return nil }
        self.init(containerPort: port, proto: proto)
    }
}
