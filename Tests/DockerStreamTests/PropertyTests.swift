import DockerStream
import XCTest

/// Random valid streams, cut at random read boundaries: what comes out per kind must
/// be exactly what went in. Bounded by iterations and BULKHEAD_FUZZ_SECONDS.
final class PropertyTests: XCTestCase {
    func testMultiplexedStreamsSurviveAnyReadBoundaries() {
        RandomTesting.run("multiplexed round trip", maxIterations: 2000) { rng, iteration in
            let stream = RandomStream(rng: &rng, maxFrames: 24, sizes: RandomStream.propertySize)
            let result = runPipeline(stream.encoded, chunked: false, sizes: { rng.readSize() })
            XCTAssertEqual(result.perKind.filter { !$0.value.isEmpty }, stream.expected, "iteration \(iteration)")
            XCTAssertNil(result.parserError, "iteration \(iteration)")
        }
    }

    func testChunkedMultiplexedStreamsSurviveAnyReadBoundaries() {
        RandomTesting.run("chunked multiplexed round trip", maxIterations: 2000) { rng, iteration in
            let stream = RandomStream(rng: &rng, maxFrames: 24, sizes: RandomStream.propertySize)
            // Tiny chunks only for small streams: 1-byte chunks of 1 MiB are slow to build in debug.
            let maxChunk = (stream.encoded.count < 64 * 1024 ? [1, 7, 512, 16 * 1024] : [512, 16 * 1024, 100_000]).randomElement(using: &rng)!
            var body = Encode.chunked(stream.encoded, rng: &rng, maxChunk: maxChunk, decorate: Bool.random(using: &rng))
            let after = Bool.random(using: &rng) ? rng.bytes(Int.random(in: 1...64, using: &rng)) : []
            body += after
            let result = runPipeline(body, chunked: true, sizes: { rng.readSize() })
            XCTAssertEqual(result.perKind.filter { !$0.value.isEmpty }, stream.expected, "iteration \(iteration)")
            XCTAssertEqual(result.decodedData, stream.encoded, "iteration \(iteration)")
            XCTAssertNil(result.decoderError, "iteration \(iteration)")
            XCTAssertNil(result.parserError, "iteration \(iteration)")
            XCTAssertTrue(result.decoderEnded)
            XCTAssertEqual(result.unconsumed, after.count, "bytes after the body are left alone")
        }
    }

    func testChunkedDecoderAloneRoundTripsArbitraryBytes() {
        RandomTesting.run("chunked round trip", maxIterations: 3000) { rng, iteration in
            let data = rng.bytes(Int.random(in: 0...(Bool.random(using: &rng) ? 300 : 200_000), using: &rng))
            let body = Encode.chunked(data, rng: &rng, maxChunk: Int.random(in: 1...70_000, using: &rng), decorate: true)
            var decoder = ChunkedDecoder()
            var out: [UInt8] = []
            var last = ParseStatus.ok
            forEachPiece(of: body, sizes: { rng.readSize() }) { piece in last = decoder.feed(piece) { out += $0 } }
            XCTAssertEqual(out, data, "iteration \(iteration)")
            XCTAssertEqual(last, .ended(unconsumed: 0), "iteration \(iteration)")
            XCTAssertNil(decoder.finish())
        }
    }
}
