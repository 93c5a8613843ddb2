import NIOCore
import NIOPosix

/// One TCP connection to the SAM bridge, past its HELLO: a control socket (SESSION
/// CREATE, kept open for the session's life), a FORWARD socket, or a stream
/// (STREAM CONNECT, then handed off as a plain byte channel). Requests go one at a
/// time; each reply is awaited within a bound, and a socket that misses it is closed.
struct SAMConnection: Sendable {
    /// A SESSION STATUS carries a private key (about 900 characters for Ed25519/X25519)
    /// and a NAMING REPLY a destination: 8 KiB is far above both.
    static let maxLine = 8192

    let channel: any Channel
    private let lines: NIOLoopBound<SAMLineHandler>

    /// Connects to `bridge` and says HELLO (SAM 3.1: what i2pd 2.45 speaks; nothing
    /// here needs more).
    static func open(_ bridge: SocketAddress, on loop: any EventLoop, timeout: Duration) async throws -> SAMConnection {
        let channel = try await ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(timeout))
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(SAMLineHandler(maxLine: maxLine)) }
            }
            .connect(to: bridge).get()
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: SAMLineHandler.self), eventLoop: channel.eventLoop)
        }.get()
        let connection = SAMConnection(channel: channel, lines: handler)
        do {
            _ = try await connection.request("HELLO VERSION MIN=3.1 MAX=3.1", timeout: timeout).expect("HELLO", "REPLY")
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// Sends `command` and waits for its one-line reply. On any failure (timeout,
    /// closed, malformed, task cancelled) the socket is closed: a SAM socket that lost
    /// step with its bridge is useless.
    func request(_ command: String, timeout: Duration) async throws -> SAMReply {
        let lines = self.lines, channel = self.channel
        let words = command.split(separator: " ", maxSplits: 2).prefix(2).joined(separator: " ")
        let reply = channel.eventLoop.flatSubmit { () -> EventLoopFuture<String> in
            let promise = channel.eventLoop.makePromise(of: String.self)
            let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                promise.fail(SAMError.timedOut(words))
            }
            promise.futureResult.whenComplete { _ in timer.cancel() }
            lines.value.nextLine(promise)
            channel.writeAndFlush(ByteBuffer(string: command + "\n"), promise: nil)
            return promise.futureResult
        }
        do {
            let line = try await withTaskCancellationHandler {
                try await reply.get()
            } onCancel: {
                channel.close(promise: nil)
            }
            return try SAMReply(line)
        } catch {
            close()
            throw error
        }
    }

    /// The socket as a plain byte channel (no handlers left), with the bytes that
    /// arrived behind the last reply. Reading is paused (autoRead off) so that nothing
    /// arrives before the new owner's handlers: it turns autoRead on once they are in place.
    func handOff() async throws -> (channel: any Channel, leftover: ByteBuffer?) {
        let lines = self.lines, channel = self.channel
        let leftover = try await channel.eventLoop.flatSubmit {
            channel.eventLoop.makeCompletedFuture {
                guard channel.isActive else { throw SAMError.closed }
                try channel.syncOptions?.setOption(.autoRead, value: false)
            }.flatMap {
                channel.pipeline.syncOperations.removeHandler(lines.value).map { lines.value.leftover() }
            }
        }.get()
        return (channel, leftover)
    }

    /// Resolves when the socket is closed (by either side).
    var closed: EventLoopFuture<Void> { channel.closeFuture }

    func close() { channel.close(promise: nil) }
}
