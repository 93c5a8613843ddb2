import Foundation
import Logging
import XCTest
@testable import Agent

/// logrotate's move-then-SIGHUP: after a reopen the next event goes to a new file at the path.
final class AuditLogFileTests: XCTestCase {
    func testReopenAfterRenameWritesANewFile() throws {
        let dir = NSTemporaryDirectory() + "bulkhead-audit-reopen-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/audit.jsonl"
        let log = try AuditLogFile(path: path, logger: Logger(label: "test"))
        log.write(event: "first", fields: [])
        XCTAssertEqual(rename(path, path + ".1"), 0)
        log.write(event: "second", fields: [])  // no reopen asked: still the moved file
        AuditLogFile.requestReopen()
        log.write(event: "third", fields: [])
        let old = try String(contentsOfFile: path + ".1", encoding: .utf8)
        let new = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(old.split(separator: "\n").count, 2)
        XCTAssertTrue(old.contains("\"second\""))
        XCTAssertEqual(new.split(separator: "\n").count, 1)
        XCTAssertTrue(new.contains("\"third\""))
    }
}
