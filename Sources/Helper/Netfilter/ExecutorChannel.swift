import IPC
#if canImport(Glibc)
import Glibc
#endif

/// Framing on the netfilter executor's stream socketpair: each message is a u32
/// length (`WireWriter`) and then that many bytes. A stream, not SOCK_SEQPACKET, because
/// a restore input may be megabytes, more than one record may hold; so the length is
/// what keeps messages apart, and every receive is bounded: a larger length is refused
/// before a byte of its body is read.
struct ExecutorChannel: Sendable {
    let fd: Int32

    static let lengthSize = 4

    func send(_ body: [UInt8]) throws(SystemCallError) {
        var header = WireWriter()
        header.u32(UInt32(body.count))
        try writeAll(header.bytes)
        try writeAll(body)
    }

    /// One message of at most `max` bytes; nil at end of stream between messages.
    /// Throws for an end of stream inside a message, a read error, or a length over `max`.
    func receive(max: Int) throws(SystemCallError) -> [UInt8]? {
        guard let header = try readExactly(Self.lengthSize, endOfStreamAllowed: true) else { return nil }
        var reader = WireReader(header[...])
        let length: Int
        do { length = Int(try reader.u32()) } catch { throw SystemCallError(call: "netfilter executor message header", errno: EPROTO) }
        guard length <= max else {
            throw SystemCallError(call: "netfilter executor message of \(length) bytes (at most \(max))", errno: EMSGSIZE)
        }
        return try readExactly(length, endOfStreamAllowed: false) ?? []
    }

    func close() { _ = Glibc.close(fd) }

    private func writeAll(_ bytes: [UInt8]) throws(SystemCallError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(call: "write on the netfilter executor's channel", errno: errno)
            }
            offset += n
        }
    }

    /// nil only when `endOfStreamAllowed` and the stream ends before the first byte.
    private func readExactly(_ count: Int, endOfStreamAllowed: Bool) throws(SystemCallError) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = buffer[offset...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n == 0, offset == 0, endOfStreamAllowed { return nil }
            if n <= 0 { throw SystemCallError(call: "read on the netfilter executor's channel", errno: n == 0 ? EPIPE : errno) }
            offset += n
        }
        return buffer
    }
}
