import Config
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import XCTest
@testable import Agent

/// The audit proxy's API allow-list: the decisions, and the request tap that holds a
/// request's head until it is decided (on an embedded channel standing in for the
/// client connection; the real docker CLI is in Tests/integration/audit_test.sh).
final class APIAllowListTests: XCTestCase {
    private func policy(_ profile: AuditAPIProfile?, _ allow: [String: String] = [:]) throws -> APIPolicy {
        var section = AuditSection()
        section.profile = profile
        section.allow = allow
        return try XCTUnwrap(try APIPolicy(section))
    }

    func testNoProfileAndNoAllowListMeansNoFilter() throws {
        XCTAssertNil(try APIPolicy(AuditSection()))
    }

    func testReadOnlyProfile() throws {
        let p = try policy(.readOnly)
        for (method, target) in [("GET", "/_ping"), ("HEAD", "/_ping"), ("GET", "/v1.41/containers/json?all=1"),
                                 ("GET", "/v1.41/containers/web/json"), ("GET", "/v1.41/version"), ("GET", "/events?since=1")] {
            XCTAssertTrue(p.decide(method: method, target: target).allowed, "\(method) \(target)")
        }
        for (method, target) in [("POST", "/v1.41/containers/create"), ("POST", "/v1.41/containers/web/start"),
                                 ("GET", "/v1.41/containers/web/export"), ("GET", "/v1.41/containers/web/archive?path=/etc"),
                                 ("DELETE", "/v1.41/containers/web"), ("PATCH", "/_ping"), ("GET", "/v1.41/containers/json/extra")] {
            XCTAssertFalse(p.decide(method: method, target: target).allowed, "\(method) \(target)")
        }
    }

    func testPathsThatCouldBeReadTwoWaysAreRefused() throws {
        let p = try policy(nil, ["GET": ".*", "POST": "/v1\\.41/containers/[^/]+/json"])
        for target in ["/v1.41/containers/json/../create", "/v1.41//containers/json", "/v1.41/containers%2Fjson",
                       "/v1.41/./containers/json", "v1.41/containers/json", "/v1.41/containers/%2e%2e/x", "/a\\b", "/a b"] {
            XCTAssertFalse(p.decide(method: "GET", target: target).allowed, target)
        }
        XCTAssertTrue(p.decide(method: "POST", target: "/v1.41/containers/web/json").allowed)
        XCTAssertFalse(p.decide(method: "POST", target: "/v1.41/containers/web/json/x").allowed, "the whole path must match")
        XCTAssertFalse(p.decide(method: "GET", target: "/" + String(repeating: "a", count: APIPolicy.maxTarget)).allowed)
    }

    func testCIBuildAddsBuildsToReads() throws {
        let p = try policy(.ciBuild)
        XCTAssertTrue(p.decide(method: "POST", target: "/v1.41/build?t=app").allowed)
        XCTAssertTrue(p.decide(method: "POST", target: "/v1.41/images/registry.local/team/app/push").allowed)
        XCTAssertTrue(p.decide(method: "GET", target: "/v1.41/containers/json").allowed)
        XCTAssertFalse(p.decide(method: "POST", target: "/v1.41/containers/create").allowed)
    }

    // MARK: the tap

    private func tap(_ allow: [String: String]) throws -> (EmbeddedChannel, ExchangeLog, String) {
        let path = NSTemporaryDirectory() + "bulkhead-api-\(UUID().uuidString).jsonl"
        let pipeline = AuditPipeline(ruleSet: .builtIn(), log: try AuditLogFile(path: path, logger: Logger(label: "test")), capacity: 16, policy: .block, logger: Logger(label: "test"))
        let exchanges = ExchangeLog()
        let gate = APIRefusal(policy: try policy(nil, allow), pipeline: pipeline, connection: 7, logger: Logger(label: "test"))
        let channel = EmbeddedChannel(handler: RequestTap(exchanges: exchanges, gate: gate))
        return (channel, exchanges, path)
    }

    private func forwarded(_ channel: EmbeddedChannel) throws -> String {
        var out = ""
        while var buffer = try channel.readInbound(as: ByteBuffer.self) { out += buffer.readString(length: buffer.readableBytes) ?? "" }
        return out
    }

    func testAnAllowedRequestPassesByteForByteEvenWhenSplit() throws {
        let (channel, _, _) = try tap(["GET": "/_ping", "POST": "/v1\\.41/containers/[^/]+/start"])
        let first = "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"
        let second = "POST /v1.41/containers/web/start HTTP/1.1\r\nHost: docker\r\nContent-Length: 2\r\n\r\n{}"
        let all = first + second
        for piece in [String(all.prefix(10)), String(all.dropFirst(10).prefix(40)), String(all.dropFirst(50))] {
            try channel.writeInbound(channel.allocator.buffer(string: piece))
        }
        XCTAssertEqual(try forwarded(channel), all)
        XCTAssertNil(try channel.readOutbound(as: ByteBuffer.self), "nothing answered by the proxy")
    }

