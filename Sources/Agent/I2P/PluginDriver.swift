import Config
import Foundation
import IPC
import Logging
import NIOPosix
import Synchronization

/// Docker's remote network driver API, one call at a time: decides, records under
/// `state_dir`, asks the helper for links, and answers. Calls block on the helper
/// (never on SAM or the Docker API), so they run on NIO's thread pool, one after another.
final class PluginDriver: Sendable {
    /// What the rest of the service hears about (called after the answer is decided).
    struct Events: Sendable {
        var networksChanged: @Sendable () -> Void = {}
        var joined: @Sendable (PluginEndpoint) -> Void = { _ in }
        var left: @Sendable (PluginEndpoint) -> Void = { _ in }
    }

    /// A link the helper took longer than this to bring up is undone and refused:
    /// dockerd waits for CreateEndpoint without a timeout of its own.
    static let linkDeadline: Duration = .seconds(20)

    let subnets: [IPv4Subnet]
    let store: PluginStore
    /// Every call, and every converge, holds this, one at a time: a converge never sees
    /// an endpoint half made (it would remove the new link as a stray).
    private let serial = Mutex(())
    let links: any I2PLinkControl
    let events: Events
    let logger: Logger

    init(subnets: [IPv4Subnet], store: PluginStore, links: any I2PLinkControl, events: Events, logger: Logger) {
        self.subnets = subnets; self.store = store; self.links = links; self.events = events; self.logger = logger
    }

    /// The JSON answer to POST `path` with `body`; a refusal is {"Err": text}.
    /// Blocks on the helper: call it off the event loops and the cooperative pool.
    func handle(_ path: String, body: [UInt8]) -> [UInt8] {
        serial.withLock { _ in
            do {
                let request = try PluginRequest(body)
                return Self.json(try answer(path, request))
            } catch {
                logger.warning("refused", metadata: ["call": "\(path)", "reason": "\(error)"])
                return Self.json(["Err": "bulkhead-i2p: \(error)"])
            }
        }
    }

    private func answer(_ path: String, _ request: PluginRequest) throws(PluginError) -> [String: Any] {
        switch path {
        case "/Plugin.Activate": return ["Implements": ["NetworkDriver"]]
        case "/NetworkDriver.GetCapabilities": return ["Scope": "local", "ConnectivityScope": "local"]
        case "/NetworkDriver.CreateNetwork": try createNetwork(request)
        case "/NetworkDriver.DeleteNetwork": try deleteNetwork(request)
        case "/NetworkDriver.CreateEndpoint": try createEndpoint(request)
        case "/NetworkDriver.DeleteEndpoint": try deleteEndpoint(request)
        case "/NetworkDriver.Join": return try join(request)
        case "/NetworkDriver.Leave": try leave(request)
        case "/NetworkDriver.EndpointOperInfo", "/NetworkDriver.DiscoverNew", "/NetworkDriver.DiscoverDelete",
             "/NetworkDriver.ProgramExternalConnectivity", "/NetworkDriver.RevokeExternalConnectivity":
            break
        default: throw PluginError("\(path) is not supported (a local network driver)")
        }
        return [:]
    }

    // MARK: networks

    private func createNetwork(_ request: PluginRequest) throws(PluginError) {
        let id = try request.id("NetworkID")
        let network = try Self.validateNetwork(request, subnets: subnets)
        try record { () throws(AtomicFile.Failure) in try store.put(network) }
        logger.notice("network created", metadata: ["network": "\(id.prefix(12))", "pool": "\(network.pool)", "gateway": "\(network.gateway)"])
        events.networksChanged()
        // The drop chains exist before the network's first link.
        convergeNow()
    }

