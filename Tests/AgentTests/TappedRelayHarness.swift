@testable import Agent
import Config
import Foundation
import Logging
import NIOPosix
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// One audit-tapped spliced connection over real socketpairs, as the audit proxy
/// makes them: the test plays both the client and the daemon.
final class TappedRelayHarness {
    /// The test's end of the client connection, and of the upstream one.
    let client: Int32
    let upstream: Int32
    let done = SpliceRelayTests.Finished()
    let containers = ContainerDirectory()
    /// The audit file the taps' events are written to.
    let auditPath = NSTemporaryDirectory() + "bulkhead-tapped-\(UUID().uuidString).jsonl"
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let relay: SpliceRelay

    /// `allow`: an API allow-list (per method, as `audit.allow`), or none.
    init(allow: [String: String]? = nil) throws {
        signal(SIGPIPE, SIG_IGN)  // as the agent does at start (RunAgent)
        let logger = Logger(label: "test")
        relay = SpliceRelay(threads: 1, fallback: group, logger: logger)
        let pipeline = AuditPipeline(ruleSet: .builtIn(), log: try AuditLogFile(path: auditPath, logger: logger),
                                     capacity: 16, policy: .block, logger: logger)
        let gate = try allow.map { rules in
            var section = AuditSection()
            section.allow = rules
            return APIRefusal(policy: try XCTUnwrap(try APIPolicy(section)), pipeline: pipeline, connection: 7, logger: logger)
        }
        let exchanges = ExchangeLog()
        let clientNear: Int32, upstreamNear: Int32
        (client, clientNear) = SpliceRelayTests.pair()
        (upstreamNear, upstream) = SpliceRelayTests.pair()
        relay.start(client: clientNear, upstream: upstreamNear, taps: Relay.Taps(
            request: RequestTap(exchanges: exchanges, gate: gate),
            response: ResponseTap(exchanges: exchanges, pipeline: pipeline, containers: containers, connection: 7))) { [done] in done.record($0) }
    }

    deinit {
        close(client)
        close(upstream)
        unlink(auditPath)
        try? group.syncShutdownGracefully()
    }

    func send(_ text: String, from fd: Int32) { SpliceRelayTests.writeAll(fd, Array(text.utf8)) }

    /// What arrives on `fd` until it has been quiet for `quiet` (or ends); at most 10 s.
    func received(on fd: Int32, quiet: Duration = .milliseconds(300)) -> String {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, Int32(quiet.milliseconds)) == 1 else { break }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The audit file's text once it contains `needle` (waiting up to 10 s).
    func auditLog(containing needle: String) -> String {
        var log = ""
        for _ in 0..<500 {
            log = (try? String(contentsOfFile: auditPath, encoding: .utf8)) ?? ""
            if log.contains(needle) { break }
            usleep(20_000)
        }
        return log
    }
}
