import Foundation
import IPC
import Logging
import Synchronization

/// The plugin's networks and endpoints, in memory and under `state_dir` (one JSON
/// file each, written atomically), so every call about them works after a restart.
final class PluginStore: Sendable {
    static let recordLimit = 64 * 1024
    let directory: String
    private let state = Mutex<(networks: [String: PluginNetwork], endpoints: [String: PluginEndpoint])>(([:], [:]))

    init(directory: String) { self.directory = directory }

    private var networksDirectory: String { directory + "/networks" }
    private var endpointsDirectory: String { directory + "/endpoints" }

    /// Reads every record; files that do not decode are named in the returned problems.
    func load() throws(AtomicFile.Failure) -> [String] {
        try AtomicFile.makeDirectory(networksDirectory)
        try AtomicFile.makeDirectory(endpointsDirectory)
        var problems: [String] = []
        var networks: [String: PluginNetwork] = [:], endpoints: [String: PluginEndpoint] = [:]
        for file in AtomicFile.list(networksDirectory, suffix: ".json") {
            if let n: PluginNetwork = decode(networksDirectory + "/" + file, &problems), DockerID.isValid(n.id) { networks[n.id] = n }
        }
        for file in AtomicFile.list(endpointsDirectory, suffix: ".json") {
            if let e: PluginEndpoint = decode(endpointsDirectory + "/" + file, &problems), DockerID.isValid(e.id), e.link != nil {
                endpoints[e.id] = e
            }
        }
        state.withLock { $0 = (networks, endpoints) }
        return problems
    }

    private func decode<T: Decodable>(_ path: String, _ problems: inout [String]) -> T? {
        do {
            guard let bytes = try AtomicFile.read(path, limit: Self.recordLimit) else { return nil }
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            problems.append("\(path): \(error)")
            return nil
        }
    }

    var networks: [PluginNetwork] { state.withLock { Array($0.networks.values) }.sorted { $0.id < $1.id } }
    var endpoints: [PluginEndpoint] { state.withLock { Array($0.endpoints.values) }.sorted { $0.id < $1.id } }

    func network(_ id: String) -> PluginNetwork? { state.withLock { $0.networks[id] } }
    func endpoint(_ id: String) -> PluginEndpoint? { state.withLock { $0.endpoints[id] } }

    /// The endpoint whose container has `address` (the source of DNS queries and connections).
    func endpoint(address: IPv4Address) -> PluginEndpoint? {
        let text = address.description
        return state.withLock { $0.endpoints.values.first { $0.address == text } }
    }

    // Writes happen under the lock: two changes to one record never interleave.

    func put(_ network: PluginNetwork) throws(AtomicFile.Failure) {
        let path = "\(networksDirectory)/\(network.id).json"
        try state.withLock { (s) throws(AtomicFile.Failure) in
            try AtomicFile.write(Self.encode(network), to: path)
            s.networks[network.id] = network
        }
    }

    func removeNetwork(_ id: String) throws(AtomicFile.Failure) {
        let path = "\(networksDirectory)/\(id).json"
        try state.withLock { (s) throws(AtomicFile.Failure) in
            try AtomicFile.remove(path)
            s.networks[id] = nil
        }
    }

    func put(_ endpoint: PluginEndpoint) throws(AtomicFile.Failure) {
        _ = try update(endpoint.id, creating: endpoint) { _ in }
    }

    /// Changes a stored endpoint (if it still exists, or `creating` it) and writes it;
    /// returns the new record.
    @discardableResult
    func update(_ id: String, creating new: PluginEndpoint? = nil, _ change: (inout PluginEndpoint) -> Void) throws(AtomicFile.Failure) -> PluginEndpoint? {
        let path = "\(endpointsDirectory)/\(id).json"
        return try state.withLock { (s) throws(AtomicFile.Failure) -> PluginEndpoint? in
            guard var endpoint = new ?? s.endpoints[id] else { return nil }
            change(&endpoint)
            if endpoint == s.endpoints[id] { return endpoint }
            try AtomicFile.write(Self.encode(endpoint), to: path)
            s.endpoints[id] = endpoint
            return endpoint
        }
    }

    func removeEndpoint(_ id: String) throws(AtomicFile.Failure) {
        let path = "\(endpointsDirectory)/\(id).json"
        try state.withLock { (s) throws(AtomicFile.Failure) in
            try AtomicFile.remove(path)
            s.endpoints[id] = nil
        }
    }

    private static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Records are plain strings and numbers: encoding cannot fail.
        return Array((try? encoder.encode(value)) ?? Data())
    }
}
