import SecretScan

/// A finding of `audit scan` with where it was found and a stable fingerprint; encoded,
/// an entry of the json report.
struct ScanFinding: Equatable, Sendable, Encodable {
    var ruleID: String
    var severity: SecretRule.Severity
    var description: String
    var redacted: String
    var source: String
    var line: Int
    var offset: UInt64
    var fingerprint: String

    enum CodingKeys: String, CodingKey {
        case ruleID = "rule_id", severity, description, redacted, source, line, offset, fingerprint
    }

    init(_ finding: Finding, description: String, source: String, line: Int) {
        ruleID = finding.ruleID
        severity = finding.severity
        self.description = description
        redacted = finding.redacted
        self.source = source
        self.line = line
        offset = finding.offset
        fingerprint = ScanFinding.fingerprint(ruleID: finding.ruleID, source: source, line: line, redacted: finding.redacted)
    }

    /// `bh1:` and 32 hex digits of SHA-256 over the rule, the source, the line and the
    /// redacted form. Built only from what the report already shows, so it never carries
    /// the secret, not even as a hash that a guess of a weak password could be checked
    /// against. Like gitleaks' `file:rule:line`, it changes when the line moves.
    static func fingerprint(ruleID: String, source: String, line: Int, redacted: String) -> String {
        Fingerprint.make(domain: "bulkhead-fingerprint-v1", [ruleID, source, String(line), redacted])
    }
}
