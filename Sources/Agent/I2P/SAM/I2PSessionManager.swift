import IPC
import Logging
import NIOCore
import Synchronization

/// The SAM side of the i2p service: per container one outbound session and one session
/// per exposed TCP port (i2pd allows one acceptor per destination), each on its own
/// control socket with its key kept under the container's name. Sessions come up in
/// `run`'s children; `connect` uses the outbound one, waiting a bounded time for it to come up.
final class I2PSessionManager: I2PSessionDirectory {
    private struct Container {
        var address: IPv4Address
        var outbound: I2PSession
        var services: [UInt16: I2PSession]
        var all: [I2PSession] { [outbound] + services.values }
    }

    private let options: SAMSessionOptions
    private let store: I2PKeyStore
    private let group: any EventLoopGroup
    private let logger: Logger
    private let containers = Mutex<[String: Container]>([:])
    /// When each key's session was last closed ("container/role"): reused no sooner than
    /// `options.firstRetry` later.
    private let closedAt = Mutex<[String: ContinuousClock.Instant]>([:])
    /// Sessions made, and when each may start, for `run`.
    private let made: AsyncStream<(I2PSession, notBefore: ContinuousClock.Instant)>
    private let begin: AsyncStream<(I2PSession, notBefore: ContinuousClock.Instant)>.Continuation

    /// No session starts before this: an agent that was killed left its sessions to
    /// i2pd, which tears them down about 5 s after their sockets closed, and would take a
    /// destination re-created from the same key with them.
    private let firstStart: ContinuousClock.Instant

    init(options: SAMSessionOptions, store: I2PKeyStore, group: any EventLoopGroup, logger: Logger) {
        self.options = options; self.store = store; self.group = group; self.logger = logger
        firstStart = .now + options.firstRetry
        (made, begin) = AsyncStream.makeStream(of: (I2PSession, notBefore: ContinuousClock.Instant).self)
    }

    /// Lives every session in a child task until the calling task is cancelled; when it
    /// returns, every session has closed its sockets.
    func run() async {
        await withDiscardingTaskGroup { lives in
            for await (session, notBefore) in made { lives.addTask { await session.live(notBefore: notBefore) } }
        }
    }

    func attach(container name: String, address: IPv4Address, ports: [UInt16]) {
        guard I2PKeyStore.isContainerName(name) else {
            logger.error("i2p: refused to attach \"\(name.prefix(80))\": not a Docker container name")
            return
        }
        let wanted = Set(ports)
        var stopped = [I2PSession]()
        containers.withLock { all in
            guard var container = all[name] else {
                let outbound = session(name, .outbound)
                all[name] = Container(address: address, outbound: outbound,
                                      services: Dictionary(uniqueKeysWithValues: wanted.map { ($0, session(name, .service(port: $0))) }))
                return
            }
            container.address = address
            for (port, session) in container.services where !wanted.contains(port) {
                stopped.append(session)
                container.services[port] = nil
            }
            for port in wanted where container.services[port] == nil {
                container.services[port] = session(name, .service(port: port))
            }
            all[name] = container
        }
        stop(stopped)
    }

    func detach(container name: String) {
        stop(containers.withLock { $0.removeValue(forKey: name)?.all ?? [] })
    }

    func connect(from name: String, to host: String, on loop: any EventLoop) async throws -> (channel: any Channel, leftover: ByteBuffer?) {
        guard let target = I2PHostName(host) else { throw I2PConnectFailure(host: host, from: name, reason: "not an .i2p name") }
        let id = try await outboundID(of: name, for: host)
        do {
            let destination = switch target {
            case .b32(let b32): b32
            case .name(let name): try await lookup(name, on: loop)
            }
            let stream = try await SAMConnection.open(options.bridge, on: loop, timeout: options.requestTimeout)
            _ = try await stream.request("STREAM CONNECT ID=\(id) DESTINATION=\(destination) SILENT=false", timeout: options.connectTimeout)
                .expect("STREAM", "STATUS")
            return try await stream.handOff()
        } catch {
            throw I2PConnectFailure(host: target.text, from: name, reason: "\(error)")
        }
    }

    /// The container's live outbound session. A container that has just started is
    /// attached once its inspection ends, and its tunnels take tens of seconds: its
    /// first connections wait for that (bounded) instead of failing.
    private func outboundID(of name: String, for host: String) async throws -> String {
        let deadline = ContinuousClock.now + options.sessionWait
        while true {
            let outbound = containers.withLock { $0[name]?.outbound }
            if let id = outbound?.liveID { return id }
            guard ContinuousClock.now < deadline else {
                guard let status = outbound?.status else { throw I2PConnectFailure(host: host, from: name, reason: "the container is not attached") }
                throw I2PConnectFailure(host: host, from: name, reason: "its outbound session is not up (\(status.state)\(status.detail.map { ": " + $0 } ?? ""))")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    func snapshot() -> [I2PContainerStatus] {
        containers.withLock { $0 }.sorted { $0.key < $1.key }.map { name, container in
            I2PContainerStatus(container: name, outbound: container.outbound.status,
                               services: container.services.sorted { $0.key < $1.key }.map { $0.value.status })
        }
    }

    /// A name's destination (base64), through NAMING LOOKUP on a socket of its own:
    /// an error on a session's control socket would end that session.
    private func lookup(_ name: String, on loop: any EventLoop) async throws -> String {
        let naming = try await SAMConnection.open(options.bridge, on: loop, timeout: options.requestTimeout)
        defer { naming.close() }
        let reply = try await naming.request("NAMING LOOKUP NAME=\(name)", timeout: options.requestTimeout).expect("NAMING", "REPLY")
        guard let destination = reply.fields["VALUE"].flatMap({ I2PDestination(base64: $0) }) else {
            throw SAMError.malformed("a NAMING REPLY without a destination")
        }
        return destination.base64
    }

    /// A new session, handed to `run` (it starts after the key's cool-down, if it was closed moments ago).
    private func session(_ name: String, _ role: I2PKeyStore.Role) -> I2PSession {
        let target: @Sendable () -> SocketAddress?
        if case .service(let port) = role {
            target = { [weak self] in
                guard let address = self?.containers.withLock({ $0[name]?.address }) else { return nil }
                return try? SocketAddress(ipAddress: address.description, port: Int(port))
            }
        } else {
            target = { nil }
        }
        let session = I2PSession(container: name, role: role, context: .init(
            options: options, store: store, loop: group.next(), logger: logger, target: target))
        let notBefore = max(closedAt.withLock { $0["\(name)/\(role)"] }.map { $0 + options.firstRetry } ?? .now, firstStart)
        begin.yield((session, notBefore: notBefore))
        return session
    }

    private func stop(_ sessions: [I2PSession]) {
        let now = ContinuousClock.now
        closedAt.withLock { closed in
            closed = closed.filter { now - $0.value < options.firstRetry }
            for session in sessions { closed["\(session.container)/\(session.role)"] = now }
        }
        for session in sessions { session.stop() }
    }
}

/// Why a container's stream could not be opened, for the log and the container's refusal.
struct I2PConnectFailure: Error, CustomStringConvertible {
    var host: String
    var from: String
    var reason: String

    var description: String { "i2p: \(from) cannot reach \(host): \(reason)" }
}
