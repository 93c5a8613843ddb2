import CFDPass
#if canImport(Glibc)
import Glibc
#endif

/// One end of the helper–agent SOCK_SEQPACKET socketpair. Each send is one record
/// with at most one fd; each receive returns one record and the fd that came with it.
public struct PacketChannel: Sendable {
    public let fd: Int32

    public init(fd: Int32) { self.fd = fd }

    /// A connected pair (close-on-exec). The kernel keeps record boundaries.
    public static func pair() throws(SystemCallError) -> (PacketChannel, PacketChannel) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SystemCallError(call: "socketpair", errno: errno)
        }
        return (PacketChannel(fd: fds[0]), PacketChannel(fd: fds[1]))
    }

    /// `nonBlocking`: fail with EAGAIN rather than wait for a peer that does not read
    /// (the helper never lets the agent stall it).
    public func send(_ frame: Frame, fd attached: Int32 = -1, nonBlocking: Bool = false) throws(SystemCallError) {
        try sendRaw(frame.encoded(), fd: attached, nonBlocking: nonBlocking)
    }

    /// Sends bytes as one record. Called directly only by tests that play a hostile agent.
    public func sendRaw(_ bytes: [UInt8], fd attached: Int32 = -1, nonBlocking: Bool = false) throws(SystemCallError) {
        let n = bytes.withUnsafeBytes { bh_send_with_fd(fd, $0.baseAddress, $0.count, attached, nonBlocking ? 1 : 0) }
        guard n == bytes.count else { throw SystemCallError(call: "sendmsg", errno: n < 0 ? errno : EMSGSIZE) }
    }

    public struct Received: Sendable {
        /// The record; empty at end of stream.
        public var record: [UInt8]
        /// The single fd that came with it, or -1. The receiver owns it.
        public var fd: Int32
        /// The record did not fit `limit` bytes (its excess was discarded by the kernel).
        public var truncated: Bool
        /// Control data was cut or carried several fds; any fds were closed.
        public var fdProblem: Bool
        public var isEndOfStream: Bool { record.isEmpty && !truncated }
    }

    /// Receives one record of at most `limit` bytes (one more is read to detect excess).
    public func receive(limit: Int) throws(SystemCallError) -> Received {
        var buffer: [UInt8] = []
        return try receive(limit: limit, reusing: &buffer)
    }

    /// The same, reading into `buffer` (grown once to `limit + 1`, then reused):
    /// the agent receives every reply this way, so no 1 MiB buffer is allocated
    /// and zeroed per request.
    public func receive(limit: Int, reusing buffer: inout [UInt8]) throws(SystemCallError) -> Received {
        if buffer.count < limit + 1 { buffer = [UInt8](repeating: 0, count: limit + 1) }
        var attached: Int32 = -1
        var flags: Int32 = 0
        let n = buffer.withUnsafeMutableBytes { bh_recv_with_fd(fd, $0.baseAddress, limit + 1, &attached, &flags) }
        guard n >= 0 else { throw SystemCallError(call: "recvmsg", errno: errno) }
        let truncated = n > limit || flags & Int32(BH_RECV_TRUNCATED) != 0
        if truncated, attached >= 0 { Glibc.close(attached); attached = -1 }
        return Received(
            record: Array(buffer[0..<min(n, limit)]), fd: attached, truncated: truncated,
            fdProblem: flags & Int32(BH_RECV_CTRUNCATED | BH_RECV_EXTRA_FDS) != 0)
    }

    public func close() { _ = Glibc.close(fd) }
}

public struct SystemCallError: Error, Equatable, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    public init(call: String, errno: Int32) { self.call = call; self.errno = errno }

    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}
