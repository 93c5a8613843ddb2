import IPC
import XCTest

final class HelperCountersCodecTests: XCTestCase {
    func testRoundTrip() throws {
        var counters = HelperCounters()
        counters.agentSessions = 3
        counters.undecodable = 7
        counters.byType[.hello] = .init(granted: 3, refused: 1)
        counters.byType[.netfilterCommit] = .init(granted: UInt64.max, refused: 0)
        XCTAssertEqual(try HelperCounters.decode(counters.encode()), counters)
        XCTAssertEqual(counters.agentRestarts, 2)
    }

    func testMalformedRepliesAreRejected() {
        var counters = HelperCounters()
        counters.byType[.hello] = .init(granted: 1, refused: 0)
        let bytes = counters.encode()
        XCTAssertThrowsError(try HelperCounters.decode(Array(bytes.dropLast())), "truncated")
        XCTAssertThrowsError(try HelperCounters.decode(bytes + [0]), "trailing byte")
        var unknown = bytes
        unknown[18] = 0x77  // the first entry's type
        XCTAssertThrowsError(try HelperCounters.decode(unknown), "unknown request type")
        var many = WireWriter()
        many.u64(0); many.u64(0); many.u16(UInt16.max)
        XCTAssertThrowsError(try HelperCounters.decode(many.bytes), "more types than exist")
    }
}
