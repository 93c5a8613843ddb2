import Foundation

/// A remote-driver request body: a JSON object whose fields are read one by one
/// (Options mix strings, booleans, objects and arrays, so no fixed Codable shape).
struct PluginRequest {
    let fields: [String: Any]

    init(_ body: [UInt8]) throws(PluginError) {
        if body.isEmpty { fields = [:]; return }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw PluginError("the request body is not a JSON object")
        }
        fields = object
    }

    func string(_ key: String) -> String? { fields[key] as? String }
    func object(_ key: String) -> [String: Any]? { fields[key] as? [String: Any] }
    func objects(_ key: String) -> [[String: Any]]? { fields[key] as? [[String: Any]] }

    /// A Docker id field (network or endpoint), checked: it also names a file.
    func id(_ key: String) throws(PluginError) -> String {
        guard let id = string(key), DockerID.isValid(id) else { throw PluginError("\(key) is missing or not 64 hex digits") }
        return id
    }

    /// TCP ports of `com.docker.network.endpoint.exposedports` ([{"Proto":6,"Port":80}]).
    static func exposedTCPPorts(_ options: [String: Any]?) -> [UInt16] {
        guard let list = options?["com.docker.network.endpoint.exposedports"] as? [[String: Any]] else { return [] }
        let ports = list.compactMap { entry -> UInt16? in
            guard (entry["Proto"] as? NSNumber)?.intValue == 6, let port = (entry["Port"] as? NSNumber)?.intValue,
                  (1...65535).contains(port) else { return nil }
            return UInt16(port)
        }
        return Array(Set(ports)).sorted()
    }
}

/// A refusal the plugin sends back as {"Err": text}: the text reaches the user.
struct PluginError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
