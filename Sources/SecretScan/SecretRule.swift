/// One detector. `pattern` is a Hyperscan/vectorscan expression over raw bytes; it
/// must bound its own length (no unbounded repeats) so a match fits the stream
/// tail the scanner keeps for redaction.
public struct SecretRule: Codable, Equatable, Sendable {
    public enum Severity: String, Codable, Sendable, CaseIterable, Comparable {
        case low, medium, high, critical
        public static func < (a: Severity, b: Severity) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
    }

    /// Where the secret value sits in the match (for entropy, filters, redaction).
    public enum Value: String, Codable, Sendable {
        /// The match is the token (minus any boundary characters).
        case whole
        /// `key = value` / `key: value`: the value after the first `=` or `:`.
        case afterAssignment = "after_assignment"
        /// `Bearer <token>`: the value after the first run of spaces.
        case afterSpace = "after_space"
    }

    public var id: String
    public var description: String
    public var severity: Severity
    public var pattern: String
    /// Lower-case keywords; one must occur in the match (gitleaks-style prefilter).
    public var keywords: [String]
    /// Minimum Shannon entropy (bits per byte) of the value, where it fits.
    public var entropy: Double?
    public var value: Value
    public var caseless: Bool

    public init(
        id: String, description: String, severity: Severity, pattern: String, keywords: [String],
        entropy: Double? = nil, value: Value = .whole, caseless: Bool = false
    ) {
        self.id = id; self.description = description; self.severity = severity; self.pattern = pattern
        self.keywords = keywords; self.entropy = entropy; self.value = value; self.caseless = caseless
    }
}
