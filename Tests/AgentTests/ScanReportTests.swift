import Foundation
import SecretScan
import XCTest
@testable import Agent

final class ScanReportTests: XCTestCase {
    private func finding(source: String = "app.log", line: Int = 3, description: String = "GitHub token") -> ScanFinding {
        ScanFinding(Finding(ruleID: "github-token", severity: .critical, redacted: "gh***Zz", offset: 40, length: 40),
                    description: description, source: source, line: line)
    }

    func testFingerprintIsStableAndNamesNoSecret() {
        let a = finding(), b = finding()
        XCTAssertEqual(a.fingerprint, b.fingerprint)
        XCTAssertTrue(ScanBaseline.isFingerprint(a.fingerprint), a.fingerprint)
        XCTAssertNotEqual(a.fingerprint, finding(line: 4).fingerprint, "the line is part of it")
        XCTAssertNotEqual(a.fingerprint, finding(source: "other.log").fingerprint, "the source is part of it")
    }

    func testCSVQuotesFieldsThatNeedIt() {
        XCTAssertEqual(CSVScanReport.field("plain"), "plain")
        XCTAssertEqual(CSVScanReport.field("a,b"), "\"a,b\"")
        XCTAssertEqual(CSVScanReport.field("say \"hi\""), "\"say \"\"hi\"\"\"")
        let text = String(decoding: CSVScanReport.render([finding(source: "dir, with comma/app.log")]), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("rule_id,severity,source,line,offset,redacted,fingerprint,description\r\n"))
        XCTAssertTrue(text.contains("\"dir, with comma/app.log\""))
    }

    func testEveryFormatReadsBackAsABaseline() throws {
        let findings = [finding(source: "dir, with comma/app.log"), finding(line: 9)]
        let rules = [RuleSummary(id: "github-token", description: "GitHub token", severity: "critical")]
        for format in ScanReportFormat.allCases {
            let bytes = try format.render(findings, rules: rules)
            let read = try ScanBaseline.parse(Data(bytes), path: "report.\(format.rawValue)")
            XCTAssertEqual(read, Set(findings.map(\.fingerprint)), "\(format)")
        }
    }

    func testABaselineThatIsNotAReportIsRefused() {
        for text in ["hello\n", "{\"a\": 1}", "[{\"rule_id\": \"x\"}]", "[1,"] {
            XCTAssertThrowsError(try ScanBaseline.parse(Data(text.utf8), path: "b"), text)
        }
    }

    func testSARIFLevelsAndURIs() {
        XCTAssertEqual(SARIFScanReport.level("critical"), "error")
        XCTAssertEqual(SARIFScanReport.level("medium"), "warning")
        XCTAssertEqual(SARIFScanReport.level("low"), "note")
        XCTAssertEqual(SARIFScanReport.uri("logs/a b.txt"), "logs/a%20b.txt")
        XCTAssertEqual(SARIFScanReport.uri("/var/log/x.log"), "file:///var/log/x.log")
    }

    func testReportPathExtensionPicksTheFormat() {
        XCTAssertEqual(ScanReportFormat(pathExtensionOf: "out/scan.SARIF"), .sarif)
        XCTAssertEqual(ScanReportFormat(pathExtensionOf: "scan.csv"), .csv)
        XCTAssertNil(ScanReportFormat(pathExtensionOf: "dir.d/scan"))
        XCTAssertNil(ScanReportFormat(pathExtensionOf: "scan.txt"))
    }
}
