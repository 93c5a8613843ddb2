import Foundation
import IPC
import Logging
import NIOCore

/// After Join (never inside the callback): finds the container behind an endpoint
/// through the Docker API, stops it if it could leak (`I2PAdmissionPolicy`), else
/// records it and puts it on I2P. A later `docker network connect` adds a path around
/// I2P: `check` repeats the check for one container (on that event, `I2PNetworkEvents`),
/// `recheck` for every container (periodically, the backstop).
struct I2PAdmission: Sendable {
    static let findFor: Duration = .seconds(30)
    static let requestTimeout: Duration = .seconds(10)
    static let bodyLimit = 4 << 20

    let http: UnixHTTPClient
    let store: PluginStore
    let sessions: any I2PSessionDirectory
    let logger: Logger

    func joined(_ endpoint: PluginEndpoint) async {
        let started = ContinuousClock.now
        while ContinuousClock.now - started < Self.findFor {
            do {
                if let id = try await containerID(of: endpoint) {
                    try await admit(id, endpoint: endpoint)
                    return
                }
            } catch {
                if Task.isCancelled { return }  // the service is stopping
                logger.warning("cannot learn the container behind an endpoint yet", metadata: ["endpoint": "\(endpoint.id.prefix(12))", "error": "\(error)"])
            }
            guard (try? await Task.sleep(for: .milliseconds(500))) != nil else { return }
            // Left (or deleted) in the meantime: nothing to do.
            guard store.endpoint(endpoint.id)?.joined == true else { return }
        }
        logger.error("no container found for an endpoint; it stays without I2P sessions", metadata: ["endpoint": "\(endpoint.id.prefix(12))"])
    }

    /// Checks every admitted container again.
    func recheck() async {
        for endpoint in store.endpoints where endpoint.joined { await check(endpoint) }
    }

    /// Checks the container behind an admitted endpoint again (after a `network connect`).
    /// One whose container was never found (the Docker API was away after Join) is
    /// looked up again, so it cannot escape the check for good.
    func check(_ endpoint: PluginEndpoint) async {
        do {
            var id = endpoint.containerID
            if id == nil { id = try await containerID(of: endpoint) }
            guard let id else { return }
            try await admit(id, endpoint: endpoint)
        } catch RuntimeAPIError.http(_, 404, _, _) {
            return  // gone: Leave follows
        } catch {
            logger.warning("cannot check a container", metadata: ["container": "\(endpoint.containerName ?? endpoint.containerID ?? "endpoint " + endpoint.id.prefix(12))", "error": "\(error)"])
        }
    }

    private func containerID(of endpoint: PluginEndpoint) async throws -> String? {
        let query = RuntimeAPI.filters(["network": [endpoint.network]])
        let list = try await get([RuntimeJSON.Summary].self, "/containers/json?all=1&filters=\(query)")
        return list.first { ($0.networkSettings?.networks ?? [:]).values.contains { $0.endpointID == endpoint.id } }?.id
    }

    private func admit(_ id: String, endpoint: PluginEndpoint) async throws {
        guard let network = store.network(endpoint.network), let address = IPv4Address(endpoint.address) else { return }
        let container = try await get(RuntimeJSON.Inspect.self, "/containers/\(id)/json")
        var imageLabels: [String: String]?
        if let image = container.image, (container.config?.labels ?? [:])[I2PAdmissionPolicy.identityLabel] != nil {
            let path = "/images/\(image.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? image)/json"
            imageLabels = (try? await get(RuntimeJSON.Image.self, path))?.config?.labels ?? nil
        }
        switch I2PAdmissionPolicy.verdict(container, imageLabels: imageLabels, network: network) {
        case .stop(let name, let reason):
            logger.error("stopping container \(name): \(reason)")
            _ = try await http.post("/containers/\(id)/kill", limit: Self.bodyLimit, timeout: Self.requestTimeout)
        case .admit(let name, let identity, let note):
            if let note { logger.warning("container \(name): \(note)") }
            let before = store.endpoint(endpoint.id)
            guard let after = try store.update(endpoint.id, { $0.containerID = id; $0.containerName = name; $0.identity = identity }),
                  after.joined else { return }
            if before?.identity != identity {
                logger.notice("container \(name) on I2P as \(identity)", metadata: ["address": "\(address)", "ports": "\(after.ports)"])
            }
            sessions.attach(container: identity, address: address, ports: after.ports)
        }
    }

    private func get<T: Decodable>(_ type: T.Type, _ target: String) async throws -> T {
        let body = try await http.get(target, limit: Self.bodyLimit, timeout: Self.requestTimeout)
        do { return try JSONDecoder().decode(type, from: Data(body.readableBytesView)) } catch {
            throw RuntimeAPIError.malformed(request: UnixHTTPClient.describe(target), detail: "\(error)")
        }
    }
}

