import Config
import IPC
import Logging
import NIOCore
import ServiceLifecycle

/// The i2p service's plugin side: the remote driver API on the helper's plugin socket,
/// links converged from the state on disk, DNS and the transparent proxy on each
/// gateway, containers checked and put on I2P after Join (and again on each `network
/// connect` and periodically), and status.json kept current.
struct I2PService: AgentService {
    static let statusEvery: Duration = .seconds(2)

    let settings: I2PSection
    let context: ServiceContext

    /// The sessions' check for /healthz: failing while any session is retrying (the SAM
    /// bridge is down or refuses), with the first reason; starting sessions do not fail it.
    static func report(_ containers: [I2PContainerStatus]) {
        let sessions = containers.flatMap { [$0.outbound] + $0.services }
        let retrying = sessions.filter { $0.state == "retrying" }
        let up = sessions.filter { $0.state == "up" }.count
        if let first = retrying.first {
            StatusBoard.shared.set("i2p", "sessions", healthy: false, state: "retrying", detail: "\(retrying.count) retrying: \(first.detail ?? "no reason given")")
        } else {
            StatusBoard.shared.set("i2p", "sessions", healthy: true, state: "ok")
        }
        StatusBoard.shared.facts("i2p") { ["containers": .count(containers.count), "sessions": .count(sessions.count), "sessions_up": .count(up)] }
    }

    func run() async throws {
        let store = PluginStore(directory: settings.stateDir)
        for problem in try store.load() { logger.warning("state file ignored", metadata: ["problem": "\(problem)"]) }
        let samOptions = try SAMSessionOptions(settings)
        let pool = FakePool(pool: settings.fakePool, path: settings.stateDir + "/names.json")
        try pool.load()
        let sessions = I2PSessionManager(options: samOptions, store: I2PKeyStore(stateDir: settings.stateDir), group: group, logger: Logger(label: "i2p.sam"))
        let helper = helper
        let docker = UnixHTTPClient(connect: { try helper.connectUpstream(ListenerName.i2p) }, group: group)
        let admission = I2PAdmission(http: docker, store: store, sessions: sessions, logger: logger)
        let runtime = RuntimeAPI(connect: { try helper.connectUpstream(ListenerName.i2p) }, group: group, logger: logger)
        let networkEvents = I2PNetworkEvents(runtime: runtime, store: store, admission: admission, logger: logger)
        let (changes, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let (joins, join) = AsyncStream.makeStream(of: PluginEndpoint.self)
        let events = PluginDriver.Events(
            networksChanged: { signal.yield() },
            joined: { endpoint in join.yield(endpoint) },
            left: { endpoint in
                if let identity = endpoint.identity { sessions.detach(container: identity) }
            })
        let driver = PluginDriver(subnets: settings.subnets, store: store, links: helper, events: events, logger: logger)

        // Containers that were on I2P before this agent started keep their identities.
        for endpoint in store.endpoints where endpoint.joined {
            guard let identity = endpoint.identity, let address = IPv4Address(endpoint.address) else { continue }
            sessions.attach(container: identity, address: address, ports: endpoint.ports)
        }
        await driver.converge()
        let throttle = LogThrottle(logger: logger)
        let responder = I2PDNSResponder(pool: pool, isKnownSource: { store.endpoint(address: $0) != nil }, note: { throttle.warning($0) })
        let proxy = TransparentProxy(pool: pool, store: store, sessions: sessions, log: throttle, logger: logger)
        let listeners = GatewayListeners(
            dnsPort: settings.dnsPort, transparentPort: settings.transparentPort, group: group, responder: responder, proxy: proxy, logger: logger)
        await listeners.sync(Self.gateways(store))

        let listener = try helper.bindUnixListener(ListenerName.i2pPlugin)  // already listening, root-only
        let server = try await PluginHTTPServer.serve(listener: listener, driver: driver, group: group)
        logger.notice("plugin listening", metadata: [
            "socket": "\(settings.pluginSocket)", "networks": .stringConvertible(store.networks.count), "endpoints": .stringConvertible(store.endpoints.count),
            "subnets": "\(settings.subnets.map(\.text).joined(separator: ","))", "fake_pool": "\(settings.fakePool)", "names": "\(pool.count)",
        ])

        StatusBoard.shared.set("i2p", "plugin", healthy: true, state: "listening")
        let status = I2PStatusWriter(path: settings.stateDir + "/status.json", logger: logger)
        let store2 = store
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    for await _ in changes { await listeners.sync(Self.gateways(store2)) }
                }
                tasks.addTask {
                    await withDiscardingTaskGroup { admissions in
                        for await endpoint in joins { admissions.addTask { await admission.joined(endpoint) } }
                    }
                }
                tasks.addTask { await sessions.run() }
                tasks.addTask { await proxy.run() }
                tasks.addTask { await networkEvents.run() }
                tasks.addTask {
                    let interval = settings.convergeInterval.duration
                    var sinceConverge: Duration = .zero
                    while !Task.isCancelled {
                        let snapshot = sessions.snapshot()
                        status.write(I2PStatus(endpoints: store2.endpoints, containers: snapshot))
                        Self.report(snapshot)
                        try? await Task.sleep(for: Self.statusEvery)
                        sinceConverge += Self.statusEvery
                        guard sinceConverge >= interval else { continue }
                        sinceConverge = .zero
                        await driver.converge()
                        await listeners.sync(Self.gateways(store2))
                        await admission.recheck()
                    }
                }
            }
        }
        signal.finish()
        try? await server.close()
        await listeners.closeAll()
        logger.notice("stopped")
    }

    static func gateways(_ store: PluginStore) -> Set<IPv4Address> { Set(store.networks.compactMap(\.gatewayAddress)) }
}
