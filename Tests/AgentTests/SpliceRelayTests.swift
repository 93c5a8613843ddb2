@testable import Agent
import Logging
import NIOPosix
import Synchronization
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The router's in-kernel relay, on real Unix stream sockets: bytes and counts,
/// half-close both ways, backpressure (nothing queued beyond the kernel's
/// buffers), a peer that goes away, and accepting on the loops themselves.
final class SpliceRelayTests: XCTestCase {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private lazy var relay = SpliceRelay(threads: 2, fallback: group, logger: Logger(label: "test"))

    override func setUp() {
        signal(SIGPIPE, SIG_IGN)  // as the agent does at start (RunAgent)
    }

    override func tearDown() {
        try? group.syncShutdownGracefully()
    }

    /// A relayed pair: the client's far end, the upstream's far end, and what `finished` reported.
    private func relayed() -> (client: Int32, upstream: Int32, done: Finished) {
        let (client, clientNear) = Self.pair()
        let (upstreamNear, upstream) = Self.pair()
        let done = Finished()
        relay.start(client: clientNear, upstream: upstreamNear) { done.record($0) }
        return (client, upstream, done)
    }

    func testBytesCrossBothWaysAndAreCounted() throws {
        let (client, upstream, done) = relayed()
        let request = Self.pattern(3 * 1024 * 1024, seed: 1)
        let response = Self.pattern(5 * 1024 * 1024 + 17, seed: 2)
        let writer = Thread { Self.writeAll(client, request); shutdown(client, Int32(SHUT_WR)) }
        writer.start()
        XCTAssertEqual(Self.readToEnd(upstream), request, "the request arrives whole, then end of input")
        let answerer = Thread { Self.writeAll(upstream, response); close(upstream) }  // more than the buffers hold
        answerer.start()
        XCTAssertEqual(Self.readToEnd(client), response, "the response arrives whole, then end of input")
        close(client)
        let totals = try XCTUnwrap(done.wait())
        XCTAssertEqual(totals.fromClient, request.count)
        XCTAssertEqual(totals.toClient, response.count)
        XCTAssertEqual(done.calls, 1, "finished reports once")
    }

    /// `docker run -i`: the client ends its input, the daemon keeps answering.
    func testHalfCloseKeepsTheOtherDirection() throws {
        let (client, upstream, done) = relayed()
        Self.writeAll(client, Array("input".utf8))
        shutdown(client, Int32(SHUT_WR))
        XCTAssertEqual(Self.readToEnd(upstream), Array("input".utf8))
        for chunk in ["one ", "two ", "three"] {
            Self.writeAll(upstream, Array(chunk.utf8))
            usleep(20_000)
        }
        shutdown(upstream, Int32(SHUT_WR))
        XCTAssertEqual(Self.readToEnd(client), Array("one two three".utf8))
        let totals = try XCTUnwrap(done.wait())
        XCTAssertEqual(totals.toClient, 13)
        close(client); close(upstream)
    }

