import IPC
import NIOCore

/// What the plugin side (endpoints, DNS, transparent proxy) asks of the SAM side
/// (identities, sessions, streams). Every call returns promptly: sessions come up in
/// the background, and `connect` fails fast when the container has no session yet.
protocol I2PSessionDirectory: Sendable {
    /// Keep container `name` on I2P at `address` with `ports` (TCP) exposed: its
    /// outbound session and one session per exposed port, with the keys kept under
    /// its name. Repeating a call with the same values changes nothing.
    func attach(container name: String, address: IPv4Address, ports: [UInt16])
    /// Close the container's sessions (its keys stay on disk for its next start).
    func detach(container name: String)
    /// A stream from the container's outbound identity to `host` (`*.b32.i2p`, or any
    /// other `*.i2p` name through NAMING LOOKUP). The channel is connected and has no
    /// handlers; `leftover` holds bytes that arrived with the handshake's answer. Its
    /// autoRead is off (nothing is read before your handlers exist): turn it on after adding them.
    func connect(from name: String, to host: String, on loop: any EventLoop) async throws -> (channel: any Channel, leftover: ByteBuffer?)
    /// Every container's addresses and session states, for `i2p status`.
    func snapshot() -> [I2PContainerStatus]
}

/// One container as `i2p status` shows it.
struct I2PContainerStatus: Codable, Equatable, Sendable {
    struct Session: Codable, Equatable, Sendable {
        /// nil for the outbound session.
        var port: UInt16?
        /// `<52 chars>.b32.i2p` (known once the keys exist).
        var address: String?
        /// starting | up | retrying | stopped
        var state: String
        /// Why it is not up, in words.
        var detail: String?
    }
    var container: String
    var outbound: Session
    var services: [Session]
}
