import DockerStream
import XCTest

/// What the proxy's scanning path sees: raw body → (ChunkedDecoder) → MultiplexedStreamParser.
struct PipelineResult: Equatable {
    var perKind: [StreamKind: [UInt8]] = [:]
    var decoderError: ProtocolError?
    var decoderEnded = false
    var unconsumed = 0
    var parserError: ProtocolError?
    var decoded = 0
    /// What the decoder handed to the parser (the input itself when not chunked).
    var decodedData: [UInt8] = []
}

/// Runs `input` through the pipeline in pieces sized by `nextSize`, asserting after
/// every call that buffers stay bounded and that nothing is emitted after an error.
func runPipeline(_ input: [UInt8], chunked: Bool, sizes nextSize: () -> Int,
                 file: StaticString = #filePath, line: UInt = #line) -> PipelineResult {
    var decoder = ChunkedDecoder()
    var parser = MultiplexedStreamParser()
    var result = PipelineResult()

    func parse(_ data: UnsafeRawBufferPointer) {
        let failedBefore = parser.error
        let status = parser.feed(data) { kind, slice in
            if failedBefore != nil { XCTFail("parser emitted after its error", file: file, line: line) }
            XCTAssertFalse(slice.isEmpty, file: file, line: line)
            result.perKind[kind, default: []] += slice
        }
        if let failedBefore { XCTAssertEqual(status, .failed(failedBefore), "parser error not sticky", file: file, line: line) }
        XCTAssertLessThanOrEqual(parser.bufferedByteCount, MultiplexedStreamParser.headerSize, file: file, line: line)
    }

    forEachPiece(of: input, sizes: nextSize) { piece in
        guard chunked else { return parse(piece) }
        let failedBefore = decoder.error
        let status = decoder.feed(piece) { data in
            if failedBefore != nil { XCTFail("decoder emitted after its error", file: file, line: line) }
            if result.decoderEnded { XCTFail("decoder emitted after the end", file: file, line: line) }
            XCTAssertFalse(data.isEmpty, file: file, line: line)
            result.decoded += data.count
            result.decodedData += data
            parse(data)
        }
        if let failedBefore { XCTAssertEqual(status, .failed(failedBefore), "decoder error not sticky", file: file, line: line) }
        if case .ended(let n) = status {
            XCTAssertLessThanOrEqual(n, piece.count, file: file, line: line)
            result.decoderEnded = true
            result.unconsumed += n
        }
    }
    if chunked { result.decoderError = decoder.finish() } else { result.decodedData = input }
    result.parserError = parser.finish()
    if chunked {
        XCTAssertLessThanOrEqual(result.decoded, input.count, file: file, line: line)
        XCTAssertEqual(UInt64(result.decoded), decoder.dataBytes, file: file, line: line)
    }
    let emitted = result.perKind.values.reduce(0) { $0 + $1.count }
    XCTAssertEqual(UInt64(emitted), StreamKind.allCases.reduce(0) { $0 + parser.counters[$1] }, file: file, line: line)
    return result
}

/// Random multiplexed streams, kept as the encoding plus the expected per-kind payload.
struct RandomStream {
    var encoded: [UInt8] = []
    var expected: [StreamKind: [UInt8]] = [:]
    var frames = 0

    init(rng: inout SplitMix64, maxFrames: Int, sizes: (inout SplitMix64) -> Int) {
        for _ in 0..<Int.random(in: 0...maxFrames, using: &rng) {
            let kind = StreamKind.allCases.randomElement(using: &rng)!
            let payload = rng.bytes(sizes(&rng))
            encoded += Encode.frame(kind, payload)
            expected[kind, default: []] += payload
            frames += 1
        }
        expected = expected.filter { !$0.value.isEmpty }
    }

    /// Frame sizes 0...64 KiB, biased to small ones and to the edges.
    static func propertySize(_ rng: inout SplitMix64) -> Int {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: 0
        case 1...3: Int.random(in: 1...16, using: &rng)
        case 4...6: Int.random(in: 17...1024, using: &rng)
        case 7, 8: Int.random(in: 1025...(16 * 1024 + 8), using: &rng)
        default: Bool.random(using: &rng) ? 64 * 1024 : Int.random(in: (16 * 1024)...(64 * 1024), using: &rng)
        }
    }
}
