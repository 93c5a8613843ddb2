import Foundation

/// `--report-format csv`: RFC 4180, a header row, one row per finding.
enum CSVScanReport {
    static let header = ["rule_id", "severity", "source", "line", "offset", "redacted", "fingerprint", "description"]

    static func render(_ findings: [ScanFinding]) -> [UInt8] {
        var rows = [header.map(field).joined(separator: ",")]
        for f in findings {
            rows.append([f.ruleID, f.severity.rawValue, f.source, String(f.line), String(f.offset), f.redacted,
                         f.fingerprint, f.description].map(field).joined(separator: ","))
        }
        return Array((rows.joined(separator: "\r\n") + "\r\n").utf8)
    }

    /// Quoted when it holds a comma, a quote or a line break; quotes doubled.
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
