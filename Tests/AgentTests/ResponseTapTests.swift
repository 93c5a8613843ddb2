@testable import Agent
import Foundation
import XCTest

/// The response tap, on a real spliced connection whose client and daemon the test
/// plays: it follows the daemon's responses through their framing (interim heads,
/// chunked and Content-Length bodies, bodiless answers), passes every byte on,
/// learns container and exec ids from the bodies that carry them, and scans the
/// streams it should.
final class ResponseTapTests: XCTestCase {
    /// Writes `text` in pieces of `size` bytes from the daemon's end; what the client
    /// gets must be every byte, in order.
    private func pass(_ text: String, in size: Int, through relay: TappedRelayHarness) {
        let bytes = Array(text.utf8)
        for start in stride(from: 0, to: bytes.count, by: size) {
            SpliceRelayTests.writeAll(relay.upstream, Array(bytes[start..<min(start + size, bytes.count)]))
        }
        XCTAssertEqual(relay.received(on: relay.client), text, "passed on untouched")
    }

    func testResponsesOfEveryFramingAreFollowedAndTheirIdsLearned() throws {
        let requests = "GET /v1.43/containers/web/json HTTP/1.1\r\n\r\n" + "HEAD /containers/web/json HTTP/1.1\r\n\r\n"
            + "POST /containers/web/exec HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}" + "DELETE /containers/old HTTP/1.1\r\n\r\n"
        let id = String(repeating: "ab", count: 32)
        let inspect = #"{"Id":"\#(id)","Name":"/web"}"#
        let responses = "HTTP/1.1 100 Continue\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(inspect.utf8.count, radix: 16) + "\r\n" + inspect + "\r\n0\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n"  // a HEAD's answer has no body
            + "HTTP/1.1 201 Created\r\nContent-Length: %EXEC_LENGTH%\r\n\r\n%EXEC%"
            + "HTTP/1.1 204 No Content\r\n\r\n"
        let relay = try TappedRelayHarness()
        for (round, size) in [1, 7, 4096].enumerated() {
            let exec = #"{"Id":"e\#(round)"}"#
            relay.send(requests, from: relay.client)
            XCTAssertEqual(relay.received(on: relay.upstream), requests)
            pass(responses.replacingOccurrences(of: "%EXEC_LENGTH%", with: "\(exec.utf8.count)").replacingOccurrences(of: "%EXEC%", with: exec),
                 in: size, through: relay)
            XCTAssertEqual(relay.containers.id(of: "web"), id, "learned from the chunked inspect body (pieces of \(size))")
            XCTAssertEqual(relay.containers.container(ofExec: "e\(round)"), id, "learned from the exec-create body (pieces of \(size))")
        }
    }

    func testAResponseNobodyAskedForStopsTheFollowingButNotTheBytes() throws {
        let relay = try TappedRelayHarness()
        pass("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n\r\n", in: 5, through: relay)
        relay.send("GET /containers/web/json HTTP/1.1\r\n\r\n", from: relay.client)
        _ = relay.received(on: relay.upstream)
        let inspect = #"{"Id":"learned"}"#
        pass("HTTP/1.1 200 OK\r\nContent-Length: \(inspect.utf8.count)\r\n\r\n\(inspect)", in: 5, through: relay)
        XCTAssertEqual(relay.containers.id(of: "web"), "web", "nothing is parsed after a response nobody asked for")
    }

    /// Bodies nobody scans move unseen (splice only); they must still arrive whole,
    /// and the framing must still be followed: the response after them is parsed.
    func testLargeUnscannedBodiesOfBothFramingsPassWhole() throws {
        let relay = try TappedRelayHarness()
        let big = String(repeating: "0123456789abcdef", count: 200_000)  // 3.2 MB
        let chunked = stride(from: 0, to: big.utf8.count, by: 32768).map { start -> String in
            let piece = String(big.utf8.dropFirst(start).prefix(32768))!
            return String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n"
        }.joined() + "0\r\n\r\n"
        let inspect = #"{"Id":"after-the-big-ones"}"#
        relay.send("GET /containers/x/archive?path=/ HTTP/1.1\r\n\r\nGET /images/get HTTP/1.1\r\n\r\nGET /containers/web/json HTTP/1.1\r\n\r\n", from: relay.client)
        _ = relay.received(on: relay.upstream)
        let responses = "HTTP/1.1 200 OK\r\nContent-Length: \(big.utf8.count)\r\n\r\n\(big)"
            + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(chunked)"
            + "HTTP/1.1 200 OK\r\nContent-Length: \(inspect.utf8.count)\r\n\r\n\(inspect)"
        let upstream = relay.upstream
        let writer = Thread { SpliceRelayTests.writeAll(upstream, Array(responses.utf8)) }
        writer.start()
        XCTAssertEqual(relay.received(on: relay.client), responses)
        XCTAssertEqual(relay.containers.id(of: "web"), "after-the-big-ones", "the response after the bodies was parsed")
    }

    /// A logs stream is scanned: its secret is an audit event, its bytes unchanged.
    func testALogsStreamIsScannedAndPassesUnchanged() throws {
        let relay = try TappedRelayHarness()
        relay.send("GET /v1.43/containers/web/logs?stdout=1 HTTP/1.1\r\n\r\n", from: relay.client)
        _ = relay.received(on: relay.upstream)
        let line = Array("key AKIAP3GSZDET6QG3EGXO here\n".utf8)
        let frame = [1, 0, 0, 0, 0, 0, 0, UInt8(line.count)] + line
        let head = Array("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n\r\n".utf8)
        SpliceRelayTests.writeAll(relay.upstream, head + frame)
        shutdown(relay.upstream, Int32(SHUT_WR))
        let got = SpliceRelayTests.readToEnd(relay.client)
        XCTAssertEqual(got, head + frame, "passed on untouched")
        let log = relay.auditLog(containing: "aws-access-key")
        XCTAssertTrue(log.contains("\"pattern\":\"aws-access-key\""), log)
        XCTAssertFalse(log.contains("AKIAP3GSZDET6QG3EGXO"), "recorded redacted")
    }
}
