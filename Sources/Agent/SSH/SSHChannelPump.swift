import CSSH
import Foundation
import Logging
import NIOCore

/// One client's SSH channel, driven by the link's thread in non-blocking mode:
/// opens it, then moves bytes between it and the client's bridge, within the SSH
/// windows in both directions, and forwards half-closes.
final class SSHChannelPump {
    /// `sessionRefused`: the server refused the dial-stdio session channel; the link
    /// decides next (`handOff` to another SSH connection, or `refuseSession`).
    enum Phase { case opening, executing, open, sessionRefused, done }

    let bridge: SSHBridge
    private let session: SSHSession
    private var channel: ssh_channel?
    private(set) var transport: ResolvedTransport
    private let mayFallBack: Bool
    private(set) var phase = Phase.opening
    private let openDeadline: ContinuousClock.Instant
    private var eofSent = false
    private var eofDelivered = false
    private var goneSince: ContinuousClock.Instant?
    private var remoteStderr: [UInt8] = []
    private var sessionRefusal = ""
    private let logger: Logger
    private let allocator = ByteBufferAllocator()

    /// Per step and direction, so one busy channel cannot starve the others.
    private static let chunk = 64 * 1024
    private static let chunksPerStep = 8

    private let activity: SSHChannelActivity

    init(bridge: SSHBridge, session: SSHSession, transport: ResolvedTransport, activity: SSHChannelActivity, logger: Logger) {
        self.bridge = bridge; self.session = session; self.transport = transport; self.activity = activity; self.logger = logger
        mayFallBack = session.target.transport == .auto && transport == .streamlocal
        openDeadline = .now + .milliseconds(Int(session.target.timeoutMilliseconds))
    }

    deinit { if let channel { ssh_channel_free(channel) } }

    /// Advances the channel as far as it can go without blocking. Returns true when it
    /// moved data and may be able to move more right away.
    func step() -> Bool {
        switch phase {
        case .opening, .executing:
            open()
            return phase == .open  // the client may have sent its request already
        case .open: return pump()
        case .sessionRefused, .done: return false
        }
    }

    /// Ends the channel because the SSH connection is gone.
    func abort(_ error: SSHError) {
        guard phase != .done else { return }
        if phase == .open { bridge.abort(error) } else { bridge.refuse(error) }
        finish()
    }

    private func open() {
        if bridge.clientState.gone { return finish() }
        if channel == nil {
            guard let created = ssh_channel_new(session.raw) else { return fail(.channelFailed(detail: session.lastError)) }
            channel = created
            activity.watch(created)
        }
        let rc: Int32
        switch (transport, phase) {
        case (.streamlocal, _): rc = ssh_channel_open_forward_unix(channel, session.target.remoteSocket, "127.0.0.1", 0)
        case (.dialStdio, .opening): rc = ssh_channel_open_session(channel)
        default: rc = ssh_channel_request_exec(channel, session.target.dialStdioCommand)
        }
        if rc == SSH_AGAIN {
            if ContinuousClock.now > openDeadline {
                fail(.daemonUnreachable(socket: session.target.remoteSocket, detail: "the server did not open a channel within \(session.target.timeout)"))
            }
            return
        }
        if rc != SSH_OK {
            let detail = session.lastError
            if transport == .streamlocal, mayFallBack {
                logger.warning("streamlocal channel refused; trying dial-stdio", metadata: ["error": "\(detail)"])
                ssh_channel_free(channel); channel = nil
                transport = .dialStdio
                return open()
            }
            if transport == .dialStdio, phase == .opening {
                sessionRefusal = detail
                ssh_channel_free(channel); channel = nil
                phase = .sessionRefused
                return
            }
            return fail(transport == .streamlocal
                ? .daemonUnreachable(socket: session.target.remoteSocket, detail: detail)
                : .channelFailed(detail: "dial-stdio: \(detail)"))
        }
        if transport == .dialStdio, phase == .opening {
            phase = .executing
            return open()
        }
        phase = .open
        bridge.channelOpened(transport)
    }

