import Foundation
import XCTest

/// `--version` of both binaries: one line, the same, with the revision the build embedded.
final class VersionTests: XCTestCase {
    func testBothBinariesPrintTheSameVersionWithTheBuildsRevision() throws {
        let (helper, helperOut) = try runBinary("bulkhead-helper", ["--version"])
        let (agent, agentOut) = try runBinary("bulkhead-agent", ["--version"])
        XCTAssertEqual(helper.terminationStatus, 0)
        XCTAssertEqual(agent.terminationStatus, 0)
        XCTAssertEqual(helperOut, agentOut)
        XCTAssertEqual(helperOut, "bulkhead 0.5.0 (\(Self.expectedRevision))\n")
    }

    /// What `make` wrote to Sources/CBuildInfo/git_revision.h before building, if it ran
    /// ("unknown" outside a git checkout).
    static var expectedRevision: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        guard let header = try? String(contentsOf: root.appendingPathComponent("Sources/CBuildInfo/git_revision.h"), encoding: .utf8),
              let revision = header.split(separator: "\"").dropFirst().first, revision != "unknown"
        else { return "revision unknown" }
        return "git \(revision)"
    }
}
