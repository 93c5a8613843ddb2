import DockerStream
import Foundation
import XCTest

/// Prints throughput; asserts only correctness, never time. For meaningful numbers run
/// in release: `swift test -c release --filter ThroughputTests`.
///
/// Payload is passed on as slices and never read, so the cost is per frame/chunk, not
/// per byte: large frames give meaningless figures (the sink touches one byte per
/// slice), and the small-frame scenarios are the ones that matter. Each line also
/// gives the cost per frame or chunk.
/// BULKHEAD_BENCH_MIB sets the volume per scenario (default 256, 32 in debug builds).
final class ThroughputTests: XCTestCase {
    private static let readSize = 64 * 1024
    #if DEBUG
    private static let defaultMiB = 32
    #else
    private static let defaultMiB = 256
    #endif
    private static var totalBytes: Int {
        (ProcessInfo.processInfo.environment["BULKHEAD_BENCH_MIB"].flatMap(Int.init) ?? defaultMiB) << 20
    }

    func testParserThroughput() {
        for payloadSize in [16 * 1024, 128, 16] {
            let block = multiplexedBlock(payloadSize: payloadSize)
            var parser = MultiplexedStreamParser()
            var sink = Sink()
            let bytes = measure("parser, \(payloadSize)-byte frames", units: "frame", perBlock: block.count / (payloadSize + 8)) { piece in
                _ = parser.feed(piece) { kind, slice in sink.take(slice, kind) }
            } over: { block }
            XCTAssertNil(parser.finish())
            XCTAssertEqual(sink.bytes + Int(parser.counters.frames) * 8, bytes)
        }
    }

    func testDecoderThroughput() {
        for chunkSize in [16 * 1024, 128, 16] {
            let block = chunkedBlock(Array(repeating: 0x61, count: 8 << 20), chunkSize: chunkSize)
            var decoder = ChunkedDecoder()
            var sink = Sink()
            _ = measure("decoder, \(chunkSize)-byte chunks", units: "chunk", perBlock: (8 << 20) / chunkSize) { piece in
                _ = decoder.feed(piece) { slice in sink.take(slice, .stdout) }
            } over: { block }
            XCTAssertNil(decoder.error)
            XCTAssertEqual(UInt64(sink.bytes), decoder.dataBytes)
        }
    }

    func testPipelineThroughput() {
        for (payloadSize, chunkSize) in [(16 * 1024, 16 * 1024 + 8), (128, 136)] {
            // Go writes one chunk per flushed frame when following logs: chunks match frames.
            let block = chunkedBlock(multiplexedBlock(payloadSize: payloadSize), chunkSize: chunkSize)
            var decoder = ChunkedDecoder()
            var parser = MultiplexedStreamParser()
            var sink = Sink()
            let frames = (8 << 20) / (payloadSize + 8)
            _ = measure("decoder+parser, \(payloadSize)-byte frames in \(chunkSize)-byte chunks", units: "frame", perBlock: frames) { piece in
                _ = decoder.feed(piece) { data in
                    _ = parser.feed(data) { kind, slice in sink.take(slice, kind) }
                }
            } over: { block }
            XCTAssertNil(decoder.error)
            XCTAssertNil(parser.finish())
        }
    }

    /// Feeds `block` repeatedly in 64 KiB reads until `totalBytes` and prints the rate.
    private func measure(_ name: String, units: String, perBlock: Int,
                         _ feed: (UnsafeRawBufferPointer) -> Void, over makeBlock: () -> [UInt8]) -> Int {
        let block = makeBlock()
        let rounds = max(1, (Self.totalBytes + block.count - 1) / block.count)
        let start = ContinuousClock.now
        block.withUnsafeBytes { all in
            for _ in 0..<rounds {
                var i = 0
                while i < all.count {
                    let n = min(Self.readSize, all.count - i)
                    feed(UnsafeRawBufferPointer(rebasing: all[i..<(i + n)]))
                    i += n
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let bytes = rounds * block.count
        print(String(format: "throughput %@: %d MiB in %.4f s = %.0f MB/s, %.2f ns per %@",
                     name, bytes >> 20, seconds, Double(bytes) / seconds / 1e6, seconds * 1e9 / Double(rounds * perBlock), units))
        return bytes
    }

    /// About 8 MiB of whole frames, cycling through the kinds.
    private func multiplexedBlock(payloadSize: Int) -> [UInt8] {
        let count = (8 << 20) / (payloadSize + 8)
        var block: [UInt8] = []
        block.reserveCapacity(count * (payloadSize + 8))
        let payload = [UInt8](repeating: 0x62, count: payloadSize)
        for i in 0..<count {
            block += Encode.header(type: UInt8(1 + i % 2), size: UInt32(payloadSize))
            block += payload
        }
        return block
    }

    /// `data` as whole chunks of `chunkSize`, without the last chunk, so it can repeat.
    private func chunkedBlock(_ data: [UInt8], chunkSize: Int) -> [UInt8] {
        var block: [UInt8] = []
        block.reserveCapacity(data.count + data.count / chunkSize * 10 + 16)
        var i = 0
        while i < data.count {
            let n = min(chunkSize, data.count - i)
            block += Array((String(n, radix: 16) + "\r\n").utf8)
            block += data[i..<(i + n)]
            block += [0x0D, 0x0A]
            i += n
        }
        return block
    }
}

/// Touches every slice cheaply so the work cannot be optimized away.
private struct Sink {
    var bytes = 0
    var check: UInt8 = 0

    mutating func take(_ slice: UnsafeRawBufferPointer, _ kind: StreamKind) {
        bytes += slice.count
        check ^= slice[slice.count - 1] ^ kind.rawValue
    }
}