    private func pump() -> Bool {
        guard let channel else { return false }
        var progressed = false
        // Client → remote, within the remote's window and only while libssh's own
        // output buffer is empty (it has no limit of its own).
        var chunks = 0
        while !eofSent, chunks < Self.chunksPerStep, ssh_get_poll_flags(session.raw) & SSH_WRITE_PENDING == 0 {
            let window = Int(ssh_channel_window_size(channel))
            guard window > 0, var data = bridge.takeOutbound(max: min(window, Self.chunk)) else { break }
            let written = data.withUnsafeReadableBytes { ssh_channel_write(channel, $0.baseAddress, UInt32($0.count)) }
            if written < 0 {
                // The remote end is closed for writing: what is left has nowhere to go.
                eofSent = true
                break
            }
            data.moveReaderIndex(forwardBy: Int(written))
            chunks += 1
            if written > 0 { progressed = true }
            if data.readableBytes > 0 { bridge.returnOutbound(data); break }
        }
        let client = bridge.clientState
        if !eofSent, client.outboundEmpty, client.eof || client.gone {
            ssh_channel_send_eof(channel)
            eofSent = true
        }
        if client.gone {
            // Nobody reads answers any more; only what the client sent is still owed,
            // for at most `timeout` if the remote does not take it.
            let since = goneSince ?? .now
            goneSince = since
            if eofSent || ContinuousClock.now - since > .milliseconds(Int(session.target.timeoutMilliseconds)) {
                finish()
                return false
            }
            return progressed
        }
        // Remote → client, while the client keeps up.
        chunks = 0
        while chunks < Self.chunksPerStep, bridge.mayDeliver() {
            let available = ssh_channel_poll(channel, 0)
            guard available > 0 else { break }
            var buffer = allocator.buffer(capacity: min(Int(available), Self.chunk))
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1) { raw in
                Int(max(0, ssh_channel_read_nonblocking(channel, raw.baseAddress, UInt32(min(raw.count, Self.chunk)), 0)))
            }
            guard n > 0 else { break }
            bridge.deliver(buffer)
            chunks += 1
            progressed = true
        }
        if transport == .dialStdio { readStderr(channel) }
        let pending = ssh_channel_poll(channel, 0)
        if !eofDelivered, pending == SSH_EOF {
            eofDelivered = true
            bridge.remoteEOF()
        }
        if ssh_channel_is_closed(channel) != 0, pending <= 0 {
            bridge.remoteClosed()
            finish()
            return false
        }
        return progressed
    }

    /// dial-stdio's own messages (e.g. "Cannot connect to the Docker daemon"): logged, bounded.
    private func readStderr(_ channel: ssh_channel) {
        var scratch = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = ssh_channel_read_nonblocking(channel, &scratch, UInt32(scratch.count), 1)
            guard n > 0 else { return }
            if remoteStderr.count < 4096 { remoteStderr += scratch[0..<Int(n)] }
        }
    }

    /// Whether this channel is, or is becoming, one of the connection's sessions.
    var holdsSession: Bool { transport == .dialStdio && (phase == .opening || phase == .executing || phase == .open) }
    /// Whether the server has granted this channel its session.
    var holdsGrantedSession: Bool { transport == .dialStdio && (phase == .executing || phase == .open) }

    /// Another SSH connection carries the client now: this pump lets go without a word to it.
    func handOff() { phase = .done }

    /// No other connection can take the client: it gets the server's refusal.
    func refuseSession() {
        fail(.channelFailed(detail: "dial-stdio: the server refused a session: \(sessionRefusal)"))
    }

    private func fail(_ error: SSHError) {
        bridge.refuse(error)
        finish()
    }

    private func finish() {
        if !remoteStderr.isEmpty {
            logger.warning("remote dial-stdio said", metadata: ["stderr": "\(String(decoding: remoteStderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))"])
        }
        if let channel {
            if ssh_channel_is_open(channel) != 0 { ssh_channel_close(channel) }
            ssh_channel_free(channel)
            self.channel = nil
        }
        phase = .done
    }
}
