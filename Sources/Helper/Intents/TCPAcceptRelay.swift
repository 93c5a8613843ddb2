import CProcess
import IPC
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The helper's TCP listeners stay in the helper. It accepts on them itself and
/// passes each connection to the agent over that listener's accept channel (see
/// `AcceptChannel` for why the listening socket itself is never handed out).
final class TCPAcceptRelay {
    private struct Relay {
        let listener: Int32
        var channel: PacketChannel?
    }

    private var relays: [ListenerName: Relay] = [:]
    private let logger: Logger
    /// At most this many connections are taken from one listener per wake-up, so a
    /// flood on one port cannot starve the agent's IPC.
    static let acceptBurst = 64

    init(logger: Logger) { self.logger = logger }

    func adopt(_ listener: Int32, as name: ListenerName) { relays[name] = Relay(listener: listener, channel: nil) }

    func owns(_ name: ListenerName) -> Bool { relays[name] != nil }

    /// A new accept channel for `name`, replacing any earlier one; returns the agent's end.
    func channel(for name: ListenerName) throws(Refusal) -> Int32 {
        guard var relay = relays[name] else { throw Refusal(.unknownName, "no TCP listener named \(name) is bound") }
        let (ours, theirs): (PacketChannel, PacketChannel)
        do { (ours, theirs) = try PacketChannel.pair() } catch { throw Refusal(.systemError, "\(error)") }
        relay.channel?.close()
        relay.channel = ours
        relays[name] = relay
        return theirs.fd
    }

    /// Listeners whose connections someone is waiting for: the poll loop watches these.
    var watched: [(name: ListenerName, fd: Int32)] {
        relays.compactMap { name, relay in relay.channel == nil ? nil : (name, relay.listener) }
    }

    /// Accepts what is pending on `name` and forwards it. A channel the agent no
    /// longer reads (full or closed) is dropped, with the connection.
    func forwardPending(_ name: ListenerName) {
        guard let relay = relays[name], let channel = relay.channel else { return }
        for _ in 0..<Self.acceptBurst {
            let connection = bh_accept(relay.listener)
            guard connection >= 0 else { return }  // EAGAIN: the listener is non-blocking
            defer { close(connection) }
            do {
                try channel.sendRaw(AcceptChannel.record, fd: connection, nonBlocking: true)
            } catch {
                logger.warning("agent does not take TCP connections; closing its accept channel",
                               metadata: ["listener": "\(name)", "error": "\(error)"])
                channel.close()
                relays[name]?.channel = nil
                return
            }
        }
    }

    /// A new agent session starts with no accept channels.
    func closeChannels() {
        for name in relays.keys {
            relays[name]?.channel?.close()
            relays[name]?.channel = nil
        }
    }

    func closeAll() {
        closeChannels()
        for relay in relays.values { close(relay.listener) }
        relays.removeAll()
    }
}
