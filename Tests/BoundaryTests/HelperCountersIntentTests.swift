import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// helperCounters: read-only, after hello only, no payload and no fd; the counts it
/// returns are the helper's own, across the session.
final class HelperCountersIntentTests: HelperSessionTestCase {
    override var greetsOnStart: Bool { false }

    func testBeforeHelloIsRefused() throws {
        assertRefused(try helper.call(.helperCounters), .notPermittedNow)
    }

    func testPayloadIsRefusedAsMalformed() throws {
        try helper.hello()
        let frame = Frame(kind: .request, type: RequestType.helperCounters.rawValue, id: 5, payload: [0])
        assertRefused(try helper.callRaw(frame.encoded()), .malformed)
    }

    func testFDAttachedIsRefused() throws {
        try helper.hello()
        let (a, b) = try PacketChannel.pair()
        defer { a.close(); b.close() }
        assertRefused(try helper.call(.helperCounters, fd: a.fd), .malformed)
    }

    func testCountsGrantsAndRefusalsByType() throws {
        assertRefused(try helper.call(.helperCounters), .notPermittedNow)
        try helper.hello()
        assertRefused(try helper.call(.connectUpstream(name: ListenerName("nosuch")!)), .unknownName)
        assertRefused(try helper.callRaw(Frame(kind: .request, type: 0x7777, id: 8, payload: []).encoded()), .unknownType)
        let (reply, fd) = try helper.call(.helperCounters)
        XCTAssertEqual(fd, -1)
        guard case .ok(let payload) = reply else { return XCTFail("refused: \(reply)") }
        let counters = try HelperCounters.decode(payload)
        XCTAssertEqual(counters.agentSessions, 1)
        XCTAssertEqual(counters.agentRestarts, 0)
        XCTAssertEqual(counters.byType[.hello], .init(granted: 1, refused: 0))
        XCTAssertEqual(counters.byType[.connectUpstream], .init(granted: 0, refused: 1))
        XCTAssertEqual(counters.byType[.helperCounters], .init(granted: 0, refused: 1), "the refusal before hello; this call is counted after its reply")
        XCTAssertEqual(counters.undecodable, 1, "the unknown type")
    }
}
