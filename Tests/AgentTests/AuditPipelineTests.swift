import Config
import Foundation
import Logging
import SecretScan
import XCTest
@testable import Agent

/// The audit queue's policies, with the real scanner thread and audit file.
final class AuditPipelineTests: XCTestCase {
    /// A pipeline with the built-in rules and a queue of 16, writing to a new audit file
    /// (removed when the test ends), with a stream of `container`'s logs open on it.
    func openLogStream(policy: AuditSection.QueueFull, baseline: Set<String> = [], connection: UInt64 = 1,
                       container: String) throws -> (pipeline: AuditPipeline, stream: UInt64, path: String) {
        let path = NSTemporaryDirectory() + "bulkhead-audit-\(UUID().uuidString).jsonl"
        let log = try AuditLogFile(path: path, logger: Logger(label: "test"))
        addTeardownBlock { unlink(path) }
        let pipeline = AuditPipeline(ruleSet: .builtIn(), log: log, capacity: 16, policy: policy, baseline: baseline, logger: Logger(label: "test"))
        let stream = pipeline.newStreamID()
        pipeline.submit(.open(stream: stream, connection: connection, container: container, source: "logs")) {}
        return (pipeline, stream, path)
    }

    func events(in path: String, waitingFor count: Int) -> [[String: String]] {
        let deadline = Date().addingTimeInterval(20)
        var found: [[String: String]] = []
        repeat {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            found = text.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]
            }
            if found.count >= count { break }
            usleep(50_000)
        } while Date() < deadline
        return found
    }

    /// With `drop`, a full queue drops data (never control work) and the stream's
    /// close records how many bytes went unscanned.
    func testDropPolicyRecordsWhatWasNotScanned() throws {
        let (pipeline, id, path) = try openLogStream(policy: .drop, container: "c1")
        // Keep the scanner busy with one large item, then burst small ones into the queue.
        pipeline.submit(.data(stream: id, kind: "stdout", bytes: [UInt8](repeating: 0x61, count: 256 << 20))) {}
        for _ in 0..<200 { pipeline.submit(.data(stream: id, kind: "stdout", bytes: Array("x token\n".utf8))) {} }
        pipeline.submit(.close(stream: id)) {}
        let dropped = events(in: path, waitingFor: 1).filter { $0["event"] == "dropped" }
        XCTAssertEqual(dropped.count, 1, "one summary event for the stream")
        XCTAssertEqual(dropped.first?["container_id"], "c1")
        XCTAssertGreaterThan(Int(dropped.first?["dropped_bytes"] ?? "0") ?? 0, 0)
    }

    /// With `block`, nothing is dropped: the producer is told to pause, and told
    /// when there is room again.
    func testBlockPolicyAsksToPauseAndResumes() throws {
        let (pipeline, id, path) = try openLogStream(policy: .block, container: "c2")
        pipeline.submit(.data(stream: id, kind: "stdout", bytes: [UInt8](repeating: 0x61, count: 256 << 20))) {}
        let resumed = expectation(description: "resumed")
        resumed.assertForOverFulfill = false
        var paused = false
        for i in 0..<40 {
            let room = pipeline.submit(.data(stream: id, kind: "stdout", bytes: Array("password=Secr3tPassw0rd\(i)\n".utf8))) { resumed.fulfill() }
            if !room { paused = true; break }
        }
        XCTAssertTrue(paused, "a full queue asks the producer to pause")
        wait(for: [resumed], timeout: 20)
        pipeline.submit(.close(stream: id)) {}
        let all = events(in: path, waitingFor: 1)
        XCTAssertTrue(all.allSatisfy { $0["event"] != "dropped" }, "block never drops")
        XCTAssertGreaterThan(all.filter { $0["pattern"] == "password" }.count, 0, "the queued data was scanned")
    }

    /// `audit.baseline`: secret events whose fingerprint an earlier audit file holds are
    /// not recorded again; new ones are, with their fingerprint.
    func testBaselineSilencesKnownSecretsOnly() throws {
        let secret = "ghp_" + String(repeating: "aB3dE5gH7j", count: 4).prefix(36)
        let (first, a, firstPath) = try openLogStream(policy: .block, container: "c3")
        first.submit(.data(stream: a, kind: "stdout", bytes: Array("token \(secret)\n".utf8))) {}
        first.submit(.close(stream: a)) {}
        let recorded = events(in: firstPath, waitingFor: 1)
        let fingerprint = try XCTUnwrap(recorded.first?["fingerprint"])
        let known = try ScanBaseline(path: firstPath).fingerprints
        XCTAssertEqual(known, [fingerprint], "an audit file reads back as a baseline")

        let (again, b, path) = try openLogStream(policy: .block, baseline: known, connection: 2, container: "c3")
        again.submit(.data(stream: b, kind: "stdout", bytes: Array("token \(secret)\npassword=N3wPassw0rdX\n".utf8))) {}
        again.submit(.close(stream: b)) {}
        let now = events(in: path, waitingFor: 1)
        XCTAssertEqual(now.map { $0["pattern"] }, ["password"], "only the secret the baseline does not hold")
        let elsewhere = AuditScanner.fingerprint(
            Finding(ruleID: "github-token", severity: .critical, redacted: recorded.first?["redacted_match"] ?? "", offset: 0, length: 40),
            container: "other", streamType: "stdout")
        XCTAssertNotEqual(elsewhere, fingerprint, "the same secret in another container is another event")
    }
}
