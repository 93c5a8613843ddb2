import Logging
import NIOCore
import Synchronization

/// One destination of one container kept alive: load or make its key, SESSION CREATE on
/// its own control socket, for a service also its forward; then wait for the socket to
/// close (i2pd restarted, the bridge failed) and start again with the same key after
/// 6 s, then 12, 24... up to 60 s. Every change of state is logged with the container,
/// the role and the address.
final class I2PSession: Sendable {
    /// What the session needs from its manager.
    struct Context: Sendable {
        var options: SAMSessionOptions
        var store: I2PKeyStore
        var loop: any EventLoop
        var logger: Logger
        /// The container's address and the service's port, for forwarded connections.
        var target: @Sendable () -> SocketAddress?
    }

    let container: String
    let role: I2PKeyStore.Role
    private let context: Context
    private let state: Mutex<(status: I2PContainerStatus.Session, id: String?)>
    private let stopSignal = StopSignal()

    init(container: String, role: I2PKeyStore.Role, context: Context) {
        self.container = container; self.role = role; self.context = context
        if case .service(let port) = role {
            state = Mutex((I2PContainerStatus.Session(port: port, state: "starting"), nil))
        } else {
            state = Mutex((I2PContainerStatus.Session(state: "starting"), nil))
        }
        // A saved key already names the address: the status shows it while the session starts.
        if let saved = try? context.store.load(container, role) { setAddress(saved.destination.b32) }
    }

    var status: I2PContainerStatus.Session { state.withLock { $0.status } }

    /// The SAM session id while the session is up (what STREAM CONNECT names).
    var liveID: String? { state.withLock { $0.status.state == "up" ? $0.id : nil } }

    private var label: String { "\(container) \(role)" }

    /// The session's life, until `stop()` or cancellation, first waiting until `notBefore`
    /// (a key closed moments ago must not be reused at once).
    func live(notBefore: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { race in
            race.addTask { await self.run(notBefore: notBefore) }
            race.addTask { await self.stopSignal.stopped() }
            await race.next()
            race.cancelAll()
        }
    }

    /// Closes its sockets and ends its life; the key stays on disk.
    func stop() { stopSignal.stop() }

    private func run(notBefore: ContinuousClock.Instant) async {
        try? await Task.sleep(until: notBefore)
        var delay = context.options.firstRetry
        while !Task.isCancelled {
            set("starting", detail: nil)
            let why: String
            do {
                let live = try await bringUp(id: "bh-\(container)-\(role.fileName.split(separator: ".")[0])-\(String(UInt32.random(in: .min ... .max), radix: 16))")
                delay = context.options.firstRetry
                await withTaskCancellationHandler {
                    _ = try? await live.closed.get()
                } onCancel: {
                    live.close()
                }
                live.close()
                why = "the SAM bridge closed the session"
            } catch {
                why = "\(error)"
            }
            if Task.isCancelled { break }
            set("retrying", detail: why)
            context.logger.warning("i2p: \(label) is down: \(why); retrying in \(delay)")
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, context.options.maxRetry)
        }
        set("stopped", detail: nil)
        context.logger.info("i2p: \(label) stopped")
    }

    /// What has to stay open for the session to live.
    private struct Live: Sendable {
        var control: SAMConnection
        var forward: I2PForward?

        var closed: EventLoopFuture<Void> {
            guard let forward else { return control.closed }
            let either = control.channel.eventLoop.makePromise(of: Void.self)
            control.closed.whenComplete { _ in either.succeed() }
            forward.closed.whenComplete { _ in either.succeed() }
            return either.futureResult
        }

        func close() {
            forward?.close()
            control.close()
        }
    }

    private func bringUp(id: String) async throws -> Live {
        let saved = try context.store.load(container, role)
        if let saved { setAddress(saved.destination.b32) }
        let options = context.options
        let control = try await SAMConnection.open(options.bridge, on: context.loop, timeout: options.requestTimeout)
        var forward: I2PForward?
        do {
            let reply = try await control.request(options.createCommand(id: id, key: saved), timeout: options.createTimeout)
                .expect("SESSION", "STATUS")
            guard let key = reply.fields["DESTINATION"].flatMap(I2PPrivateKey.init) else {
                throw SAMError.malformed("a SESSION STATUS without a private key")
            }
            if let saved, saved.destination != key.destination {
                throw SAMError.malformed("a session for another destination than the saved key")
            }
            if saved == nil { try context.store.save(key, container, role) }
            if case .service = role {
                forward = try await I2PForward.start(session: id, control: control, options: options, label: label,
                                                     target: context.target, logger: context.logger)
            }
            try Task.checkCancellation()
            state.withLock { $0.id = id }
            setAddress(key.destination.b32)
            set("up", detail: nil)
            context.logger.info("i2p: \(label) is up at \(key.destination.b32)")
            return Live(control: control, forward: forward)
        } catch {
            forward?.close()
            control.close()
            throw error
        }
    }

    private func set(_ name: String, detail: String?) {
        state.withLock { $0.status.state = name; $0.status.detail = detail }
    }

    private func setAddress(_ b32: String) {
        state.withLock { $0.status.address = b32 }
    }
}
