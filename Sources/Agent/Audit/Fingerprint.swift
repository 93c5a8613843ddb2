import Crypto

/// Stable fingerprints of findings: `bh1:` and 32 hex digits of SHA-256 over a domain
/// and the parts that identify a finding. Callers pass only what their report already
/// shows (never the secret), so a fingerprint cannot be checked against a guess.
enum Fingerprint {
    static func make(domain: String, _ parts: [String]) -> String {
        let text = ([domain] + parts).joined(separator: "\0")
        let digest = SHA256.hash(data: Array(text.utf8))
        return "bh1:" + digest.prefix(16).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