    /// A reader that stops reading stalls the writer: the relay holds at most a
    /// pipe's worth, the rest stays in the sender's socket buffer.
    func testBackpressureStallsTheWriter() throws {
        let (client, upstream, done) = relayed()
        _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
        let chunk = [UInt8](repeating: 7, count: 65536)
        var accepted = 0
        let deadline = ContinuousClock.now + .seconds(10)
        var stalledFor = 0
        while stalledFor < 20, ContinuousClock.now < deadline, accepted < 256 * 1024 * 1024 {
            let n = chunk.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            if n > 0 { accepted += n; stalledFor = 0 } else { stalledFor += 1; usleep(10_000) }
        }
        XCTAssertLessThan(accepted, 16 * 1024 * 1024, "the writer stalls after the kernel's buffers and one pipe, not after everything")
        _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) & ~O_NONBLOCK)
        shutdown(client, Int32(SHUT_WR))
        XCTAssertEqual(Self.readToEnd(upstream).count, accepted, "once read, every accepted byte arrives")
        close(upstream)
        XCTAssertEqual(Self.readToEnd(client).count, 0)
        XCTAssertEqual(try XCTUnwrap(done.wait()).fromClient, accepted)
        close(client)
    }

    /// `docker exec cat`: the daemon writes more than the buffers hold and closes
    /// at once; a slow client still gets every byte (the hang-up is reported
    /// long before the pipe drains).
    func testAnUpstreamThatClosesAfterALargeAnswerDeliversAll() throws {
        let (client, upstream, done) = relayed()
        let answer = Self.pattern(8 * 1024 * 1024 + 3, seed: 5)
        let answerer = Thread { Self.writeAll(upstream, answer); close(upstream) }
        answerer.start()
        usleep(300_000)  // the client reads late: the upstream has long hung up by then
        XCTAssertEqual(Self.readToEnd(client), answer)
        XCTAssertEqual(try XCTUnwrap(done.wait()).toClient, answer.count)
        close(client)
    }

    /// The client goes away while the daemon still streams: the relay ends and
    /// closes the upstream too (as a reset ends a copying relay).
    func testAPeerThatClosesEndsTheRelay() throws {
        let (client, upstream, done) = relayed()
        Self.writeAll(upstream, Array("log line\n".utf8))
        close(client)
        XCTAssertNotNil(done.wait(), "finished runs")
        // The upstream sees the relay's side closed: end of input (after anything in flight).
        _ = Self.readToEnd(upstream)
        var buffer = [UInt8](repeating: 0, count: 1)
        XCTAssertEqual(read(upstream, &buffer, 1), 0)
        close(upstream)
    }

    /// The loops accept themselves; a relay started by the handler stays on the
    /// loop that accepted, without a hand-off.
    func testAcceptingOnTheLoops() throws {
        let path = "/tmp/bulkhead-splice-test-\(getpid()).sock"
        unlink(path)
        let listener = try Self.listen(path)
        defer { close(listener); unlink(path) }
        let (upstreamNear, upstream) = Self.pair()
        let done = Finished()
        let handled = Mutex<Bool?>(nil)
        relay.accept(on: listener) { [relay] client in
            handled.withLock { $0 = Thread.isMainThread }
            relay.start(client: client, upstream: upstreamNear) { done.record($0) }
        }
        let client = try Self.connect(path)
        Self.writeAll(client, Array("GET /_ping".utf8))
        shutdown(client, Int32(SHUT_WR))
        XCTAssertEqual(Self.readToEnd(upstream), Array("GET /_ping".utf8))
        XCTAssertEqual(handled.withLock { $0 }, false, "handled on a loop thread")
        Self.writeAll(upstream, Array("OK".utf8))
        close(upstream)
        XCTAssertEqual(Self.readToEnd(client), Array("OK".utf8))
        XCTAssertNotNil(done.wait())
        relay.stopAccepting()
        close(client)
    }

    // MARK: - helpers (real sockets; each test bounded by `Finished.wait`'s 10 s)

    final class Finished: Sendable {
        private let state = Mutex<(totals: Relay.Totals?, calls: Int)>((nil, 0))
        func record(_ totals: Relay.Totals) { state.withLock { $0.totals = totals; $0.calls += 1 } }
        var calls: Int { state.withLock { $0.calls } }
        func wait() -> Relay.Totals? {
            for _ in 0..<1000 {
                if let totals = state.withLock({ $0.totals }) { return totals }
                usleep(10_000)
            }
            return nil
        }
    }

    static func pair() -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        return (fds[0], fds[1])
    }

    static func pattern(_ count: Int, seed: UInt8) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed } }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            precondition(n > 0, "write failed: \(errno)")
            done += n
        }
    }

    static func readToEnd(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return out }
            out += buffer[0..<n]
        }
    }

    static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        return address
    }

    static func listen(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = address(path)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard bound == 0, Glibc.listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        return fd
    }

    static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = address(path)
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        return fd
    }
}
