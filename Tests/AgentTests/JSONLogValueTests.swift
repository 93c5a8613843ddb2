import Foundation
import Logging
import XCTest
@testable import LogSetup

final class JSONLogValueTests: XCTestCase {
    func testNumbersBooleansAndDurationsAreTyped() throws {
        let metadata: Logger.Metadata = [
            "pid": .stringConvertible(Int32(4242)), "bytes": .stringConvertible(UInt64(1) << 40),
            "ratio": .stringConvertible(0.25), "ok": .stringConvertible(true),
            "retry_in": .stringConvertible(Duration.milliseconds(1500)),
            "name": "web", "label": .stringConvertible("still text"), "count_text": "12",
            "nested": .dictionary(["port": .stringConvertible(80)]), "list": .array([.stringConvertible(1), "a"]),
        ]
        let line = "{" + metadata.sorted { $0.key < $1.key }.map { "\(JSONText.quote($0.key)):\(JSONLogValue.render($0.value))" }
            .joined(separator: ",") + "}"
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
        XCTAssertEqual(object["pid"] as? Int, 4242)
        XCTAssertEqual(object["bytes"] as? Int, 1 << 40)
        XCTAssertEqual(object["ratio"] as? Double, 0.25)
        XCTAssertEqual(object["ok"] as? Bool, true)
        XCTAssertEqual(object["retry_in"] as? Double, 1.5)
        XCTAssertEqual(object["name"] as? String, "web")
        XCTAssertEqual(object["label"] as? String, "still text")
        XCTAssertEqual(object["count_text"] as? String, "12", "a .string stays a string")
        XCTAssertEqual((object["nested"] as? [String: Any])?["port"] as? Int, 80)
        XCTAssertEqual((object["list"] as? [Any])?.count, 2)
    }

    func testNonFiniteNumbersStayValidJSON() throws {
        let text = JSONLogValue.render(.stringConvertible(Double.nan))
        XCTAssertEqual(text, "\"nan\"")
    }
}

final class JournalStreamTests: XCTestCase {
    func testOnlyOurOwnStdoutCountsAsTheJournal() {
        var info = stat()
        XCTAssertEqual(fstat(1, &info), 0)
        XCTAssertTrue(JournalStream.isStandardOutput("\(info.st_dev):\(info.st_ino)"))
        XCTAssertFalse(JournalStream.isStandardOutput("\(info.st_dev):\(info.st_ino + 1)"))
        XCTAssertFalse(JournalStream.isStandardOutput(nil))
        XCTAssertFalse(JournalStream.isStandardOutput("garbage"))
        XCTAssertEqual(JournalStream.priorityPrefix(.warning), "<4>")
    }
}
