import ArgumentParser

/// The file formats of `audit scan --report-format`.
enum ScanReportFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case json, sarif, csv

    /// The format a report path's extension names, if any.
    init?(pathExtensionOf path: String) {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        self.init(rawValue: path[path.index(after: dot)...].lowercased())
    }

    func render(_ findings: [ScanFinding], rules: [RuleSummary]) throws -> [UInt8] {
        switch self {
        case .json: return try JSONScanReport.render(findings)
        case .sarif: return try SARIFScanReport.render(findings, rules: rules)
        case .csv: return CSVScanReport.render(findings)
        }
    }
}

/// What a report says about a rule (SARIF lists every rule that ran).
struct RuleSummary: Sendable {
    var id: String
    var description: String
    var severity: String
}
