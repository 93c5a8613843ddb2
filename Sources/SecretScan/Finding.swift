/// One secret found in a stream. Never holds the secret itself: only its redacted form.
public struct Finding: Equatable, Sendable {
    public var ruleID: String
    public var severity: SecretRule.Severity
    /// First 2 and last 2 characters of the value (`AK***LE`); `***` if 6 or fewer.
    public var redacted: String
    /// Stream offset of the match's first byte.
    public var offset: UInt64
    public var length: Int

    public init(ruleID: String, severity: SecretRule.Severity, redacted: String, offset: UInt64, length: Int) {
        self.ruleID = ruleID; self.severity = severity; self.redacted = redacted; self.offset = offset; self.length = length
    }
}

enum Redaction {
    static func redact(_ value: String) -> String {
        let scalars = Array(value.unicodeScalars)
        guard scalars.count > 6 else { return "***" }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars[0..<2])
        out.append(contentsOf: "***".unicodeScalars)
        out.append(contentsOf: scalars[(scalars.count - 2)...])
        return String(out)
    }
}
