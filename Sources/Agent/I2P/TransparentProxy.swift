import IPC
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// A container's TCP connection to a fake address, redirected to the gateway: maps
/// the original destination back to its `.i2p` name and the source to its container,
/// opens a stream from the container's outbound identity, and relays both ways.
/// Anything that cannot be reached closes the container's connection at once.
struct TransparentProxy: Sendable {
    /// getsockopt(SOL_IP, SO_ORIGINAL_DST): the destination before REDIRECT.
    static let solIP: Int32 = 0, soOriginalDst: Int32 = 80

    let pool: FakePool
    let store: PluginStore
    let sessions: any I2PSessionDirectory
    let log: LogThrottle
    let logger: Logger
    /// Accepted connections, from NIO's callback to `run`.
    private let connections: AsyncStream<any Channel>
    private let accept: AsyncStream<any Channel>.Continuation

    init(pool: FakePool, store: PluginStore, sessions: any I2PSessionDirectory, log: LogThrottle, logger: Logger) {
        self.pool = pool; self.store = store; self.sessions = sessions; self.log = log; self.logger = logger
        (connections, accept) = AsyncStream.makeStream(of: (any Channel).self)
    }

    struct Refusal: Error, CustomStringConvertible { var description: String }

    /// Called for each accepted connection (autoRead off, remote half-close allowed).
    func accepted(_ channel: any Channel) {
        if case .terminated = accept.yield(channel) { channel.close(promise: nil) }
    }

    /// Sets up each accepted connection in a child task, until the calling task is cancelled.
    func run() async {
        await withDiscardingTaskGroup { setups in
            for await channel in connections { setups.addTask { await serve(channel) } }
        }
    }

    private func serve(_ channel: any Channel) async {
        let started = ContinuousClock.now
        let (logger, connection) = ConnectionID.tagged(self.logger)
        var what = "connection from \(channel.remoteAddress?.description ?? "?")"
        do {
            let (identity, name) = try await route(channel)
            what = "\(identity) -> \(name)"
            let (upstream, leftover) = try await sessions.connect(from: identity, to: name, on: channel.eventLoop)
            try await splice(channel, upstream, leftover: leftover, what: what, started: started, logger: logger)
            logger.debug("stream open", metadata: ["stream": "\(what)", "setup_ms": .stringConvertible((ContinuousClock.now - started).milliseconds)])
        } catch {
            log.warning("\(what): closed: \(error)", metadata: ["conn": .stringConvertible(connection)])
            try? await channel.close()
        }
    }

    /// The container's identity and the name it wants.
    private func route(_ channel: any Channel) async throws -> (String, String) {
        guard let provider = channel as? any SocketOptionProvider, let source = channel.remoteAddress?.ipv4 else {
            throw Refusal(description: "not an IPv4 TCP connection")
        }
        let original: sockaddr_in = try await provider.unsafeGetSocketOption(
            level: SocketOptionLevel(Self.solIP), name: SocketOptionName(Self.soOriginalDst)).get()
        guard let destination = IPv4Address(UInt32(bigEndian: original.sin_addr.s_addr)) else { throw Refusal(description: "no original destination") }
        guard let name = pool.name(for: destination) else {
            throw Refusal(description: "\(destination) is no address the plugin's DNS handed out (ask for an .i2p name)")
        }
        return (try await identity(of: source), name)
    }

    /// How long a new container's first connection waits for its identity (its
    /// inspection through the Docker API, just after it joined).
    static let identityWait: Duration = .seconds(30)

    private func identity(of source: IPv4Address) async throws -> String {
        let deadline = ContinuousClock.now + Self.identityWait
        while true {
            guard let endpoint = store.endpoint(address: source) else { throw Refusal(description: "\(source) is no plugin endpoint") }
            if let identity = endpoint.identity { return identity }
            guard ContinuousClock.now < deadline else {
                throw Refusal(description: "the container at \(source) is still not on I2P after \(Self.identityWait) (was it stopped by the check?)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Joins the two channels with a relay (on the container's event loop), after writing `leftover`.
    private func splice(
        _ container: any Channel, _ upstream: any Channel, leftover: ByteBuffer?, what: String, started: ContinuousClock.Instant, logger: Logger
    ) async throws {
        guard upstream.eventLoop === container.eventLoop else {
            upstream.close(promise: nil)
            throw Refusal(description: "the stream came on another event loop")
        }
        try await container.eventLoop.submit {
            let counter = RelayCounter { c in
                logger.info("stream closed", metadata: [
                    "stream": "\(what)", "bytes_from_container": .stringConvertible(c.fromClient), "bytes_to_container": .stringConvertible(c.toClient),
                    "duration_ms": .stringConvertible((ContinuousClock.now - started).milliseconds),
                ])
            }
            let containerSide = RelayHandler(counter: counter, isClientSide: true)
            let upstreamSide = RelayHandler(counter: counter, isClientSide: false)
            RelayHandler.join(containerSide, upstreamSide)
            if let leftover, leftover.readableBytes > 0 { container.writeAndFlush(leftover, promise: nil) }
            try container.pipeline.syncOperations.addHandler(containerSide)
            try upstream.pipeline.syncOperations.addHandler(upstreamSide)
            try upstream.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
            try container.syncOptions?.setOption(.autoRead, value: true)
            try upstream.syncOptions?.setOption(.autoRead, value: true)
        }.get()
    }
}
