import Foundation

/// `--report-format json`: one array of findings, the format `--baseline` reads back.
enum JSONScanReport {
    struct Entry: Codable, Equatable {
        var ruleID: String
        var description: String
        var severity: String
        var source: String
        var line: Int
        var offset: UInt64
        var redacted: String
        var fingerprint: String

        enum CodingKeys: String, CodingKey {
            case ruleID = "rule_id", description, severity, source, line, offset, redacted, fingerprint
        }
    }

    static func render(_ findings: [ScanFinding]) throws -> [UInt8] {
        let entries = findings.map {
            Entry(ruleID: $0.ruleID, description: $0.description, severity: $0.severity.rawValue, source: $0.source,
                  line: $0.line, offset: $0.offset, redacted: $0.redacted, fingerprint: $0.fingerprint)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(entries)) + [0x0a]
    }
}
