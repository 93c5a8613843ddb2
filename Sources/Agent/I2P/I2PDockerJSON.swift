/// The fields of Docker's Engine API the i2p plugin reads to learn and check the
/// container behind an endpoint. Everything else is ignored.
enum I2PDockerJSON {
    /// An entry of `GET /containers/json` (its networks carry the endpoint ids).
    struct Summary: Decodable {
        var id: String
        var networkSettings: NetworkSettings?
        enum CodingKeys: String, CodingKey { case id = "Id", networkSettings = "NetworkSettings" }
    }

    struct NetworkSettings: Decodable {
        var networks: [String: Attachment]?
        enum CodingKeys: String, CodingKey { case networks = "Networks" }
    }

    struct Attachment: Decodable {
        var networkID: String?
        var endpointID: String?
        enum CodingKeys: String, CodingKey { case networkID = "NetworkID", endpointID = "EndpointID" }
    }

    /// `GET /containers/{id}/json`.
    struct Inspect: Decodable {
        var id: String
        var name: String
        var image: String?
        var config: Config?
        var hostConfig: HostConfig?
        var networkSettings: NetworkSettings?
        enum CodingKeys: String, CodingKey {
            case id = "Id", name = "Name", image = "Image", config = "Config", hostConfig = "HostConfig", networkSettings = "NetworkSettings"
        }
    }

    struct Config: Decodable {
        var labels: [String: String]?
        enum CodingKeys: String, CodingKey { case labels = "Labels" }
    }

    struct HostConfig: Decodable {
        var dns: [String]?
        enum CodingKeys: String, CodingKey { case dns = "Dns" }
    }

    /// `GET /images/{id}/json`: only its labels.
    struct Image: Decodable {
        var config: Config?
        enum CodingKeys: String, CodingKey { case config = "Config" }
    }
}
