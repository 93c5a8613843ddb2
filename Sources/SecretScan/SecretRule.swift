/// One detector. `pattern` is a Hyperscan/vectorscan expression over raw bytes; it
/// must bound its own length (no unbounded repeats) so a match fits the stream
/// tail the scanner keeps for redaction.
public struct SecretRule: Codable, Equatable, Sendable {
    public enum Severity: String, Codable, Sendable, CaseIterable {
        case low, medium, high, critical
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
    /// The rule finds its own start: from the end of the match (less one trailing
    /// boundary character), the value extends left over these characters (at most
    /// 256). Such a rule is compiled without start-of-match tracking, which is slow
    /// for patterns that begin with a long character run (e-mail addresses).
    public var extendLeft: String?

    public init(
        id: String, description: String, severity: Severity, pattern: String, keywords: [String],
        entropy: Double? = nil, value: Value = .whole, caseless: Bool = false, extendLeft: String? = nil
    ) {
        self.id = id; self.description = description; self.severity = severity; self.pattern = pattern
        self.keywords = keywords; self.entropy = entropy; self.value = value; self.caseless = caseless
        self.extendLeft = extendLeft
    }

    enum CodingKeys: String, CodingKey {
        case id, description, severity, pattern, keywords, entropy, value, caseless
        case extendLeft = "extend_left"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        severity = try c.decodeIfPresent(Severity.self, forKey: .severity) ?? .medium
        pattern = try c.decode(String.self, forKey: .pattern)
        keywords = try c.decodeIfPresent([String].self, forKey: .keywords) ?? []
        entropy = try c.decodeIfPresent(Double.self, forKey: .entropy)
        value = try c.decodeIfPresent(Value.self, forKey: .value) ?? .whole
        caseless = try c.decodeIfPresent(Bool.self, forKey: .caseless) ?? false
        extendLeft = try c.decodeIfPresent(String.self, forKey: .extendLeft)
    }
}
