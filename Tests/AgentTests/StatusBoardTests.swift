@testable import Agent
import XCTest

final class StatusBoardTests: XCTestCase {
    func testAServiceIsStartingUntilItReports() {
        let board = StatusBoard()
        board.expect("ssh")
        let document = StatusDocument(board: board)
        XCTAssertFalse(document.healthy)
        XCTAssertEqual(document.services.map(\.state), ["starting"])
    }

    func testOneFailingCheckFailsTheServiceAndSinceHolds() throws {
        let board = StatusBoard()
        board.set("ssh", "link a", healthy: true, state: "up")
        board.set("ssh", "link b", healthy: true, state: "up")
        let upSince = try XCTUnwrap(board.snapshot().first?.since)
        board.set("ssh", "link b", healthy: false, state: "down", detail: "connection refused")
        let failing = StatusDocument(board: board)
        XCTAssertFalse(failing.healthy)
        XCTAssertEqual(failing.failing.map(\.name), ["ssh"])
        let checkB = try XCTUnwrap(failing.services.first?.checks.first { $0.name == "link b" })
        XCTAssertEqual(checkB.detail, "connection refused")
        let downSince = try XCTUnwrap(board.snapshot().first?.since)
        XCTAssertGreaterThanOrEqual(downSince, upSince)
        board.set("ssh", "link b", healthy: false, state: "down", detail: "timed out")
        XCTAssertEqual(board.snapshot().first?.since, downSince, "the same state again does not move since")
        XCTAssertTrue(failing.text().contains("FAILING: ssh"), failing.text())
        XCTAssertTrue(failing.text().contains("link b: down for"), failing.text())
    }

    func testJSONRoundTripKeepsFactsAndSnakeCaseKeys() throws {
        let board = StatusBoard()
        board.set("router", "listener", healthy: true, state: "listening")
        board.facts("router") { ["open_connections": .count(3), "last_pass_seconds_ago": .seconds(1.25), "mode": .text("x")] }
        let json = StatusDocument(board: board).json()
        let text = String(decoding: json, as: UTF8.self)
        XCTAssertTrue(text.contains("\"for_seconds\":"), text)
        XCTAssertTrue(text.contains("\"open_connections\":3"), text)
        let decoded = try StatusDocument.decode(json)
        XCTAssertTrue(decoded.healthy)
        XCTAssertEqual(decoded.services.first?.facts["open_connections"], .count(3))
        XCTAssertEqual(decoded.services.first?.facts["last_pass_seconds_ago"], .seconds(1.25))
        XCTAssertEqual(decoded.services.first?.facts["mode"], .text("x"))
    }

    func testDurationsReadLikeAPerson() {
        XCTAssertEqual(StatusDocument.duration(0.42), "0.4s")
        XCTAssertEqual(StatusDocument.duration(42), "42s")
        XCTAssertEqual(StatusDocument.duration(185), "3m05s")
        XCTAssertEqual(StatusDocument.duration(7620), "2h07m")
        XCTAssertEqual(StatusDocument.duration(273_600), "3d04h")
    }
}
