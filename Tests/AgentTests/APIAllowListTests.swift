import Config
import Foundation
import Logging
import XCTest
@testable import Agent

/// The audit proxy's API allow-list: the decisions, and the request tap that holds a
/// request's head until it is decided (on a real spliced connection whose client and
/// daemon the test plays; the real docker CLI is in Tests/integration/audit_test.sh).
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

    // MARK: the tap, on a real spliced connection

    private let readOnlyPing = ["GET": "/_ping"]

    func testAnAllowedRequestPassesByteForByteEvenWhenSplit() throws {
        let relay = try TappedRelayHarness(allow: ["GET": "/_ping", "POST": "/v1\\.41/containers/[^/]+/start"])
        let first = "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"
        let second = "POST /v1.41/containers/web/start HTTP/1.1\r\nHost: docker\r\nContent-Length: 2\r\n\r\n{}"
        let all = first + second
        for piece in [String(all.prefix(10)), String(all.dropFirst(10).prefix(40)), String(all.dropFirst(50))] {
            relay.send(piece, from: relay.client)
            usleep(50_000)
        }
        XCTAssertEqual(relay.received(on: relay.upstream), all)
        XCTAssertEqual(relay.received(on: relay.client), "", "nothing answered by the proxy")
    }

    func testARefusedRequestNeverReachesTheDaemonAndGets403() throws {
        let relay = try TappedRelayHarness(allow: readOnlyPing)
        relay.send("POST /v1.41/containers/create HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", from: relay.client)
        let text = relay.received(on: relay.client)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 403 Forbidden\r\n"), text)
        XCTAssertTrue(text.contains("\"message\":\"bulkhead audit proxy: POST /v1.41/containers/create is not in the allow-list"), text)
        relay.send("GET /_ping HTTP/1.1\r\n\r\n", from: relay.client)
        XCTAssertEqual(relay.received(on: relay.upstream), "", "nothing, before or after the refusal, goes on")
        let log = relay.auditLog(containing: "api_refused")
        XCTAssertTrue(log.contains("\"event\":\"api_refused\""), log)
        XCTAssertTrue(log.contains("\"method\":\"POST\""), log)
        XCTAssertNotNil(relay.done.wait(), "the connection closes (the client's side at the latest after the linger)")
    }

    func testARefusalWaitsForTheEarlierResponse() throws {
        let relay = try TappedRelayHarness(allow: readOnlyPing)
        relay.send("GET /_ping HTTP/1.1\r\n\r\nDELETE /v1.41/images/x HTTP/1.1\r\n\r\n", from: relay.client)
        XCTAssertEqual(relay.received(on: relay.upstream), "GET /_ping HTTP/1.1\r\n\r\n", "the allowed request before it goes on")
        XCTAssertEqual(relay.received(on: relay.client), "", "no 403 while the first answer is owed")
        let pong = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
        relay.send(pong, from: relay.upstream)
        let text = relay.received(on: relay.client)
        XCTAssertTrue(text.hasPrefix(pong + "HTTP/1.1 403"), "the 403 goes behind the earlier answer: \(text)")
    }

    /// The daemon may close right after its last answer: the 403 is owed all the same.
    func testARefusalIsAnsweredWhenTheDaemonClosesAfterTheEarlierResponse() throws {
        let relay = try TappedRelayHarness(allow: readOnlyPing)
        relay.send("GET /_ping HTTP/1.1\r\n\r\nDELETE /v1.41/images/x HTTP/1.1\r\n\r\n", from: relay.client)
        XCTAssertEqual(relay.received(on: relay.upstream), "GET /_ping HTTP/1.1\r\n\r\n")
        let pong = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
        relay.send(pong, from: relay.upstream)
        shutdown(relay.upstream, Int32(SHUT_WR))
        let text = relay.received(on: relay.client)
        XCTAssertTrue(text.hasPrefix(pong + "HTTP/1.1 403"), text)
    }

    func testGarbageIsRefusedWhenFiltering() throws {
        let relay = try TappedRelayHarness(allow: ["GET": ".*"])
        relay.send("NOT HTTP AT ALL\r\nno colon here\r\n\r\n", from: relay.client)
        XCTAssertTrue(relay.received(on: relay.client).hasPrefix("HTTP/1.1 403"))
        XCTAssertEqual(relay.received(on: relay.upstream), "")
    }

    /// An exec start the daemon does not hijack (a 404, a detached exec) leaves the
    /// connection in HTTP: the bytes sent after it are requests, and are checked.
    func testBytesAfterAnExecStartWaitForTheAnswer() throws {
        let allow = ["POST": "/v1\\.41/exec/[^/]+/start", "GET": "/_ping"]
        let start = "POST /v1.41/exec/abc/start HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
        let smuggled = "DELETE /v1.41/images/app HTTP/1.1\r\n\r\n"

        let notHijacked = try TappedRelayHarness(allow: allow)
        notHijacked.send(start + smuggled, from: notHijacked.client)
        XCTAssertEqual(notHijacked.received(on: notHijacked.upstream), start, "the bytes after the exec start wait")
        let notFound = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"
        notHijacked.send(notFound, from: notHijacked.upstream)
        let answer = notHijacked.received(on: notHijacked.client)
        XCTAssertTrue(answer.hasPrefix(notFound + "HTTP/1.1 403"), answer)
        XCTAssertTrue(answer.contains("DELETE /v1.41/images/app is not in the allow-list"), "they were a request, and it is refused: \(answer)")
        XCTAssertEqual(notHijacked.received(on: notHijacked.upstream), "")

        let hijacked = try TappedRelayHarness(allow: allow)
        hijacked.send(start + "stdin bytes", from: hijacked.client)
        XCTAssertEqual(hijacked.received(on: hijacked.upstream), start)
        hijacked.send("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", from: hijacked.upstream)
        XCTAssertEqual(hijacked.received(on: hijacked.upstream), "stdin bytes", "after a hijack they are the container's stdin")
        hijacked.send(smuggled, from: hijacked.client)
        XCTAssertEqual(hijacked.received(on: hijacked.upstream), smuggled, "and stay so")
    }

    /// A client that keeps sending while an exec start's answer is awaited is not
    /// read: what it sends waits in its own socket, and its writes stall.
    func testWhatWaitsForAHijackIsBounded() throws {
        let relay = try TappedRelayHarness(allow: ["POST": "/v1\\.41/exec/[^/]+/start"])
        let start = "POST /v1.41/exec/abc/start HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        relay.send(start, from: relay.client)
        XCTAssertEqual(relay.received(on: relay.upstream), start)
        _ = fcntl(relay.client, F_SETFL, fcntl(relay.client, F_GETFL) | O_NONBLOCK)
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 65536)
        var accepted = 0
        while accepted < 64 << 20 {
            let n = chunk.withUnsafeBytes { write(relay.client, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            accepted += n
        }
        XCTAssertLessThan(accepted, 8 << 20, "the writer stalls at the kernel's buffers")
        XCTAssertEqual(relay.received(on: relay.upstream), "", "nothing goes on before the answer")
        relay.send("HTTP/1.1 101 UPGRADED\r\n\r\n", from: relay.upstream)
        XCTAssertEqual(relay.received(on: relay.upstream).utf8.count, accepted, "then everything sent goes on")
    }
}
