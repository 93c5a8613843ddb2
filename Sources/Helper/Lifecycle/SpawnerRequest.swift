import IPC

/// The spawner's whole vocabulary. Each request is one `Frame` (kind request, id 0,
/// empty payload) in one record on the spawner's SOCK_SEQPACKET `PacketChannel`:
///
///     type 0 launch   exactly one fd alongside: the agent's end of a fresh IPC socketpair
///     type 1 reload   no fd
///
/// End of stream means stop. `decode` refuses an unknown type, a record over
/// `maxRecordSize` or cut short, a payload (trailing bytes), and an fd where none
/// belongs, none where one must be, or several.
enum SpawnerRequest: Equatable, Sendable {
    /// (Re)start the agent on this IPC fd (the receiver owns it).
    case launch(ipc: Int32)
    /// Send the running agent SIGHUP (the helper, another uid, cannot signal it itself).
    case reload

    enum Tag: UInt16, CaseIterable {
        case launch = 0
        case reload = 1

        var carriesFD: Bool { self == .launch }
    }

    /// A request is a bare header; a record longer than this is refused unread.
    static let maxRecordSize = 64

    var tag: Tag {
        switch self {
        case .launch: .launch
        case .reload: .reload
        }
    }

    var frame: Frame { Frame(kind: .request, type: tag.rawValue, id: 0, payload: []) }

    /// The fd to send with `frame`, or -1.
    var fd: Int32 {
        switch self {
        case .launch(let ipc): ipc
        case .reload: -1
        }
    }

    /// Decodes one received record. On a refusal the caller still owns (and closes) `received.fd`.
    static func decode(_ received: PacketChannel.Received) throws(IPCError) -> SpawnerRequest {
        guard !received.truncated else { throw .oversized(maxRecordSize + 1) }
        guard !received.fdProblem else { throw .malformed("control data cut short or more than one fd") }
        return try decode(received.record[...], fd: received.fd)
    }

    static func decode(_ record: ArraySlice<UInt8>, fd: Int32) throws(IPCError) -> SpawnerRequest {
        guard record.count <= maxRecordSize else { throw .oversized(record.count) }
        let frame = try Frame.decode(record, expected: .request)
        guard let tag = Tag(rawValue: frame.type) else { throw .unknownType(frame.type) }
        guard (fd >= 0) == tag.carriesFD else { throw .malformed(tag.carriesFD ? "launch needs exactly one fd" : "reload carries no fd") }
        try WireReader(frame.payload[...]).finish()
        switch tag {
        case .launch: return .launch(ipc: fd)
        case .reload: return .reload
        }
    }
}
