/// A netfilter packet mark, decimal or 0x hex; empty means none.
public struct PacketMark: ConfigLiteral {
    /// nil: no mark (the text was empty).
    public let value: UInt32?
    /// As written: the netwatch scripts get it unchanged, as the original daemon's did.
    public let text: String

    public init(parsing text: String) throws(ConfigTextProblem) {
        self.text = text
        if text.isEmpty { value = nil; return }
        let parsed = text.hasPrefix("0x") ? UInt32(text.dropFirst(2), radix: 16) : UInt32(text)
        guard let parsed, parsed != 0 else {
            throw ConfigTextProblem("must be a non-zero number (decimal or 0x hex), or empty, not \(text.debugDescription)")
        }
        value = parsed
    }

    public static func == (a: Self, b: Self) -> Bool { a.value == b.value }
    public func hash(into hasher: inout Hasher) { hasher.combine(value) }
}
