import IPC

/// What the plugin's DNS answers: A for `*.i2p` names with a fake-pool address,
/// an empty NOERROR for their AAAA (NXDOMAIN would make musl drop the A answer),
/// REFUSED for everything else. Queries from unknown sources get no answer at all.
struct I2PDNSResponder: Sendable {
    let pool: FakePool
    /// Whether `source` is the address of a known endpoint.
    let isKnownSource: @Sendable (IPv4Address) -> Bool
    /// Why a query got the answer it got, for the (rate-limited) log.
    let note: @Sendable (String) -> Void

    func answer(_ query: [UInt8], from source: IPv4Address) -> [UInt8]? {
        guard isKnownSource(source) else { note("query from \(source), which is no plugin endpoint: not answered"); return nil }
        switch DNSMessage.parse(query) {
        case .drop:
            note("malformed or oversized query from \(source): not answered")
            return nil
        case .error(let id, let rcode):
            note("malformed query from \(source): \(rcode)")
            return DNSMessage.response(id: id, recursionDesired: false, question: nil, rcode: rcode)
        case .query(let id, let rd, let question):
            let (rcode, addresses) = decide(question, source)
            return DNSMessage.response(id: id, recursionDesired: rd, question: question, rcode: rcode, addresses: addresses)
        }
    }

    private func decide(_ q: DNSMessage.Question, _ source: IPv4Address) -> (DNSMessage.RCode, [UInt32]) {
        guard q.qclass == DNSMessage.classIN, Self.isI2PName(q.labels) else {
            let why = q.labels.last == "i2p" ? "not a valid .i2p name (a .b32.i2p name has 52 base32 characters)" : "only .i2p names resolve"
            note("\(source) asked for \(Self.printable(q.name)) (type \(q.type)): refused, \(why)")
            return (.refused, [])
        }
        switch q.type {
        case DNSMessage.typeAAAA: return (.noError, [])
        case DNSMessage.typeA:
            do {
                guard let address = try pool.address(for: q.name) else {
                    note("fake pool exhausted (\(pool.limit) names, none idle for a day): \(q.name) not answered")
                    return (.servFail, [])
                }
                return (.noError, [address.value])
            } catch {
                note("cannot keep the address of \(q.name): \(error)")
                return (.servFail, [])
            }
        default:
            return (.refused, [])
        }
    }

    /// `x.b32.i2p` (52+ base32 characters) or a host name ending in `.i2p`.
    static func isI2PName(_ labels: [String]) -> Bool {
        guard labels.count >= 2, labels.last == "i2p",
              labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 && $0.utf8.allSatisfy(isHostByte) }) else { return false }
        if labels.count == 3, labels[1] == "b32" {
            return labels[0].utf8.count >= 52 && labels[0].utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x32...0x37).contains($0) }
        }
        return true
    }

    private static func isHostByte(_ b: UInt8) -> Bool { (0x61...0x7A).contains(b) || (0x30...0x39).contains(b) || b == 0x2D }

    /// A name as it may appear in a log line (no control bytes, bounded).
    static func printable(_ name: String) -> String {
        String(String(decoding: name.utf8.map { (0x21...0x7E).contains($0) ? $0 : 0x3F }, as: UTF8.self).prefix(100))
    }
}