    /// The network CreateNetwork describes, if this plugin serves it.
    static func validateNetwork(_ request: PluginRequest, subnets: [IPv4Subnet]) throws(PluginError) -> PluginNetwork {
        let id = try request.id("NetworkID")
        let served = subnets.map(\.description).joined(separator: ", ")
        if let v6 = request.objects("IPv6Data"), !v6.isEmpty {
            throw PluginError("IPv6 is not served (containers on I2P get no IPv6 at all): create the network without --ipv6")
        }
        let options = request.object("Options") ?? [:]
        if (options["com.docker.network.enable_ipv6"] as? Bool) == true {
            throw PluginError("IPv6 is not served (containers on I2P get no IPv6 at all): create the network without --ipv6")
        }
        if let generic = options["com.docker.network.generic"] as? [String: Any], !generic.isEmpty {
            throw PluginError("the driver takes no -o options; remove \(generic.keys.sorted().joined(separator: ", "))")
        }
        guard let v4 = request.objects("IPv4Data"), v4.count == 1 else {
            throw PluginError("give exactly one IPv4 subnet inside \(served) (docker network create --subnet ...)")
        }
        guard let poolText = v4[0]["Pool"] as? String, let pool = IPv4Subnet(poolText),
              subnets.contains(where: { $0.length <= pool.length && $0.contains(pool.network) }) else {
            throw PluginError("the network's subnet \(v4[0]["Pool"] as? String ?? "(none)") is not inside i2p.subnets (\(served)): use --subnet inside one of them")
        }
        guard pool.length <= 30 else { throw PluginError("subnet \(pool) is too small: /30 at most (a gateway and a container)") }
        guard let gatewayText = v4[0]["Gateway"] as? String, let (gateway, length) = Self.addressWithPrefix(gatewayText),
              length == pool.length, pool.contains(gateway.value),
              gateway.value != pool.network, gateway.value != pool.network | ~pool.mask else {
            throw PluginError("the network needs a gateway address inside \(pool) (docker network create --gateway)")
        }
        return PluginNetwork(id: id, pool: pool.description, gateway: gateway.description)
    }

    private func deleteNetwork(_ request: PluginRequest) throws(PluginError) {
        let id = try request.id("NetworkID")
        for endpoint in store.endpoints where endpoint.network == id { removeEndpoint(endpoint) }
        guard store.network(id) != nil else { return }
        try record { () throws(AtomicFile.Failure) in try store.removeNetwork(id) }
        logger.notice("network deleted", metadata: ["network": "\(id.prefix(12))"])
        events.networksChanged()
        // The last plugin network is gone: its drop chains go now, not at the next converge.
        if store.networks.isEmpty { convergeNow() }
    }

    // MARK: endpoints

    private func createEndpoint(_ request: PluginRequest) throws(PluginError) {
        let id = try request.id("EndpointID")
        let networkID = try request.id("NetworkID")
        guard let network = store.network(networkID), let pool = network.subnet else {
            throw PluginError("network \(networkID.prefix(12)) is unknown to the plugin (was its state under i2p.state_dir removed?)")
        }
        let interface = request.object("Interface") ?? [:]
        if let v6 = interface["AddressIPv6"] as? String, !v6.isEmpty { throw PluginError("IPv6 is not served: no IPv6 address may be given") }
        guard let text = interface["Address"] as? String, let (address, length) = Self.addressWithPrefix(text),
              length == pool.length, pool.contains(address.value) else {
            throw PluginError("the endpoint needs an IPv4 address inside \(pool) from IPAM")
        }
        let endpoint = PluginEndpoint(id: id, network: networkID, address: address.description, prefixLength: UInt8(length), gateway: network.gateway)
        guard let link = endpoint.link else { throw PluginError("address \(text) and gateway \(network.gateway) do not make a link") }
        if store.endpoint(id) == nil, store.endpoints.count >= I2PEndpoint.maxPerConverge {
            throw PluginError("the plugin serves at most \(I2PEndpoint.maxPerConverge) endpoints")
        }
        if let other = store.endpoints.first(where: { $0.id != id && $0.link?.key == link.key }) {
            throw PluginError("endpoint \(id.prefix(12)) shares its first 12 digits with endpoint \(other.id.prefix(24)); retry")
        }
        let existing = store.endpoint(id)
        if existing.map({ $0.address != endpoint.address || $0.network != networkID }) ?? true {
            try record { () throws(AtomicFile.Failure) in try store.put(endpoint) }
        }
        let started = ContinuousClock.now
        do {
            try links.linkUp(link)
        } catch {
            if existing == nil { try? store.removeEndpoint(id) }
            throw PluginError("the helper did not create the link for \(link): \(error)")
        }
        if ContinuousClock.now - started > Self.linkDeadline {
            removeEndpoint(endpoint)
            throw PluginError("the helper took longer than \(Self.linkDeadline) to create the link for \(link); undone, retry")
        }
        logger.notice("endpoint created", metadata: ["endpoint": "\(link.key)", "address": "\(link.address)/\(link.prefixLength)", "gateway": "\(link.gateway)"])
    }

