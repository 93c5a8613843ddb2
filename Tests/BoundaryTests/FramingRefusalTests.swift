import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A compromised agent's malformed traffic: each record is refused with one
/// typed reply, logged, has no effect, and the helper keeps serving.
final class FramingRefusalTests: HelperSessionTestCase {
    override var greetsOnStart: Bool { false }

    func testUnknownRequestTypeIsRefused() throws {
        try helper.hello()
        let frame = Frame(kind: .request, type: 0x7777, id: 9, payload: [1, 2, 3])
        assertRefused(try helper.callRaw(frame.encoded()), .unknownType)
        XCTAssertTrue(helper.isAlive)
    }

    func testWrongVersionIsRefused() throws {
        var bytes = Request.hello(protocolVersion: 1).encodedFrame(id: 1)
        bytes[4] = 9
        assertRefused(try helper.callRaw(bytes), .unsupportedVersion)
        try helper.hello()  // the session is still usable
    }

    func testLengthFieldMismatchIsRefused() throws {
        var bytes = Request.hello(protocolVersion: 1).encodedFrame(id: 1)
        bytes[3] &+= 4
        assertRefused(try helper.callRaw(bytes), .malformed)
    }

    func testShortRecordIsRefused() throws {
        assertRefused(try helper.callRaw([0, 0, 0, 5, 1]), .malformed)
        assertRefused(try helper.callRaw([0xff]), .malformed)
    }

    func testOversizedRecordIsRefused() throws {
        var bytes = Request.hello(protocolVersion: 1).encodedFrame(id: 1)
        bytes += [UInt8](repeating: 0x41, count: 64 * 1024)
        assertRefused(try helper.callRaw(bytes), .oversized)
        try helper.hello()
    }

    func testReplyKindFromAgentIsRefused() throws {
        let frame = Frame(kind: .reply, type: 0, id: 1, payload: [])
        assertRefused(try helper.callRaw(frame.encoded()), .malformed)
    }

    func testTrailingBytesAreRefused() throws {
        try helper.hello()
        let frame = Frame(kind: .request, type: RequestType.bindUnixListener.rawValue, id: 3,
                          payload: Request.bindUnixListener(name: ListenerName("extra")!).encodePayload() + [0])
        assertRefused(try helper.callRaw(frame.encoded()), .malformed)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.extraSocket), "a refused bind must not create the socket")
    }

    func testAnythingBeforeHelloIsRefused() throws {
        assertRefused(try helper.call(.bindUnixListener(name: ListenerName("extra")!)), .notPermittedNow)
        assertRefused(try helper.call(.bindTCPListener(name: ListenerName("priv")!)), .notPermittedNow)
        let (a, b) = try PacketChannel.pair()
        defer { a.close(); b.close() }
        assertRefused(try helper.call(.connectUserDockerSocket(uid: 1000), fd: a.fd), .notPermittedNow)
        assertRefused(try helper.call(.connectUpstream(name: ListenerName("audit")!)), .notPermittedNow)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.extraSocket))
    }

    func testSecondHelloIsRefused() throws {
        try helper.hello()
        assertRefused(try helper.call(.hello(protocolVersion: Frame.version)), .notPermittedNow)
    }

    func testHelloWithWrongProtocolVersionIsRefused() throws {
        assertRefused(try helper.call(.hello(protocolVersion: 2)), .unsupportedVersion)
    }

    func testFDOnARequestThatTakesNoneIsRefused() throws {
        try helper.hello()
        let (a, b) = try PacketChannel.pair()
        defer { a.close(); b.close() }
        assertRefused(try helper.call(.bindUnixListener(name: ListenerName("extra")!), fd: a.fd), .malformed)
        assertRefused(try helper.call(.bindTCPListener(name: ListenerName("priv")!), fd: a.fd), .malformed)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.extraSocket))
    }

    func testHelloConfigDocumentIsTheHelpersConfig() throws {
        let (reply, _) = try helper.call(.hello(protocolVersion: Frame.version))
        guard case .ok(let payload) = reply else { return XCTFail("hello refused: \(reply)") }
        let text = String(decoding: payload, as: UTF8.self)
        XCTAssertTrue(text.contains(fixture.routerSocket.replacingOccurrences(of: "/", with: "\\/")), text)
    }

    /// An agent that sends but never reads its replies cannot stall the helper:
    /// once a reply cannot be delivered the session is dropped (in --ipc-fd mode,
    /// the helper then exits cleanly).
    func testAgentThatNeverReadsIsDroppedNotWaitedFor() throws {
        let hello = Request.hello(protocolVersion: Frame.version).encodedFrame(id: 1)
        var sent = 0
        for _ in 0..<100_000 {
            let n = hello.withUnsafeBytes { Glibc.send(helper.channel.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EAGAIN { usleep(1000); continue }; break }
            sent += 1
        }
        let status = helper.waitForExit(timeout: 10)
        XCTAssertNotNil(status, "the helper must not block on an agent that does not read (sent \(sent))")
        XCTAssertEqual(status.map { ($0 >> 8) & 0xff }, 0)
    }

    func testSIGHUPDoesNotFreezeTheHelper() throws {
        try helper.hello()
        kill(helper.pid, SIGHUP)
        usleep(100_000)
        assertRefused(try helper.call(.hello(protocolVersion: Frame.version)), .notPermittedNow)
        XCTAssertTrue(helper.isAlive)
    }

    /// Bounded mutation fuzzing of the live, sandboxed helper: every record gets
    /// exactly one reply and the helper never dies.
    func testRandomRecordsNeverKillTheHelper() throws {
        try helper.hello()
        var rng = SystemRandomNumberGenerator()
        let seeds: [[UInt8]] = RequestType.allCases.map {
            Frame(kind: .request, type: $0.rawValue, id: 1, payload: [0, 5] + Array("extra".utf8)).encoded()
        }
        let deadline = Date().addingTimeInterval(Double(ProcessInfo.processInfo.environment["BULKHEAD_FUZZ_SECONDS"] ?? "5") ?? 5)
        var sent = 0
        while Date() < deadline, sent < 200_000 {
            var bytes = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0 where !bytes.isEmpty: bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.append(UInt8.random(in: 0...255, using: &rng))
                case 2 where bytes.count > 1: bytes.removeLast(Int.random(in: 1..<bytes.count, using: &rng))
                default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
                }
            }
            let (reply, fd) = try helper.callRaw(bytes)
            if fd >= 0 { close(fd) }
            _ = reply
            sent += 1
        }
        XCTAssertTrue(helper.isAlive, "helper died after \(sent) random records")
        XCTAssertGreaterThan(sent, 100)
        print("fuzz: \(sent) random records, helper alive")
    }
}

extension Request {
    func encodedFrame(id: UInt32) -> [UInt8] {
        Frame(kind: .request, type: type.rawValue, id: id, payload: encodePayload()).encoded()
    }
}
