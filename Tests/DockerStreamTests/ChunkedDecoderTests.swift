import DockerStream
import XCTest

final class ChunkedDecoderTests: XCTestCase {
    /// Decodes `body` in one call, then again one byte at a time; both must agree.
    private func decode(_ body: String, maxLineLength: Int = ChunkedDecoder.defaultMaxLineLength,
                        file: StaticString = #filePath, line: UInt = #line) -> (data: String, status: ParseStatus, decoder: ChunkedDecoder) {
        let bytes = Array(body.utf8)
        var whole = ChunkedDecoder(maxLineLength: maxLineLength)
        var data: [UInt8] = []
        let status = whole.feed(bytes) { data += $0 }

        var split = ChunkedDecoder(maxLineLength: maxLineLength)
        var splitData: [UInt8] = []
        var splitStatus = ParseStatus.ok
        var unconsumed = 0
        for byte in bytes {
            let s = split.feed([byte]) { splitData += $0 }
            if case .ended(let n) = s { unconsumed += n } else { splitStatus = s }
            if case .failed = s { break }
        }
        if case .ended = status { splitStatus = .ended(unconsumed: unconsumed) }
        XCTAssertEqual(splitData, data, "byte-by-byte output differs", file: file, line: line)
        XCTAssertEqual(splitStatus, status, "byte-by-byte status differs", file: file, line: line)
        return (String(decoding: data, as: UTF8.self), status, whole)
    }

    private func assertFails(_ body: String, _ reason: ProtocolError.Reason, at offset: UInt64,
                             maxLineLength: Int = ChunkedDecoder.defaultMaxLineLength, file: StaticString = #filePath, line: UInt = #line) {
        let result = decode(body, maxLineLength: maxLineLength, file: file, line: line)
        XCTAssertEqual(result.status, .failed(ProtocolError(reason, at: offset)), file: file, line: line)
    }

    /// A relay that moves chunk data without looking at it: skipped data counts as
    /// read, the framing around it is still checked, and the end is found.
    func testSkippedChunkDataKeepsTheFraming() {
        var decoder = ChunkedDecoder()
        var seen: [UInt8] = []
        XCTAssertEqual(decoder.feed(Array("5\r\nhe".utf8)) { seen += $0 }, .ok)
        XCTAssertEqual(decoder.dataRemaining, 3)
        decoder.skipData(3)  // "llo", moved unseen
        XCTAssertEqual(decoder.dataRemaining, 0)
        XCTAssertEqual(decoder.feed(Array("\r\n3\r\n".utf8)) { seen += $0 }, .ok)
        decoder.skipData(3)
        XCTAssertEqual(decoder.feed(Array("\r\n0\r\n\r\nNEXT".utf8)) { seen += $0 }, .ended(unconsumed: 4))
        XCTAssertEqual(String(decoding: seen, as: UTF8.self), "he")
        XCTAssertEqual(decoder.dataBytes, 8)
        XCTAssertEqual(decoder.bytesConsumed, UInt64("5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n".utf8.count))

        var strict = ChunkedDecoder()
        _ = strict.feed(Array("2\r\n".utf8)) { _ in }
        strict.skipData(2)
        guard case .failed = strict.feed(Array("XX".utf8), emit: { _ in }) else { return XCTFail("data not followed by CRLF is still an error") }
    }

    /// Framing only: it stops where data begins, and finds the end after skipped data.
    func testFeedFramingStopsAtData() {
        var decoder = ChunkedDecoder()
        let body = Array("5\r\nhello\r\n0\r\n\r\nNEXT".utf8)
        let first = body.withUnsafeBytes { decoder.feedFraming($0) }
        XCTAssertEqual(first.consumed, 3)
        XCTAssertEqual(first.status, .ok)
        XCTAssertEqual(decoder.dataRemaining, 5)
        decoder.skipData(5)
        let second = body[8...].withUnsafeBytes { decoder.feedFraming($0) }
        XCTAssertEqual(second.consumed, 7)
        XCTAssertEqual(second.status, .ended(unconsumed: 4))
        XCTAssertTrue(decoder.isComplete)

        var bad = ChunkedDecoder()
        let status = Array("zz\r\n".utf8).withUnsafeBytes { bad.feedFraming($0) }.status
        guard case .failed = status else { return XCTFail("a bad size line fails in framing mode too") }
    }

