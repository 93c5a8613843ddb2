/// Cuts a byte stream into top-level JSON objects, whatever separates them:
/// Docker sends one event per line, Podman's compat API may send them back to
/// back. Only the framing is checked here (braces outside strings); the
/// decoder judges each object. After a failure every later call fails the same way.
struct JSONObjectSplitter {
    enum Failure: Error, Equatable, CustomStringConvertible {
        case objectTooLarge(limit: Int)
        /// A byte outside any object that is neither whitespace nor "{".
        case unexpectedByte(UInt8, offset: Int)

        var description: String {
            switch self {
            case .objectTooLarge(let limit): "JSON object larger than \(limit) bytes"
            case .unexpectedByte(let byte, let offset): "byte 0x\(String(byte, radix: 16)) at offset \(offset) is not the start of a JSON object"
            }
        }
    }

    let maxObjectSize: Int
    private var object: [UInt8] = []
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var offset = 0
    private var failure: Failure?

    init(maxObjectSize: Int) { self.maxObjectSize = maxObjectSize }

    /// Takes the next bytes of the stream; returns the objects they complete, in order.
    mutating func feed(_ bytes: some Sequence<UInt8>) throws(Failure) -> [[UInt8]] {
        if let failure { throw failure }
        var complete: [[UInt8]] = []
        for byte in bytes {
            offset += 1
            if depth == 0 {
                switch byte {
                case UInt8(ascii: "{"):
                    depth = 1
                    object = [byte]
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                    continue
                default:
                    throw fail(.unexpectedByte(byte, offset: offset - 1))
                }
                continue
            }
            guard object.count < maxObjectSize else { throw fail(.objectTooLarge(limit: maxObjectSize)) }
            object.append(byte)
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 {
                    complete.append(object)
                    object = []
                }
            default: break
            }
        }
        return complete
    }

    private mutating func fail(_ reason: Failure) -> Failure {
        failure = reason
        object = []
        return reason
    }
}
