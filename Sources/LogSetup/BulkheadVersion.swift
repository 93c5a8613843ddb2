import CBuildInfo

/// The product's one version, shared by bulkhead-helper and bulkhead-agent.
public enum BulkheadVersion {
    public static let number = "0.5.0"

    /// The git revision `make` embedded, or nil for a plain `swift build`.
    public static var revision: String? {
        let text = String(cString: bh_git_revision())
        return text == "unknown" ? nil : text
    }

    /// What `--version` prints, e.g. `bulkhead 0.5.0 (git 1a2b3c4)`.
    public static var line: String {
        "bulkhead \(number) (\(revision.map { "git \($0)" } ?? "revision unknown"))"
    }
}