    func testARefusedRequestNeverReachesTheDaemonAndGets403() throws {
        let (channel, _, path) = try tap(["GET": "/_ping"])
        try channel.writeInbound(channel.allocator.buffer(string: "POST /v1.41/containers/create HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"))
        XCTAssertEqual(try forwarded(channel), "")
        var answer = try XCTUnwrap(try channel.readOutbound(as: ByteBuffer.self))
        let text = answer.readString(length: answer.readableBytes) ?? ""
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 403 Forbidden\r\n"), text)
        XCTAssertTrue(text.contains("\"message\":\"bulkhead audit proxy: POST /v1.41/containers/create is not in the allow-list"), text)
        try channel.writeInbound(channel.allocator.buffer(string: "GET /_ping HTTP/1.1\r\n\r\n"))
        XCTAssertEqual(try forwarded(channel), "", "nothing after a refusal goes on")
        let deadline = Date().addingTimeInterval(10)
        var log = ""
        while Date() < deadline, !log.contains("api_refused") { usleep(20_000); log = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        XCTAssertTrue(log.contains("\"event\":\"api_refused\""), log)
        XCTAssertTrue(log.contains("\"method\":\"POST\""), log)
    }

    func testARefusalWaitsForTheEarlierResponse() throws {
        let (channel, exchanges, _) = try tap(["GET": "/_ping"])
        try channel.writeInbound(channel.allocator.buffer(string: "GET /_ping HTTP/1.1\r\n\r\nDELETE /v1.41/images/x HTTP/1.1\r\n\r\n"))
        XCTAssertEqual(try forwarded(channel), "GET /_ping HTTP/1.1\r\n\r\n", "the allowed request before it goes on")
        XCTAssertNil(try channel.readOutbound(as: ByteBuffer.self), "no 403 while the first answer is owed")
        exchanges.waiting.removeFirst()  // the response tap: the answer's head, then its end
        exchanges.answering = true
        exchanges.responseEnded()
        channel.embeddedEventLoop.run()  // the 403 goes behind the earlier answer's last read
        var answer = try XCTUnwrap(try channel.readOutbound(as: ByteBuffer.self))
        XCTAssertTrue((answer.readString(length: answer.readableBytes) ?? "").hasPrefix("HTTP/1.1 403"))
    }

    func testGarbageIsRefusedWhenFiltering() throws {
        let (channel, _, _) = try tap(["GET": ".*"])
        try channel.writeInbound(channel.allocator.buffer(string: "NOT HTTP AT ALL\r\nno colon here\r\n\r\n"))
        XCTAssertEqual(try forwarded(channel), "")
        XCTAssertNotNil(try channel.readOutbound(as: ByteBuffer.self))
    }

    /// An exec start the daemon does not hijack (a 404, a detached exec) leaves the
    /// connection in HTTP: the bytes sent after it are requests, and are checked.
    func testBytesAfterAnExecStartWaitForTheAnswer() throws {
        let allow = ["POST": "/v1\\.41/exec/[^/]+/start", "GET": "/_ping"]
        let start = "POST /v1.41/exec/abc/start HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
        let smuggled = "DELETE /v1.41/images/app HTTP/1.1\r\n\r\n"

        let (notHijacked, exchanges, _) = try tap(allow)
        try notHijacked.writeInbound(notHijacked.allocator.buffer(string: start + smuggled))
        XCTAssertEqual(try forwarded(notHijacked), start, "the bytes after the exec start wait")
        exchanges.waiting.removeFirst()
        exchanges.answering = true
        exchanges.hijackAnswered?(false)  // e.g. 404 No such exec instance
        XCTAssertEqual(try forwarded(notHijacked), "", "they were a request, and it is refused")
        exchanges.responseEnded()
        notHijacked.embeddedEventLoop.run()
        var answer = try XCTUnwrap(try notHijacked.readOutbound(as: ByteBuffer.self))
        XCTAssertTrue((answer.readString(length: answer.readableBytes) ?? "").contains("DELETE /v1.41/images/app is not in the allow-list"))

        let (hijacked, exchanges2, _) = try tap(allow)
        try hijacked.writeInbound(hijacked.allocator.buffer(string: start + "stdin bytes"))
        XCTAssertEqual(try forwarded(hijacked), start)
        exchanges2.hijackAnswered?(true)
        XCTAssertEqual(try forwarded(hijacked), "stdin bytes", "after a hijack they are the container's stdin")
        try hijacked.writeInbound(hijacked.allocator.buffer(string: smuggled))
        XCTAssertEqual(try forwarded(hijacked), smuggled, "and stay so")
    }

    /// A client that keeps sending while an exec start's answer is awaited is not read
    /// past a bound: the proxy holds at most `maxHeld` (and a read) of it.
    func testWhatWaitsForAHijackIsBounded() throws {
        let (channel, exchanges, _) = try tap(["POST": "/v1\\.41/exec/[^/]+/start"])
        let tap = try channel.pipeline.syncOperations.handler(type: RequestTap.self)
        try channel.writeInbound(channel.allocator.buffer(string: "POST /v1.41/exec/abc/start HTTP/1.1\r\nContent-Length: 0\r\n\r\n"))
        _ = try forwarded(channel)
        let chunk = String(repeating: "x", count: 64 * 1024)
        for _ in 0..<(RequestTap.maxHeld / chunk.count - 1) { try channel.writeInbound(channel.allocator.buffer(string: chunk)) }
        XCTAssertFalse(tap.paused, "below the bound, reading goes on")
        try channel.writeInbound(channel.allocator.buffer(string: chunk))
        XCTAssertTrue(tap.paused, "at the bound, reading pauses (autoRead off)")
        XCTAssertEqual(try forwarded(channel), "", "nothing goes on before the answer")
        exchanges.hijackAnswered?(true)
        XCTAssertEqual(try forwarded(channel).count, RequestTap.maxHeld, "then everything held goes on")
        XCTAssertFalse(tap.paused, "and reading resumes")
    }
}
