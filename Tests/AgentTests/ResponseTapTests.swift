@testable import Agent
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import XCTest

/// The response tap follows the daemon's responses through their framing (interim heads,
/// chunked and Content-Length bodies, bodiless answers), passes every byte on, and
/// learns container and exec ids from the bodies that carry them.
final class ResponseTapTests: XCTestCase {
    private let containers = ContainerDirectory()
    private let exchanges = ExchangeLog()

    private func channel() throws -> EmbeddedChannel {
        let path = NSTemporaryDirectory() + "bulkhead-tap-\(UUID().uuidString).jsonl"
        addTeardownBlock { unlink(path) }
        let pipeline = AuditPipeline(ruleSet: .builtIn(), log: try AuditLogFile(path: path, logger: Logger(label: "test")),
                                     capacity: 16, policy: .block, logger: Logger(label: "test"))
        return EmbeddedChannel(handler: ResponseTap(exchanges: exchanges, pipeline: pipeline, containers: containers, connection: 1))
    }

    private func asked(_ method: String, _ target: String) {
        exchanges.waiting.append(.init(endpoint: DockerEndpoint(method: method, target: target), isHead: method == "HEAD"))
    }

    /// Writes `text` in pieces of `size` bytes; what comes out must be every byte, in order.
    private func pass(_ text: String, in size: Int, through channel: EmbeddedChannel) throws {
        let bytes = Array(text.utf8)
        for start in stride(from: 0, to: bytes.count, by: size) {
            try channel.writeInbound(ByteBuffer(bytes: bytes[start..<min(start + size, bytes.count)]))
        }
        var out: [UInt8] = []
        while var piece = try channel.readInbound(as: ByteBuffer.self) { out += piece.readBytes(length: piece.readableBytes) ?? [] }
        XCTAssertEqual(String(decoding: out, as: UTF8.self), text, "passed on untouched")
    }

    func testResponsesOfEveryFramingAreFollowedAndTheirIdsLearned() throws {
        let channel = try channel()
        asked("GET", "/v1.43/containers/web/json")
        asked("HEAD", "/containers/web/json")
        asked("POST", "/containers/web/exec")
        asked("DELETE", "/containers/old")
        let id = String(repeating: "ab", count: 32)
        let inspect = #"{"Id":"\#(id)","Name":"/web"}"#
        let exec = #"{"Id":"e1"}"#
        let responses = "HTTP/1.1 100 Continue\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(inspect.utf8.count, radix: 16) + "\r\n" + inspect + "\r\n0\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n"  // a HEAD's answer has no body
            + "HTTP/1.1 201 Created\r\nContent-Length: \(exec.utf8.count)\r\n\r\n" + exec
            + "HTTP/1.1 204 No Content\r\n\r\n"
        for size in [1, 7, responses.utf8.count] {
            try pass(responses, in: size, through: channel)
            XCTAssertTrue(exchanges.waiting.isEmpty, "every response was matched (pieces of \(size))")
            XCTAssertFalse(exchanges.answering, "the last one ended")
            XCTAssertEqual(containers.id(of: "web"), id, "learned from the chunked inspect body")
            XCTAssertEqual(containers.container(ofExec: "e1"), id, "learned from the exec-create body")
            asked("GET", "/v1.43/containers/web/json")
            asked("HEAD", "/containers/web/json")
            asked("POST", "/containers/web/exec")
            asked("DELETE", "/containers/old")
        }
    }

    func testAResponseNobodyAskedForStopsTheFollowingButNotTheBytes() throws {
        let channel = try channel()
        try pass("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n\r\n", in: 5, through: channel)
        asked("GET", "/containers/web/json")
        try pass("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", in: 5, through: channel)
        XCTAssertEqual(exchanges.waiting.count, 1, "nothing is parsed after a response nobody asked for")
    }
}
