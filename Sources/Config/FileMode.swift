#if canImport(Glibc)
import Glibc
#endif

/// The permission bits of a socket, written in octal: "0660".
public struct FileMode: ConfigLiteral {
    public let bits: mode_t

    public init(parsing text: String) throws(ConfigTextProblem) {
        guard !text.isEmpty, text.count <= 4, let v = mode_t(text, radix: 8), v <= 0o777 else {
            throw ConfigTextProblem("\(text.debugDescription) is not an octal mode like 0660")
        }
        bits = v
    }

    public var text: String {
        let octal = String(bits, radix: 8)
        return String(repeating: "0", count: max(0, 4 - octal.count)) + octal
    }
}
