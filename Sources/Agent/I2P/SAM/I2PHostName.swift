/// A name a container asks for: `<base32>.b32.i2p` goes to STREAM CONNECT as it is
/// (i2pd 2.45 takes it, checked on the test network); any other `*.i2p` name needs a
/// NAMING LOOKUP first (STREAM CONNECT answers INVALID_KEY to it).
enum I2PHostName: Equatable, Sendable {
    case b32(String)
    case name(String)

    /// nil for anything that is not an `.i2p` name made of DNS labels.
    init?(_ host: String) {
        var host = host.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        guard host.utf8.count <= 253, labels.count >= 2, labels.last == "i2p",
              labels.allSatisfy({ (1...63).contains($0.utf8.count) && $0.utf8.allSatisfy(Self.isLabelByte) }) else { return nil }
        if labels.count == 3, labels[1] == "b32" {
            guard labels[0].utf8.count >= 52, labels[0].utf8.allSatisfy(Self.isBase32Byte) else { return nil }
            self = .b32(host)
        } else {
            self = .name(host)
        }
    }

    var text: String {
        switch self {
        case .b32(let s), .name(let s): s
        }
    }

    private static func isLabelByte(_ c: UInt8) -> Bool {
        (0x61...0x7a).contains(c) || (0x30...0x39).contains(c) || c == UInt8(ascii: "-")
    }

    private static func isBase32Byte(_ c: UInt8) -> Bool {
        (0x61...0x7a).contains(c) || (0x32...0x37).contains(c)
    }
}
