#if canImport(Glibc)
import Glibc
#endif

/// What `bindTCPListener` hands the agent: not the listening socket, but one end of
/// a SOCK_SEQPACKET pair on which the helper sends every connection it accepts on
/// that listener, one record (`record`) carrying one fd each.
///
/// Why: a listening TCP socket in the agent's hands can be turned into an outbound
/// one that keeps its port (`shutdown(SHUT_RD)` moves it to CLOSE with the port still
/// bound, then `connect()`), which would give the agent a privileged source port.
/// An accepted connection that is disconnected and reconnected gets an ephemeral port.
public enum AcceptChannel {
    /// The payload of each record; the fd rides with it.
    public static let record: [UInt8] = [0x41]

    /// Receives one accepted connection; nil at end of stream or on a malformed record.
    public static func receive(on channel: PacketChannel) throws(SystemCallError) -> Int32? {
        let received = try channel.receive(limit: record.count)
        guard received.record == record, !received.fdProblem, received.fd >= 0 else {
            if received.fd >= 0 { _ = close(received.fd) }
            return nil
        }
        return received.fd
    }
}
