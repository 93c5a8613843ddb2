/// One IPC message. Each frame travels as one SOCK_SEQPACKET record:
///
///     u32 length (whole frame, header included) | u8 version | u8 kind | u16 type | u32 id | payload
///
/// The length must equal the record's size exactly, so a frame can neither be
/// short-read nor smuggle a second one. Requests are tiny and capped hard; replies
/// may carry the agent's configuration and are capped more loosely.
public struct Frame: Equatable, Sendable {
    public static let version: UInt8 = 1
    public static let headerSize = 12
    public static let maxRequestSize = 4096
    public static let maxReplySize = 1 << 20

    public enum Kind: UInt8, Sendable { case request = 1, reply = 2 }

    public var kind: Kind
    public var type: UInt16
    public var id: UInt32
    public var payload: [UInt8]

    public init(kind: Kind, type: UInt16, id: UInt32, payload: [UInt8]) {
        self.kind = kind; self.type = type; self.id = id; self.payload = payload
    }

    public func encoded() -> [UInt8] {
        var w = WireWriter()
        w.u32(UInt32(Frame.headerSize + payload.count))
        w.u8(Frame.version)
        w.u8(kind.rawValue)
        w.u16(type)
        w.u32(id)
        return w.bytes + payload
    }

    /// Decodes one received record, enforcing the size limit for `expected` kind.
    public static func decode(_ record: ArraySlice<UInt8>, expected: Kind) throws(IPCError) -> Frame {
        let limit = expected == .request ? maxRequestSize : maxReplySize
        guard record.count <= limit else { throw .oversized(record.count) }
        guard record.count >= headerSize else { throw .malformed("record of \(record.count) bytes is shorter than the header") }
        var r = WireReader(record)
        let length = Int(try r.u32())
        guard length == record.count else { throw .malformed("length field \(length) does not match record size \(record.count)") }
        let version = try r.u8()
        guard version == Frame.version else { throw .unsupportedVersion(version) }
        let rawKind = try r.u8()
        guard let kind = Kind(rawValue: rawKind), kind == expected else { throw .malformed("unexpected frame kind \(rawKind)") }
        let type = try r.u16()
        let id = try r.u32()
        return Frame(kind: kind, type: type, id: id, payload: Array(record.dropFirst(headerSize)))
    }
}
