import Foundation

/// `--report-format json`: one array of findings, the format `--baseline` reads back.
enum JSONScanReport {
    static func render(_ findings: [ScanFinding]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(findings)) + [0x0a]
    }
}
