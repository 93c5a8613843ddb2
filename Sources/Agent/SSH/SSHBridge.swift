import NIOCore
import Synchronization

/// Where one client connection (on a SwiftNIO event loop) meets its SSH channel (on
/// the link's thread). Bytes cross in both directions through bounded queues, so a
/// fast writer on either side is slowed down instead of growing memory.
final class SSHBridge: Sendable {
    /// Bytes from the client not yet handed to libssh: above `highWater` the client
    /// is no longer read; below `lowWater` reading resumes.
    static let highWater = 1 << 20
    static let lowWater = 256 << 10

    let id: UInt64
    private let handler: NIOLoopBound<SSHClientHandler>
    /// Wakes the link that carries this client (another link if it was moved).
    private let wakeLink: Mutex<@Sendable () -> Void>
    private let shared = Mutex(Shared())

    private struct Shared {
        var outbound = CircularBuffer<ByteBuffer>()
        var outboundBytes = 0
        var clientReadPaused = false
        var clientEOF = false
        var clientGone = false
        /// Written to the client socket's pipeline but not yet sent.
        var inFlightToClient = 0
        var linkWaitingForClient = false
    }

    init(id: UInt64, handler: NIOLoopBound<SSHClientHandler>) {
        self.id = id; self.handler = handler
        wakeLink = Mutex({})
    }

    /// Hands the client to a link's thread: from now on, client events wake that link.
    func carry(by wake: @escaping @Sendable () -> Void) {
        wakeLink.withLock { $0 = wake }
        wake()
    }

    private func wake() { wakeLink.withLock { $0 }() }

    private var loop: any EventLoop { handler.eventLoop }

    // MARK: called on the client's event loop

    /// Queues client bytes for the remote. Returns true when the client should stop being read.
    func fromClient(_ buffer: ByteBuffer) -> Bool {
        let pause = shared.withLock { s in
            s.outbound.append(buffer)
            s.outboundBytes += buffer.readableBytes
            if s.outboundBytes > Self.highWater { s.clientReadPaused = true }
            return s.clientReadPaused
        }
        wake()
        return pause
    }

    func clientHalfClosed() { shared.withLock { $0.clientEOF = true }; wake() }

    /// The client closed its socket; what it sent before is still delivered to the remote.
    func clientGone() { shared.withLock { $0.clientGone = true }; wake() }

    func sentToClient(_ count: Int) {
        let resume = shared.withLock { s in
            s.inFlightToClient -= count
            guard s.linkWaitingForClient, s.inFlightToClient < Self.lowWater else { return false }
            s.linkWaitingForClient = false
            return true
        }
        if resume { wake() }
    }

    // MARK: called on the link's thread

    struct ClientState { var eof: Bool; var gone: Bool; var outboundEmpty: Bool }

    var clientState: ClientState {
        shared.withLock { ClientState(eof: $0.clientEOF, gone: $0.clientGone, outboundEmpty: $0.outboundBytes == 0) }
    }

    /// Takes up to `max` queued client bytes.
    func takeOutbound(max: Int) -> ByteBuffer? {
        let (chunk, resume) = shared.withLock { s -> (ByteBuffer?, Bool) in
            guard var first = s.outbound.first else { return (nil, false) }
            let chunk: ByteBuffer
            if first.readableBytes > max {
                chunk = first.readSlice(length: max)!
                s.outbound[s.outbound.startIndex] = first
            } else {
                chunk = s.outbound.removeFirst()
            }
            s.outboundBytes -= chunk.readableBytes
            let resume = s.clientReadPaused && s.outboundBytes < Self.lowWater
            if resume { s.clientReadPaused = false }
            return (chunk, resume)
        }
        if resume { onLoop { $0.resumeReading() } }
        return chunk
    }

    /// Puts back what libssh did not take (a full window or a rekey in progress).
    func returnOutbound(_ rest: ByteBuffer) {
        shared.withLock { s in
            s.outbound.prepend(rest)
            s.outboundBytes += rest.readableBytes
        }
    }

    /// False while too much is already on its way to the client (the link then stops
    /// reading this channel, and SSH flow control stops the remote side).
    func mayDeliver() -> Bool {
        shared.withLock { s in
            if s.inFlightToClient < Self.highWater { return true }
            s.linkWaitingForClient = true
            return false
        }
    }

    func deliver(_ buffer: ByteBuffer) {
        shared.withLock { $0.inFlightToClient += buffer.readableBytes }
        onLoop { $0.write(buffer) }
    }

    func channelOpened(_ transport: ResolvedTransport) { onLoop { $0.opened(transport) } }
    func remoteEOF() { onLoop { $0.remoteEOF() } }
    func remoteClosed() { onLoop { $0.remoteClosed() } }
    /// The channel could not be opened: the client gets an HTTP error it can print.
    func refuse(_ error: SSHError) { onLoop { $0.refuse(error) } }
    /// The SSH connection died under an open channel.
    func abort(_ error: SSHError) { onLoop { $0.abort(error) } }

    /// How long this client may wait for a session: set by the first refusal, kept after.
    private let waitDeadline = Mutex<NIODeadline?>(nil)

    func sessionDeadline(orStart wait: TimeAmount) -> NIODeadline {
        waitDeadline.withLock { deadline in
            if let deadline { return deadline }
            let new = NIODeadline.now() + wait
            deadline = new
            return new
        }
    }

    /// Runs `body` on the client's event loop after `seconds` (a bounded wait for a session).
    func after(seconds: Double, _ body: @escaping @Sendable () -> Void) {
        loop.scheduleTask(in: .milliseconds(Int64(seconds * 1000))) { body() }
    }

    private func onLoop(_ body: @escaping @Sendable (SSHClientHandler) -> Void) {
        let handler = self.handler
        loop.execute { body(handler.value) }
    }
}
