/// Why the helper refused a request. Stable numbers: they are on the wire.
public enum RefusalCode: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case malformed = 1
    case oversized = 2
    case unsupportedVersion = 3
    case unknownType = 4
    case notPermittedNow = 5
    case unknownName = 6
    case proofRejected = 7
    case policyRefused = 8
    case notFound = 9
    case conflict = 10
    case systemError = 11

    public var description: String {
        switch self {
        case .malformed: "malformed"
        case .oversized: "oversized"
        case .unsupportedVersion: "unsupported-version"
        case .unknownType: "unknown-type"
        case .notPermittedNow: "not-permitted-now"
        case .unknownName: "unknown-name"
        case .proofRejected: "proof-rejected"
        case .policyRefused: "policy-refused"
        case .notFound: "not-found"
        case .conflict: "conflict"
        case .systemError: "system-error"
        }
    }
}

public struct Refusal: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: RefusalCode
    public var message: String

    public init(_ code: RefusalCode, _ message: String) { self.code = code; self.message = message }

    public var description: String { "\(code): \(message)" }
}

/// The one reply to one request: success with an optional payload (and, for the
/// intents that hand over a socket, an fd next to it), or a typed refusal.
///
/// Reply frame type: 0 = ok, 1 = refused. A refusal's payload is u16 code + string.
public enum Reply: Equatable, Sendable {
    case ok(payload: [UInt8])
    case refused(Refusal)

    static let okType: UInt16 = 0
    static let refusedType: UInt16 = 1
    static let maxMessage = 2048

    public func frame(id: UInt32) -> Frame {
        switch self {
        case .ok(let payload):
            return Frame(kind: .reply, type: Reply.okType, id: id, payload: payload)
        case .refused(let refusal):
            var w = WireWriter()
            w.u16(refusal.code.rawValue)
            // A message the decoder accepts goes out unchanged, so a reply round-trips; a
            // longer one is cut on a byte limit, then any split character repaired (adds at most 3 bytes).
            let utf8 = refusal.message.utf8
            w.string(utf8.count <= Reply.maxMessage ? refusal.message : String(decoding: utf8.prefix(Reply.maxMessage - 4), as: UTF8.self))
            return Frame(kind: .reply, type: Reply.refusedType, id: id, payload: w.bytes)
        }
    }

    public static func decode(_ frame: Frame) throws(IPCError) -> Reply {
        switch frame.type {
        case okType:
            return .ok(payload: frame.payload)
        case refusedType:
            var r = WireReader(frame.payload[...])
            let raw = try r.u16()
            guard let code = RefusalCode(rawValue: raw) else { throw .malformed("unknown refusal code \(raw)") }
            let message = try r.string(max: maxMessage)
            try r.finish()
            return .refused(Refusal(code, message))
        default:
            throw .malformed("unknown reply type \(frame.type)")
        }
    }
}