    private func deleteEndpoint(_ request: PluginRequest) throws(PluginError) {
        let id = try request.id("EndpointID")
        if let endpoint = store.endpoint(id) {
            removeEndpoint(endpoint)
        } else if let key = EndpointKey(endpointID: id) {
            // Unknown after a restart is normal: a leftover link of that name goes anyway.
            do { try links.linkDown(key) } catch { logger.warning("link removal failed", metadata: ["endpoint": "\(key)", "error": "\(error)"]) }
        }
    }

    /// Forgets an endpoint and removes its link; failures are logged (converge repairs them).
    private func removeEndpoint(_ endpoint: PluginEndpoint) {
        if endpoint.joined { events.left(endpoint) }
        do { try store.removeEndpoint(endpoint.id) } catch { logger.error("cannot remove endpoint state", metadata: ["error": "\(error)"]) }
        guard let key = endpoint.link?.key else { return }
        do { try links.linkDown(key) } catch { logger.warning("link removal failed", metadata: ["endpoint": "\(key)", "error": "\(error)"]) }
        logger.notice("endpoint deleted", metadata: ["endpoint": "\(key)", "container": "\(endpoint.containerName ?? "-")"])
    }

    private func join(_ request: PluginRequest) throws(PluginError) -> [String: Any] {
        let id = try request.id("EndpointID")
        guard let link = store.endpoint(id)?.link else {
            throw PluginError("endpoint \(id.prefix(12)) is unknown to the plugin (was its state under i2p.state_dir removed?)")
        }
        let ports = PluginRequest.exposedTCPPorts(request.object("Options"))
        let joined = try record { () throws(AtomicFile.Failure) in try store.update(id) { $0.ports = ports; $0.joined = true } }
        if let joined { events.joined(joined) }
        return [
            "InterfaceName": ["SrcName": I2PLayout.containerInterface(link.key), "DstPrefix": "eth"],
            "Gateway": link.gateway.description,
            "DisableGatewayService": true,
        ]
    }

    private func leave(_ request: PluginRequest) throws(PluginError) {
        let id = try request.id("EndpointID")
        guard let endpoint = store.endpoint(id), endpoint.joined else { return }
        _ = try record { () throws(AtomicFile.Failure) in
            try store.update(id) { $0.joined = false; $0.containerID = nil; $0.containerName = nil; $0.identity = nil }
        }
        events.left(endpoint)
    }

    // MARK: converge

    /// The helper's links and rules made to match the endpoints on disk (between calls).
    func converge() async {
        // The helper's answers block: on NIO's thread pool, not the cooperative one.
        try? await NIOThreadPool.singleton.runIfActive { self.serial.withLock { _ in self.convergeNow() } }
    }

    /// One converge, holding `serial`.
    private func convergeNow() {
        let endpoints = store.endpoints.compactMap(\.link)
        do {
            try links.converge(endpoints, keepBase: !store.networks.isEmpty)
        } catch {
            logger.error("converge failed; retrying at the next interval", metadata: ["endpoints": .stringConvertible(endpoints.count), "error": "\(error)"])
        }
    }

    // MARK: helpers

    private func record<T>(_ body: () throws(AtomicFile.Failure) -> T) throws(PluginError) -> T {
        do { return try body() } catch { throw PluginError("cannot keep state: \(error)") }
    }

    /// "10.231.0.2/24" → the address and 24.
    static func addressWithPrefix(_ text: String) -> (IPv4Address, Int)? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = IPv4Address(String(parts[0])), let length = Int(parts[1]), (8...30).contains(length) else { return nil }
        return (address, length)
    }

    static func json(_ object: [String: Any]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }
}
