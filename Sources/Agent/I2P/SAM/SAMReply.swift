/// One reply line of the SAM bridge: `TOPIC KIND KEY=VALUE KEY="quoted value" ...`
/// (e.g. `SESSION STATUS RESULT=OK DESTINATION=...`). Parsed strictly: printable ASCII
/// only, each key once, quotes closed. The line's length is bounded before it gets here.
struct SAMReply: Equatable, Sendable {
    let topic: String
    let kind: String
    let fields: [String: String]

    var result: String? { fields["RESULT"] }

    init(_ line: String) throws(SAMError) {
        guard line.utf8.allSatisfy({ (0x20...0x7e).contains($0) }) else { throw .malformed("a reply with non-printable bytes") }
        var tokens = try Self.tokens(Array(line.utf8))
        guard tokens.count >= 2, tokens[0].value == nil, tokens[1].value == nil else {
            throw .malformed("a reply without topic and kind: \(Self.excerpt(line))")
        }
        topic = tokens[0].key
        kind = tokens[1].key
        tokens.removeFirst(2)
        var fields = [String: String]()
        for token in tokens {
            guard let value = token.value, !token.key.isEmpty, fields.updateValue(value, forKey: token.key) == nil else {
                throw .malformed("a reply with a bad or repeated field: \(Self.excerpt(line))")
            }
        }
        self.fields = fields
    }

    /// Requires `topic kind` and RESULT=OK; anything else becomes an error naming the result.
    func expect(_ topic: String, _ kind: String) throws(SAMError) -> SAMReply {
        guard self.topic == topic, self.kind == kind else { throw .malformed("expected \(topic) \(kind), got \(self.topic) \(self.kind)") }
        guard result == "OK" else { throw .refused(result: result ?? "no RESULT", message: fields["MESSAGE"]) }
        return self
    }

    private struct Token { var key: String; var value: String? }

    private static func tokens(_ bytes: [UInt8]) throws(SAMError) -> [Token] {
        var out = [Token]()
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x20 { i += 1; continue }
            var key = [UInt8]()
            while i < bytes.count, bytes[i] != 0x20, bytes[i] != UInt8(ascii: "=") { key.append(bytes[i]); i += 1 }
            guard i < bytes.count, bytes[i] == UInt8(ascii: "=") else {
                out.append(Token(key: String(decoding: key, as: UTF8.self), value: nil))
                continue
            }
            i += 1
            var value = [UInt8]()
            if i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
                i += 1
                while true {
                    guard i < bytes.count else { throw .malformed("a reply with an unclosed quote") }
                    if bytes[i] == UInt8(ascii: "\"") { i += 1; break }
                    if bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count { i += 1 }
                    value.append(bytes[i]); i += 1
                }
                guard i == bytes.count || bytes[i] == 0x20 else { throw .malformed("a reply with text after a quoted value") }
            } else {
                while i < bytes.count, bytes[i] != 0x20 {
                    guard bytes[i] != UInt8(ascii: "\"") else { throw .malformed("a reply with a stray quote") }
                    value.append(bytes[i]); i += 1
                }
            }
            out.append(Token(key: String(decoding: key, as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
        }
        return out
    }

    static func excerpt(_ line: String) -> String { line.count > 80 ? line.prefix(80) + "..." : line }
}
