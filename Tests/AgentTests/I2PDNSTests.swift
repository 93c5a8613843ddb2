import Config
import Foundation
import IPC
import XCTest
@testable import Agent

/// The plugin's DNS: parser bounds and the answers it gives.
final class I2PDNSTests: XCTestCase {
    let container = IPv4Address("10.231.8.2")!
    let b32 = String(repeating: "a", count: 52) + ".b32.i2p"

    func responder(_ pool: FakePool = FakePool(pool: IPv4Subnet("10.192.0.0/10"), path: nil)) -> I2PDNSResponder {
        let known = container
        return I2PDNSResponder(pool: pool, isKnownSource: { $0 == known }, note: { _ in })
    }

    /// A query for `name` (labels as given, no compression) of `type`.
    func query(_ name: String, type: UInt16 = 1, id: UInt16 = 0x1234, flags: UInt16 = 0x0100, counts: [UInt16] = [1, 0, 0, 0]) -> [UInt8] {
        var q: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), UInt8(flags >> 8), UInt8(flags & 0xff)]
        for c in counts { q += [UInt8(c >> 8), UInt8(c & 0xff)] }
        for label in name.split(separator: ".") { q.append(UInt8(label.utf8.count)); q += label.utf8 }
        return q + [0, UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
    }

    func rcode(_ answer: [UInt8]?) -> UInt8? { answer.map { $0[3] & 0x0F } }
    func answerCount(_ answer: [UInt8]?) -> Int? { answer.map { Int($0[6]) << 8 | Int($0[7]) } }

    func testAForI2PNamesFromThePool() throws {
        let r = responder()
        let answer = try XCTUnwrap(r.answer(query(b32.uppercased()), from: container))
        XCTAssertEqual(Array(answer[0..<2]), [0x12, 0x34], "same id")
        XCTAssertEqual(answer[2] & 0x80, 0x80, "a response")
        XCTAssertEqual(answer[2] & 0x01, 0x01, "RD copied")
        XCTAssertEqual(rcode(answer), 0)
        XCTAssertEqual(answerCount(answer), 1)
        XCTAssertEqual(Array(answer.suffix(4)), [10, 192, 0, 1], "first address of the pool")
        let again = try XCTUnwrap(r.answer(query(b32), from: container))
        XCTAssertEqual(Array(again.suffix(4)), [10, 192, 0, 1], "case-insensitive, stable")
        let other = try XCTUnwrap(r.answer(query("forum.i2p"), from: container))
        XCTAssertEqual(Array(other.suffix(4)), [10, 192, 0, 2])
        XCTAssertEqual(r.pool.name(for: IPv4Address("10.192.0.1")!), b32)
    }

    func testAAAAIsEmptyNoErrorAndEverythingElseRefused() {
        let r = responder()
        let aaaa = r.answer(query(b32, type: 28), from: container)
        XCTAssertEqual(rcode(aaaa), 0)
        XCTAssertEqual(answerCount(aaaa), 0)
        XCTAssertEqual(r.pool.count, 0, "AAAA assigns nothing")
        for (name, type) in [("example.com", UInt16(1)), ("example.com", 28), (b32, 16), (b32, 255), ("i2p", 1),
                             ("aaaa.b32.i2p", 1), ("bad_name.i2p", 1), ("x.i2p.com", 1)] {
            XCTAssertEqual(rcode(r.answer(query(name, type: type), from: container)), 5, "\(name) type \(type): REFUSED")
        }
        XCTAssertEqual(r.pool.count, 0)
    }

    func testOnlyKnownEndpointsAreAnswered() {
        XCTAssertNil(responder().answer(query(b32), from: IPv4Address("10.231.8.3")!))
    }

    func testMalformedOversizedAndCompressionLoops() {
        let r = responder()
        XCTAssertNil(r.answer([], from: container))
        XCTAssertNil(r.answer(Array(query(b32).prefix(11)), from: container), "shorter than a header")
        XCTAssertNil(r.answer(query(b32) + [UInt8](repeating: 0, count: 600), from: container), "over 512 bytes")
        XCTAssertNil(r.answer(query(b32, flags: 0x8100), from: container), "a response is never answered")
        XCTAssertEqual(rcode(r.answer(query(b32, flags: 0x2800), from: container)), 4, "opcode UPDATE: NOTIMP")
        XCTAssertEqual(rcode(r.answer(query(b32, counts: [2, 0, 0, 0]), from: container)), 1)
        XCTAssertEqual(rcode(r.answer(query(b32, counts: [1, 1, 0, 0]), from: container)), 1)
        XCTAssertEqual(rcode(r.answer(query(b32, counts: [1, 0, 0, 1]), from: container)), 0, "an OPT record is ignored")
        // A pointer to itself, a pointer forward, and a pointer loop between two labels.
        let header: [UInt8] = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        for name: [UInt8] in [[0xC0, 0x0C], [0xC0, 0x10, 0, 0, 1, 0, 1], [3, 0x61, 0x62, 0x63, 0xC0, 0x0C, 0, 1, 0, 1], [0x40, 0x01]] {
            XCTAssertEqual(rcode(r.answer(header + name + [0, 1, 0, 1], from: container)), 1, "\(name): FORMERR")
        }
        XCTAssertEqual(rcode(r.answer(header + [5, 0x61], from: container)), 1, "a label past the end")
        XCTAssertEqual(rcode(r.answer(header + [1, 0x61, 0], from: container)), 1, "no type and class")
        let long = (0..<5).map { _ in String(repeating: "a", count: 60) }.joined(separator: ".") + ".i2p"
        XCTAssertEqual(rcode(r.answer(query(long), from: container)), 1, "a name over 255 bytes")
        // Random bytes never crash it.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = r.answer(header + bytes, from: container)
            _ = r.answer(bytes, from: container)
        }
    }

    func testExhaustedPoolIsServFail() {
        let pool = FakePool(pool: IPv4Subnet("10.192.0.0/24"), path: nil, limit: 1)
        let r = responder(pool)
        XCTAssertEqual(rcode(r.answer(query("a.i2p"), from: container)), 0)
        XCTAssertEqual(rcode(r.answer(query("b.i2p"), from: container)), 2)
    }
}
