import Foundation

/// `--baseline FILE` and `audit.baseline`: the fingerprints of a report written earlier
/// by `audit scan` (json, sarif or csv) or of an audit file (JSON lines), told apart by
/// content. Findings whose fingerprint is in it are not reported again.
struct ScanBaseline: Sendable {
    let fingerprints: Set<String>

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Reports are small; a baseline larger than this is a wrong file, not a report.
    static let maxBytes = 64 << 20

    init(fingerprints: Set<String>) { self.fingerprints = fingerprints }

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Failure(description: "cannot read baseline \(path)")
        }
        defer { try? handle.close() }
        let data = try handle.read(upToCount: Self.maxBytes + 1) ?? Data()
        guard data.count <= Self.maxBytes else {
            throw Failure(description: "baseline \(path) is larger than \(Self.maxBytes >> 20) MiB: not a report")
        }
        self.init(fingerprints: try Self.parse(data, path: path))
    }

    func contains(_ finding: ScanFinding) -> Bool { fingerprints.contains(finding.fingerprint) }

    static func parse(_ data: Data, path: String) throws -> Set<String> {
        let first = data.first(where: { ![0x20, 0x09, 0x0a, 0x0d].contains($0) })
        if first == UInt8(ascii: "[") || first == UInt8(ascii: "{") {
            guard let json = try? JSONSerialization.jsonObject(with: data) else {
                if let lines = jsonLines(data) { return lines }
                throw Failure(description: "baseline \(path) is not valid JSON")
            }
            if let entries = json as? [[String: Any]] {
                return try Set(entries.enumerated().map { i, entry in
                    guard let fp = entry["fingerprint"] as? String else {
                        throw Failure(description: "baseline \(path): entry \(i + 1) has no \"fingerprint\" (write it with --report-format json)")
                    }
                    return fp
                })
            }
            if let log = json as? [String: Any], let runs = log["runs"] as? [[String: Any]] {
                let results = runs.flatMap { $0["results"] as? [[String: Any]] ?? [] }
                return Set(results.compactMap {
                    ($0["partialFingerprints"] as? [String: Any])?[SARIFScanReport.fingerprintKey] as? String
                })
            }
            if let lines = jsonLines(data), !lines.isEmpty { return lines }  // an audit file of one line
            throw Failure(description: "baseline \(path) is neither a report of audit scan (json, sarif) nor an audit file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure(description: "baseline \(path) is not UTF-8 text")
        }
        let rows = text.split(whereSeparator: \.isNewline)
        guard let header = rows.first, header.split(separator: ",").contains("fingerprint") else {
            throw Failure(description: "baseline \(path) is not a report of audit scan (json, sarif or csv with a fingerprint column)")
        }
        // A quoted path may hold commas, so take the field that has a fingerprint's shape.
        return Set(rows.dropFirst().flatMap { row in
            row.split(separator: ",").map(String.init).filter(isFingerprint)
        })
    }

    /// An audit file (one JSON object per line): the fingerprints of its secret events.
    private static func jsonLines(_ data: Data) -> Set<String>? {
        var found = Set<String>()
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.allSatisfy({ $0 == 0x20 || $0 == 0x0d }) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { return nil }
            if let fp = object["fingerprint"] as? String, isFingerprint(fp) { found.insert(fp) }
        }
        return found
    }

    static func isFingerprint(_ text: String) -> Bool {
        text.count == 36 && text.hasPrefix("bh1:") && text.dropFirst(4).allSatisfy(\.isHexDigit)
    }
}
