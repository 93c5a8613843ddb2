import Crypto

/// A public I2P destination: 256 bytes of encryption key, 128 of signing key, then a
/// certificate (type, 2-byte length, payload). Ed25519 with a key certificate: 391 bytes.
struct I2PDestination: Equatable, Sendable {
    static let fixedLength = 387
    let bytes: [UInt8]

    /// The destination at the start of `raw` (a public destination or a private key
    /// blob); nil when `raw` is shorter than its certificate says.
    init?(prefixOf raw: [UInt8]) {
        guard raw.count >= Self.fixedLength else { return nil }
        let length = Self.fixedLength + (Int(raw[385]) << 8 | Int(raw[386]))
        guard raw.count >= length else { return nil }
        bytes = Array(raw[..<length])
    }

    /// A destination as SAM writes it (NAMING REPLY VALUE, a FORWARD header): exactly one.
    init?(base64: some StringProtocol) {
        guard let raw = I2PBase64.decode(base64) else { return nil }
        self.init(prefixOf: raw)
        guard bytes.count == raw.count else { return nil }
    }

    var base64: String { I2PBase64.encode(bytes) }

    /// `<52 chars>.b32.i2p`: lowercase base32 of SHA-256(destination), no padding.
    var b32: String { Self.base32(Array(SHA256.hash(data: bytes))) + ".b32.i2p" }

    private static func base32(_ bytes: [UInt8]) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
        var out = [UInt8]()
        var acc: UInt32 = 0, bits = 0
        for b in bytes {
            acc = acc << 8 | UInt32(b)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int(acc >> UInt32(bits) & 31)])
            }
        }
        if bits > 0 { out.append(alphabet[Int(acc << UInt32(5 - bits) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A SAM private key string (`DESTINATION=` of SESSION CREATE): the public destination,
/// then the private keys. Saved as is and given back to re-create the same destination.
struct I2PPrivateKey: Equatable, Sendable {
    let text: String
    let destination: I2PDestination

    /// nil unless `text` is I2P base64 holding a destination followed by key material.
    init?(_ text: some StringProtocol) {
        guard let raw = I2PBase64.decode(text), let destination = I2PDestination(prefixOf: raw),
              raw.count > destination.bytes.count else { return nil }
        self.text = String(text)
        self.destination = destination
    }
}
