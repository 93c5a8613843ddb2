import Foundation
import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The real helper in its normal mode, running a copy of the agent binary, notices
/// when that file changes on disk and says once that it needs a restart.
final class AgentBinaryChangeTests: XCTestCase {
    var dir = ""
    var agentPath: String { "\(dir)/bin/bulkhead-agent" }
    var helper: RunningHelper?
    let notice = "changed on disk"

    override func setUpWithError() throws {
        try HelperUnderTest.requireRoot()
        guard getpwnam("bulkhead") != nil else { throw XCTSkip("account bulkhead missing: run `make test`, which creates it") }
        var template = Array("/run/bulkhead-binary-XXXXXX".utf8CString)
        dir = String(cString: try XCTUnwrap(mkdtemp(&template)))
        chmod(dir, 0o755)
        try FileManager.default.createDirectory(atPath: "\(dir)/bin", withIntermediateDirectories: false)
        chmod("\(dir)/bin", 0o755)
        try FileManager.default.copyItem(atPath: "\(HelperUnderTest.binDir)/bulkhead-agent", toPath: agentPath)
        let config = """
            router:
              listen: \(dir)/router.sock
            agent:
              path: \(agentPath)
              binary_check_interval: 1
            """
        try config.write(toFile: "\(dir)/bulkhead.yaml", atomically: true, encoding: .utf8)
        helper = try RunningHelper(config: "\(dir)/bulkhead.yaml", logPath: "\(dir)/helper.log")
        // The agent's own start line (the spawner's "agent started" comes before its exec).
        try waitForLog(seconds: 30) { $0.contains("started") && $0.contains("services") }
    }

    override func tearDown() {
        helper?.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testUnchangedBinaryIsNotReported() throws {
        sleep(3)  // three periodic checks
        XCTAssertFalse(log.contains(notice), log)
        let version = "bulkhead 0.5.0 (\(VersionTests.expectedRevision))"
        XCTAssertTrue(log.split(separator: "\n").contains { $0.contains("ready") && $0.contains(version) }, "helper's ready line has the version:\n\(log)")
        XCTAssertTrue(log.split(separator: "\n").contains { $0.contains("started") && $0.contains(version) }, "agent's started line has the version:\n\(log)")
    }

    func testReplacementByRenameIsReportedOnce() throws {
        try FileManager.default.copyItem(atPath: agentPath, toPath: "\(dir)/bin/new-agent")
        XCTAssertEqual(rename("\(dir)/bin/new-agent", agentPath), 0)
        try waitForNotice()
        sleep(2)
        XCTAssertEqual(log.components(separatedBy: notice).count - 1, 1, "reported once:\n\(log)")
    }

    func testRewriteInPlaceIsReported() throws {
        // The agent runs from this file: a write may be refused (ETXTBSY) where the
        // kernel denies writes to running executables; a new mtime is a rewrite too.
        let fd = open(agentPath, O_WRONLY | O_APPEND)
        if fd >= 0 {
            XCTAssertEqual(write(fd, "\n", 1), 1)
            close(fd)
        } else {
            XCTAssertEqual(errno, ETXTBSY)
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: agentPath)
        }
        try waitForNotice()
    }

    private func waitForNotice() throws {
        try waitForLog(seconds: 10) { $0.contains(self.notice) }
        let line = try XCTUnwrap(log.split(separator: "\n").first { $0.contains(notice) })
        XCTAssertTrue(line.contains("the agent binary \(agentPath) changed on disk (was built "), String(line))
        XCTAssertTrue(line.contains("restart bulkhead-helper to run the new version"), String(line))
    }

    private var log: String { helper?.log ?? "" }

    private func waitForLog(seconds: Double, line matches: (Substring) -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if log.split(separator: "\n").contains(where: matches) { return }
            usleep(100_000)
        }
        throw HelperTestError.unexpected("no expected line in \(seconds) s; log:\n\(log)")
    }
}