    func testSimpleChunks() {
        var (data, status, decoder) = decode("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        XCTAssertEqual(data, "hello world")
        XCTAssertEqual(status, .ended(unconsumed: 0))
        XCTAssertEqual(decoder.chunks, 2)
        XCTAssertEqual(decoder.dataBytes, 11)
        XCTAssertEqual(decoder.bytesConsumed, 26)
        XCTAssertTrue(decoder.isComplete)
        XCTAssertNil(decoder.finish())
    }

    func testLastChunkOnly() {
        var (data, status, decoder) = decode("0\r\n\r\n")
        XCTAssertEqual(data, "")
        XCTAssertEqual(status, .ended(unconsumed: 0))
        XCTAssertNil(decoder.finish())
    }

    func testUppercaseHexAndLeadingZeros() {
        XCTAssertEqual(decode("000A\r\n0123456789\r\n00b\r\nabcdefghijk\r\n000\r\n\r\n").data, "0123456789abcdefghijk")
    }

    func testChunkExtensionsAreSkipped() {
        let (data, status, _) = decode("5;name=value;q=\"x; y\"\r\nhello\r\n1 ;a\r\n!\r\n2\t\r\n??\r\n0;last=1\r\n\r\n")
        XCTAssertEqual(data, "hello!??")
        XCTAssertEqual(status, .ended(unconsumed: 0))
    }

    func testTrailersAreSkipped() {
        let (data, status, _) = decode("3\r\nabc\r\n0\r\nX-Trailer: a\r\nOther:b\t\r\n\r\n")
        XCTAssertEqual(data, "abc")
        XCTAssertEqual(status, .ended(unconsumed: 0))
    }

    func testBytesAfterTheEndAreLeftUnconsumed() {
        var decoder = ChunkedDecoder()
        let next = "HTTP/1.1 200 OK\r\n"
        XCTAssertEqual(decoder.feed(Array("1\r\nx\r\n0\r\n\r\n\(next)".utf8)) { _ in }, .ended(unconsumed: next.utf8.count))
        XCTAssertEqual(decoder.feed(Array("more".utf8)) { _ in XCTFail("emitted after end") }, .ended(unconsumed: 4))
        XCTAssertEqual(decoder.bytesConsumed, 11)
        XCTAssertNil(decoder.finish())
    }

    func testMalformedSize() {
        assertFails("xyz\r\n", .invalidChunkSizeCharacter(0x78), at: 0)
        assertFails("0x10\r\n", .invalidChunkSizeCharacter(0x78), at: 1)
        assertFails("\r\n", .missingChunkSize, at: 0)
        assertFails(";ext\r\n", .missingChunkSize, at: 0)
        assertFails(" 5\r\n", .invalidChunkSizeCharacter(0x20), at: 0)
        assertFails("5 5\r\nhello\r\n", .invalidChunkSizeCharacter(0x35), at: 2)
        assertFails("-5\r\n", .invalidChunkSizeCharacter(0x2D), at: 0)
        assertFails("5\r\nhello\r\ng\r\n", .invalidChunkSizeCharacter(0x67), at: 10)
        XCTAssertEqual(ProtocolError(.invalidChunkSizeCharacter(0x67), at: 10).description, "chunk size line has invalid byte 0x67 at offset 10")
        XCTAssertEqual(ProtocolError(.missingChunkSize, at: 0).layer, .chunked)
    }

    func testOverlongSizeLine() {
        let limit = ChunkedDecoder.defaultMaxLineLength
        // Exactly at the limit is fine.
        XCTAssertEqual(decode(String(repeating: "0", count: limit - 1) + "1\r\nx\r\n0\r\n\r\n").data, "x")
        assertFails(String(repeating: "0", count: limit) + "1\r\nx\r\n", .chunkSizeLineTooLong(limit: limit), at: UInt64(limit))
        assertFails("1;" + String(repeating: "e", count: limit), .chunkSizeLineTooLong(limit: limit), at: UInt64(limit))
        assertFails("1;abcdef\r\n", .chunkSizeLineTooLong(limit: 4), at: 4, maxLineLength: 4)
        XCTAssertEqual(ProtocolError(.chunkSizeLineTooLong(limit: 1024), at: 1024).description, "chunk size line exceeds 1024 bytes at offset 1024")
    }

    func testHexOverflow() {
        var decoder = ChunkedDecoder()
        XCTAssertEqual(decoder.feed(Array("7fffffffffffffff\r\n".utf8)) { _ in }, .ok, "2^63-1 is allowed")
        assertFails("8000000000000000\r\n", .chunkSizeOverflow, at: 15)
        assertFails("10000000000000000\r\n", .chunkSizeOverflow, at: 16)
        assertFails("ffffffffffffffffffff\r\n", .chunkSizeOverflow, at: 15)
        XCTAssertEqual(ProtocolError(.chunkSizeOverflow, at: 15).description, "chunk size exceeds 2^63-1 at offset 15")
    }

    func testHugeChunkIsStreamedAndAllocatesNothing() {
        XCTAssertTrue(_isPOD(ChunkedDecoder.self))
        XCTAssertLessThanOrEqual(MemoryLayout<ChunkedDecoder>.size, 128)
        var decoder = ChunkedDecoder()
        _ = decoder.feed(Array("7fffffffffffffff\r\n".utf8)) { _ in XCTFail("no data yet") }
        let piece = [UInt8](repeating: 0x61, count: 4096)
        for _ in 0..<256 {
            var got = 0
            XCTAssertEqual(decoder.feed(piece) { got += $0.count }, .ok)
            XCTAssertEqual(got, piece.count)
        }
        XCTAssertEqual(decoder.finish(), ProtocolError(.truncatedChunkedBody(in: .chunkData(missing: UInt64(Int64.max) - (1 << 20))), at: 18 + (1 << 20)))
    }

    func testMissingCRLFAfterData() {
        assertFails("5\r\nhelloX", .missingCRLFAfterChunkData(found: 0x58), at: 8)
        assertFails("5\r\nhello\rX", .missingCRLFAfterChunkData(found: 0x58), at: 9)
        assertFails("5\r\nhello\n5\r\n", .missingCRLFAfterChunkData(found: 0x0A), at: 8)
        assertFails("5\r\nhello5\r\n", .missingCRLFAfterChunkData(found: 0x35), at: 8)
        XCTAssertEqual(ProtocolError(.missingCRLFAfterChunkData(found: 0x58), at: 8).description, "chunk data not followed by CRLF (found 0x58) at offset 8")
    }

    func testBareLineFeedIsRejected() {
        assertFails("5\nhello\r\n", .bareLineFeed, at: 1)
        assertFails("5;ext\nhello\r\n", .bareLineFeed, at: 5)
        assertFails("0\r\n\n", .bareLineFeed, at: 3)
        assertFails("0\r\nA: b\n\r\n", .bareLineFeed, at: 7)
    }

    func testCarriageReturnWithoutLineFeed() {
        assertFails("5\rhello", .carriageReturnWithoutLineFeed(found: 0x68), at: 2)
        assertFails("0\r\n\rX", .carriageReturnWithoutLineFeed(found: 0x58), at: 4)
        assertFails("0\r\nA: b\rX", .carriageReturnWithoutLineFeed(found: 0x58), at: 8)
    }

    func testControlCharactersInExtensionsAndTrailers() {
        assertFails("5;a\u{0}b\r\n", .invalidChunkExtensionCharacter(0), at: 3)
        assertFails("0\r\nA: \u{1}\r\n\r\n", .invalidTrailerCharacter(1), at: 6)
        assertFails("0\r\n\u{7F}\r\n\r\n", .invalidTrailerCharacter(0x7F), at: 3)
    }

    func testMalformedTrailerLines() {
        assertFails("0\r\nnocolon\r\n\r\n", .malformedTrailerLine, at: 10)
        assertFails("0\r\n folded: x\r\n\r\n", .malformedTrailerLine, at: 3)
        assertFails("0\r\n:x\r\n\r\n", .malformedTrailerLine, at: 3)
    }

    func testTrailerSectionIsBounded() {
        let limit = ChunkedDecoder.defaultMaxTrailerLength
        let field = "X: " + String(repeating: "v", count: limit) + "\r\n"
        assertFails("0\r\n" + field + "\r\n", .trailerSectionTooLong(limit: limit), at: UInt64(3 + limit))
    }

    func testTruncationIsReportedAtFinish() {
        let cases: [(String, ProtocolError.ChunkedSection)] = [
            ("", .chunkSize),
            ("5", .chunkSize),
            ("5;x\r", .chunkSize),
            ("5\r\nhel", .chunkData(missing: 2)),
            ("5\r\nhello", .chunkDataTerminator),
            ("5\r\nhello\r", .chunkDataTerminator),
            ("5\r\nhello\r\n", .chunkSize),
            ("0\r\n", .trailers),
            ("0\r\nA: b\r\n", .trailers),
            ("0\r\n\r", .trailers),
        ]
        for (body, section) in cases {
            var decoder = ChunkedDecoder()
            XCTAssertEqual(decoder.feed(Array(body.utf8)) { _ in }, .ok, body.debugDescription)
            let expected = ProtocolError(.truncatedChunkedBody(in: section), at: UInt64(body.utf8.count))
            XCTAssertEqual(decoder.finish(), expected, body.debugDescription)
            XCTAssertEqual(decoder.finish(), expected, "idempotent")
            XCTAssertEqual(decoder.feed(Array("0\r\n\r\n".utf8)) { _ in XCTFail("emitted after error") }, .failed(expected))
        }
        XCTAssertEqual(ProtocolError(.truncatedChunkedBody(in: .chunkData(missing: 2)), at: 6).description,
                       "chunked body ended inside chunk data (2 bytes missing) at offset 6")
    }

    func testErrorIsStickyAndSilent() {
        var decoder = ChunkedDecoder()
        var data: [UInt8] = []
        let status = decoder.feed(Array("3\r\nabc\r\nzz".utf8)) { data += $0 }
        let expected = ProtocolError(.invalidChunkSizeCharacter(0x7A), at: 8)
        XCTAssertEqual(status, .failed(expected))
        XCTAssertEqual(data, Array("abc".utf8))
        XCTAssertEqual(decoder.bytesConsumed, 8)
        XCTAssertEqual(decoder.feed(Array("3\r\nabc\r\n".utf8)) { _ in XCTFail("emitted after error") }, .failed(expected))
        XCTAssertEqual(decoder.finish(), expected)
    }
}
