import Foundation
import LogSetup

/// `--report-format sarif`: a SARIF 2.1.0 log with one run, every rule that ran in the
/// driver, and per result the file, the line and `partialFingerprints["bulkhead/v1"]`.
/// Checked against the OASIS schema in Tests/integration/audit_scan_test.sh.
enum SARIFScanReport {
    static let fingerprintKey = "bulkhead/v1"

    struct Log: Codable {
        var schema = "https://json.schemastore.org/sarif-2.1.0.json"
        var version = "2.1.0"
        var runs: [Run]
        enum CodingKeys: String, CodingKey { case schema = "$schema", version, runs }
    }
    struct Run: Codable { var tool: Tool; var results: [Result] }
    struct Tool: Codable { var driver: Driver }
    struct Driver: Codable {
        var name: String
        var semanticVersion: String
        var rules: [Rule]
    }
    struct Rule: Codable {
        var id: String
        var shortDescription: Message
        var defaultConfiguration: Configuration
        var properties: [String: String]
    }
    struct Configuration: Codable { var level: String }
    struct Message: Codable { var text: String }
    struct Result: Codable {
        var ruleId: String
        var ruleIndex: Int
        var level: String
        var message: Message
        var locations: [Location]
        var partialFingerprints: [String: String]
    }
    struct Location: Codable { var physicalLocation: PhysicalLocation }
    struct PhysicalLocation: Codable { var artifactLocation: ArtifactLocation; var region: Region }
    struct ArtifactLocation: Codable { var uri: String }
    struct Region: Codable { var startLine: Int }

    static func render(_ findings: [ScanFinding], rules: [RuleSummary]) throws -> [UInt8] {
        let index = Dictionary(rules.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        let driver = Driver(
            name: "bulkhead-agent audit scan", semanticVersion: BulkheadVersion.number,
            rules: rules.map {
                Rule(id: $0.id, shortDescription: Message(text: $0.description.isEmpty ? $0.id : $0.description),
                     defaultConfiguration: Configuration(level: level($0.severity)), properties: ["severity": $0.severity])
            })
        let results = findings.map { f in
            Result(ruleId: f.ruleID, ruleIndex: index[f.ruleID] ?? 0, level: level(f.severity.rawValue),
                   message: Message(text: "\(f.description.isEmpty ? f.ruleID : f.description): \(f.redacted)"),
                   locations: [Location(physicalLocation: PhysicalLocation(
                       artifactLocation: ArtifactLocation(uri: uri(f.source)), region: Region(startLine: f.line)))],
                   partialFingerprints: [fingerprintKey: f.fingerprint])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(Log(runs: [Run(tool: Tool(driver: driver), results: results)]))) + [0x0a]
    }

    /// SARIF's levels: critical and high are errors, medium a warning, low a note.
    static func level(_ severity: String) -> String {
        switch severity {
        case "critical", "high": return "error"
        case "medium": return "warning"
        default: return "note"
        }
    }

    /// A relative or absolute path as a URI reference (spaces and the like percent-encoded).
    static func uri(_ path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: ":")
        let encoded = path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
        return path.hasPrefix("/") ? "file://" + encoded : encoded
    }
}
