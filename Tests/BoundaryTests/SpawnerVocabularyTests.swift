@testable import Helper
import IPC
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The spawner's vocabulary (`SpawnerRequest`): both requests round-trip, and each
/// is refused when its type is unknown, its record is cut short, carries trailing
/// bytes or is over the size bound, or its fd is missing, extra or unexpected.
final class SpawnerVocabularyTests: XCTestCase {
    func testEveryRequestRoundTrips() throws {
        XCTAssertEqual(Set([SpawnerRequest.launch(ipc: 9), .reload].map(\.tag)), Set(SpawnerRequest.Tag.allCases))
        for request: SpawnerRequest in [.launch(ipc: 9), .launch(ipc: 0), .reload] {
            XCTAssertEqual(try SpawnerRequest.decode(request.frame.encoded()[...], fd: request.fd), request)
        }
        XCTAssertEqual(SpawnerRequest.reload.fd, -1)
        XCTAssertEqual(SpawnerRequest.launch(ipc: 9).frame, Frame(kind: .request, type: 0, id: 0, payload: []))
        XCTAssertEqual(SpawnerRequest.reload.frame, Frame(kind: .request, type: 1, id: 0, payload: []))
    }

    /// Over a real SOCK_SEQPACKET pair, the fd travelling alongside as it will.
    func testLaunchCarriesItsFDOverTheChannel() throws {
        let (helper, spawner) = try PacketChannel.pair()
        defer { helper.close(); spawner.close() }
        let (agentSide, keep) = try PacketChannel.pair()
        defer { agentSide.close(); keep.close() }
        try helper.send(SpawnerRequest.launch(ipc: agentSide.fd).frame, fd: agentSide.fd)
        let received = try spawner.receive(limit: SpawnerRequest.maxRecordSize)
        guard case .launch(let ipc) = try SpawnerRequest.decode(received) else { return XCTFail("not a launch") }
        XCTAssertGreaterThanOrEqual(ipc, 0)
        XCTAssertNotEqual(ipc, agentSide.fd, "a new fd in the receiver")
        close(ipc)
        try helper.send(SpawnerRequest.reload.frame)
        XCTAssertEqual(try SpawnerRequest.decode(try spawner.receive(limit: SpawnerRequest.maxRecordSize)), .reload)
    }

    func testUnknownTypesAreRefused() {
        for type: UInt16 in [2, 0x0001 << 8, 0xffff] {
            let record = Frame(kind: .request, type: type, id: 0, payload: []).encoded()
            assertRefused(record, fd: -1, .unknownType(type))
            assertRefused(record, fd: 5, .unknownType(type))
        }
    }

    func testTruncatedRecordsAreRefused() {
        for request: SpawnerRequest in [.launch(ipc: 5), .reload] {
            let record = request.frame.encoded()
            for length in 0..<record.count { assertRefused(Array(record[0..<length]), fd: request.fd, nil) }
        }
    }

    func testTrailingBytesAreRefused() {
        for request: SpawnerRequest in [.launch(ipc: 5), .reload] {
            let withPayload = Frame(kind: .request, type: request.tag.rawValue, id: 0, payload: [0]).encoded()
            assertRefused(withPayload, fd: request.fd, nil)
            // Bytes after the frame the length field does not count.
            assertRefused(request.frame.encoded() + [0], fd: request.fd, nil)
        }
    }

    func testOversizeRecordsAreRefused() {
        for request: SpawnerRequest in [.launch(ipc: 5), .reload] {
            let payload = [UInt8](repeating: 0, count: SpawnerRequest.maxRecordSize - Frame.headerSize + 1)
            let record = Frame(kind: .request, type: request.tag.rawValue, id: 0, payload: payload).encoded()
            assertRefused(record, fd: request.fd, .oversized(record.count))
        }
    }

    /// Over the channel: a record over the bound arrives cut and is refused (its fd already closed).
    func testOversizeRecordOverTheChannelIsRefused() throws {
        let (helper, spawner) = try PacketChannel.pair()
        defer { helper.close(); spawner.close() }
        let payload = [UInt8](repeating: 0, count: SpawnerRequest.maxRecordSize)
        try helper.send(Frame(kind: .request, type: SpawnerRequest.Tag.launch.rawValue, id: 0, payload: payload), fd: 0)
        let received = try spawner.receive(limit: SpawnerRequest.maxRecordSize)
        XCTAssertEqual(received.fd, -1)
        XCTAssertThrowsError(try SpawnerRequest.decode(received)) { XCTAssertEqual($0 as? IPCError, .oversized(SpawnerRequest.maxRecordSize + 1)) }
    }

    func testFDMustMatchTheRequest() {
        assertRefused(SpawnerRequest.launch(ipc: 5).frame.encoded(), fd: -1, nil)
        assertRefused(SpawnerRequest.reload.frame.encoded(), fd: 5, nil)
    }

    func testOtherFramesAreRefused() {
        var wrongVersion = SpawnerRequest.reload.frame.encoded()
        wrongVersion[4] = Frame.version + 1
        assertRefused(wrongVersion, fd: -1, .unsupportedVersion(Frame.version + 1))
        assertRefused(Frame(kind: .reply, type: 1, id: 0, payload: []).encoded(), fd: -1, nil)
    }

    private func assertRefused(_ record: [UInt8], fd: Int32, _ expected: IPCError?, line: UInt = #line) {
        do {
            let request = try SpawnerRequest.decode(record[...], fd: fd)
            XCTFail("decoded \(request) from \(record)", line: line)
        } catch {
            if let expected { XCTAssertEqual(error, expected, line: line) }
        }
    }
}
