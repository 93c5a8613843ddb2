import DockerStream
import XCTest

/// Random mutations of valid encodings, fed at random boundaries, for
/// BULKHEAD_FUZZ_SECONDS each. Beyond "never crashes", `runPipeline` checks after every
/// call that the header buffer stays <= 8 bytes and nothing is emitted after an error;
/// here the result must also not depend on where the reads were cut, and the
/// multiplexed parser must agree with a whole-buffer reference implementation.
final class FuzzTests: XCTestCase {
    func testMutatedMultiplexedStreams() {
        var outcomes = Outcomes()
        defer { outcomes.print("multiplexed fuzz") }
        RandomTesting.run("multiplexed fuzz", maxIterations: 200_000) { rng, iteration in
            let input = mutate(RandomStream(rng: &rng, maxFrames: 8, sizes: fuzzSize).encoded, rng: &rng)
            let cut = runPipeline(input, chunked: false, sizes: { rng.readSize() })
            let reference = referenceDemux(input)
            outcomes.record(cut)
            XCTAssertEqual(cut.perKind.filter { !$0.value.isEmpty }, reference.perKind, "iteration \(iteration)")
            XCTAssertEqual(cut.parserError, reference.error, "iteration \(iteration)")
        }
    }

    func testMutatedChunkedStreams() {
        var outcomes = Outcomes()
        defer { outcomes.print("chunked fuzz") }
        RandomTesting.run("chunked fuzz", maxIterations: 200_000) { rng, iteration in
            let stream = RandomStream(rng: &rng, maxFrames: 8, sizes: fuzzSize)
            let body = Encode.chunked(stream.encoded, rng: &rng, maxChunk: Int.random(in: 1...600, using: &rng), decorate: true)
            let input = mutate(body, rng: &rng)
            let whole = runPipeline(input, chunked: true, sizes: { Int.max })
            let cut = runPipeline(input, chunked: true, sizes: { rng.readSize() })
            outcomes.record(cut)
            XCTAssertEqual(cut, whole, "iteration \(iteration): result depends on read boundaries")
            let reference = referenceDemux(whole.decodedData)
            XCTAssertEqual(whole.perKind.filter { !$0.value.isEmpty }, reference.perKind, "iteration \(iteration)")
            XCTAssertEqual(whole.parserError, reference.error, "iteration \(iteration)")
        }
    }

    func testPureGarbage() {
        RandomTesting.run("garbage fuzz", maxIterations: 100_000) { rng, iteration in
            let input = rng.bytes(Int.random(in: 0...64, using: &rng))
            let chunked = Bool.random(using: &rng)
            let whole = runPipeline(input, chunked: chunked, sizes: { Int.max })
            XCTAssertEqual(runPipeline(input, chunked: chunked, sizes: { 1 }), whole, "iteration \(iteration)")
            if !chunked { XCTAssertEqual(whole.parserError, referenceDemux(input).error) }
        }
    }
}

/// How often each outcome occurred, to show the mutations reach every error path.
private struct Outcomes {
    var counts: [String: Int] = [:]

    mutating func record(_ r: PipelineResult) {
        let decoder = r.decoderError.map { "chunked." + name($0) }
        let parser = r.parserError.map { "multiplexed." + name($0) }
        counts[decoder ?? parser ?? "clean", default: 0] += 1
    }

    private func name(_ e: ProtocolError) -> String {
        String(String(describing: e.reason).prefix { $0 != "(" })
    }

    func print(_ title: String) {
        Swift.print("\(title) outcomes: " + counts.sorted { $0.value > $1.value }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }
}

private func fuzzSize(_ rng: inout SplitMix64) -> Int {
    Int.random(in: 0..<20, using: &rng) == 0 ? Int.random(in: 0...5000, using: &rng) : Int.random(in: 0...40, using: &rng)
}

/// One to four random edits, biased towards bytes that matter to the framing.
private func mutate(_ original: [UInt8], rng: inout SplitMix64) -> [UInt8] {
    var b = original
    let interesting: [UInt8] = [0, 1, 2, 3, 4, 0xFF, 0x0D, 0x0A, 0x30, 0x3B, 0x3A, 0x20, 0x61, 0x46, 0x7F]
    for _ in 0..<Int.random(in: 1...4, using: &rng) {
        let at = b.isEmpty ? 0 : Int.random(in: 0..<b.count, using: &rng)
        switch Int.random(in: 0..<8, using: &rng) {
        case 0 where !b.isEmpty: b[at] = UInt8.random(in: 0...255, using: &rng)
        case 1 where !b.isEmpty: b[at] = interesting.randomElement(using: &rng)!
        case 2: b.insert(contentsOf: rng.bytes(Int.random(in: 1...8, using: &rng)), at: at)
        case 3: b.insert(interesting.randomElement(using: &rng)!, at: at)
        case 4 where !b.isEmpty: b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...16, using: &rng)))
        case 5 where !b.isEmpty: b.insert(contentsOf: b[at..<min(b.count, at + Int.random(in: 1...32, using: &rng))], at: at)
        case 6: b.removeSubrange(at..<b.count)
        default: // a huge claimed size
            b.replaceSubrange(at..<min(b.count, at + 4), with: [0xFF, 0xFF, 0xFF, 0xFF])
        }
    }
    return b
}

/// Straightforward whole-buffer demultiplexer, written independently of the parser.
private func referenceDemux(_ b: [UInt8]) -> (perKind: [StreamKind: [UInt8]], error: ProtocolError?) {
    var out: [StreamKind: [UInt8]] = [:]
    var i = 0
    while i < b.count {
        let header = Array(b[i..<min(b.count, i + 8)])
        guard let kind = StreamKind(rawValue: header[0]) else {
            return (out, ProtocolError(.unknownStreamType(header[0]), at: UInt64(i)))
        }
        if let p = (1..<min(4, header.count)).first(where: { header[$0] != 0 }) {
            return (out, ProtocolError(.nonZeroHeaderPadding(position: p, value: header[p]), at: UInt64(i)))
        }
        guard header.count == 8 else { return (out, ProtocolError(.truncatedFrameHeader(received: header.count), at: UInt64(i))) }
        let size = header[4...].reduce(0) { $0 << 8 | Int($1) }
        let available = min(size, b.count - i - 8)
        if available > 0 { out[kind, default: []] += b[(i + 8)..<(i + 8 + available)] }
        if available < size {
            return (out, ProtocolError(.truncatedFramePayload(kind: kind, size: UInt32(size), received: UInt32(available)), at: UInt64(i)))
        }
        i += 8 + size
    }
    return (out, nil)
}
