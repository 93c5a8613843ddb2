/// The little of DNS the plugin's responder needs: one question in, one answer out.
/// The parser is strict and bounded: a name may not use compression (a query has no
/// earlier name to point at), so loops cannot happen; anything odd is FORMERR or dropped.
enum DNSMessage {
    static let maxQuery = 512
    static let headerSize = 12

    enum RCode: UInt16 { case noError = 0, formErr = 1, servFail = 2, notImp = 4, refused = 5 }
    static let typeA: UInt16 = 1, typeAAAA: UInt16 = 28, classIN: UInt16 = 1

    struct Question: Equatable {
        /// Lowercased labels, without the root.
        var labels: [String]
        var type: UInt16
        var qclass: UInt16
        /// The question exactly as asked (echoed in the answer).
        var raw: [UInt8]
        var name: String { labels.joined(separator: ".") }
    }

    enum Parsed: Equatable {
        case query(id: UInt16, recursionDesired: Bool, Question)
        /// Answer with this code and no question.
        case error(id: UInt16, RCode)
        /// Not answered at all (too short, too long, or a response).
        case drop
    }

    static func parse(_ bytes: [UInt8]) -> Parsed {
        guard bytes.count >= headerSize, bytes.count <= maxQuery else { return .drop }
        func u16(_ i: Int) -> UInt16 { UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]) }
        let id = u16(0), flags = u16(2)
        guard flags & 0x8000 == 0 else { return .drop }
        guard (flags >> 11) & 0xF == 0 else { return .error(id: id, .notImp) }
        guard u16(4) == 1, u16(6) == 0, u16(8) == 0 else { return .error(id: id, .formErr) }
        var i = headerSize, labels: [String] = [], nameLength = 0
        while true {
            guard i < bytes.count else { return .error(id: id, .formErr) }
            let length = Int(bytes[i])
            i += 1
            if length == 0 { break }
            // 0xC0: a compression pointer; 0x40, 0x80: obsolete label types.
            guard length & 0xC0 == 0, i + length <= bytes.count else { return .error(id: id, .formErr) }
            nameLength += length + 1
            guard nameLength <= 255 else { return .error(id: id, .formErr) }
            labels.append(String(decoding: bytes[i..<i + length].map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self))
            i += length
        }
        guard i + 4 <= bytes.count else { return .error(id: id, .formErr) }
        let question = Question(labels: labels, type: u16(i), qclass: u16(i + 2), raw: Array(bytes[headerSize..<i + 4]))
        return .query(id: id, recursionDesired: flags & 0x0100 != 0, question)
    }

    /// An answer: `addresses` become A records (TTL `ttl`) for the question's name.
    static func response(id: UInt16, recursionDesired: Bool, question: Question?, rcode: RCode, addresses: [UInt32] = [], ttl: UInt32 = 60) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: UInt16) { out += [UInt8(v >> 8), UInt8(v & 0xff)] }
        func u32(_ v: UInt32) { u16(UInt16(v >> 16)); u16(UInt16(v & 0xffff)) }
        u16(id)
        // QR, AA for answers about names it owns, RD copied, RA clear.
        u16(0x8000 | (rcode == .noError ? 0x0400 : 0) | (recursionDesired ? 0x0100 : 0) | rcode.rawValue)
        u16(question == nil ? 0 : 1); u16(UInt16(addresses.count)); u16(0); u16(0)
        if let question { out += question.raw }
        for address in addresses {
            u16(0xC00C); u16(typeA); u16(classIN); u32(ttl); u16(4); u32(address)
        }
        return out
    }
}
