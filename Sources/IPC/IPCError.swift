/// Why a frame could not be decoded. Each case maps to a refusal code on the wire.
public enum IPCError: Error, Equatable, Sendable, CustomStringConvertible {
    case oversized(Int)
    case malformed(String)
    case unsupportedVersion(UInt8)
    case unknownType(UInt16)

    public var description: String {
        switch self {
        case .oversized(let n): "frame of \(n) bytes exceeds the limit"
        case .malformed(let why): "malformed frame: \(why)"
        case .unsupportedVersion(let v): "unsupported protocol version \(v) (this side speaks \(Frame.version))"
        case .unknownType(let t): "unknown request type 0x\(String(t, radix: 16))"
        }
    }

    public var refusal: RefusalCode {
        switch self {
        case .oversized: .oversized
        case .malformed: .malformed
        case .unsupportedVersion: .unsupportedVersion
        case .unknownType: .unknownType
        }
    }
}
