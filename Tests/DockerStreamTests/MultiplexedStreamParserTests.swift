import DockerStream
import XCTest

final class MultiplexedStreamParserTests: XCTestCase {
    private func parseWhole(_ bytes: [UInt8]) -> (MuxOutput, MultiplexedStreamParser) {
        parseMultiplexed(bytes, sizes: { Int.max })
    }

    func testNormalFramesAreEmittedPerKind() {
        let stream = Encode.frame(.stdout, "hello\n") + Encode.frame(.stderr, "oops\n") + Encode.frame(.stdout, "world\n")
        var (out, parser) = parseWhole(stream)
        XCTAssertEqual(out.status, .ok)
        XCTAssertEqual(out.perKind[.stdout], Array("hello\nworld\n".utf8))
        XCTAssertEqual(out.perKind[.stderr], Array("oops\n".utf8))
        XCTAssertEqual(parser.counters.frames, 3)
        XCTAssertEqual(parser.counters[.stdout], 12)
        XCTAssertEqual(parser.counters[.stderr], 5)
        XCTAssertEqual(parser.counters[.stdin], 0)
        XCTAssertEqual(parser.bytesConsumed, UInt64(stream.count))
        XCTAssertTrue(parser.isAtFrameBoundary)
        XCTAssertNil(parser.finish())
        XCTAssertNil(parser.finish(), "finish is idempotent")
    }

    func testEveryReadSplitGivesTheSameResult() {
        let stream = Encode.frame(.stdout, "abc") + Encode.frame(.stderr, "") + Encode.frame(.stdin, "d") + Encode.frame(.systemError, "ef")
        let (whole, _) = parseWhole(stream)
        for cut in 0...stream.count {
            var parser = MultiplexedStreamParser()
            var out = MuxOutput()
            XCTAssertEqual(parser.feed(stream[..<cut]) { out.append($0, $1) }, .ok)
            XCTAssertLessThanOrEqual(parser.bufferedByteCount, 8)
            XCTAssertEqual(parser.feed(stream[cut...]) { out.append($0, $1) }, .ok)
            XCTAssertEqual(out.nonEmpty, whole.nonEmpty, "cut at \(cut)")
            XCTAssertNil(parser.finish())
        }
    }

    func testZeroSizeFramesAreCountedButEmitNothing() {
        var emits = 0
        var parser = MultiplexedStreamParser()
        let stream = Encode.frame(.stdout, "") + Encode.frame(.stderr, "") + Encode.frame(.stdout, "")
        XCTAssertEqual(parser.feed(stream) { _, _ in emits += 1 }, .ok)
        XCTAssertEqual(emits, 0)
        XCTAssertEqual(parser.counters.frames, 3)
        XCTAssertNil(parser.finish())
    }

    func testStdinAndSystemErrorFrames() {
        let (out, parser) = parseWhole(Encode.frame(.systemError, "exec failed") + Encode.frame(.stdin, "in"))
        XCTAssertEqual(out.status, .ok)
        XCTAssertEqual(out.perKind[.systemError], Array("exec failed".utf8))
        XCTAssertEqual(out.perKind[.stdin], Array("in".utf8))
        XCTAssertEqual(parser.counters[.systemError], 11)
        XCTAssertEqual(StreamKind.systemError.description, "system-error")
    }

    func testGarbageFirstByteIsAnUnknownStreamType() {
        // A Tty=true (raw) stream fed to this parser looks exactly like this.
        var (out, parser) = parseWhole(Array("hello world, this is raw text".utf8))
        let expected = ProtocolError(.unknownStreamType(0x68), at: 0)
        XCTAssertEqual(out.status, .failed(expected))
        XCTAssertEqual(expected.description, "frame header has unknown stream type 104 at offset 0")
        XCTAssertEqual(expected.layer, .multiplexed)
        XCTAssertTrue(out.nonEmpty.isEmpty)
        XCTAssertEqual(parser.finish(), expected)
    }

    func testUnknownTypeOffsetIsTheOffendingFrame() {
        let stream = Encode.frame(.stdout, "0123456789") + Encode.header(type: 7, size: 3) + Array("abc".utf8)
        let (out, parser) = parseWhole(stream)
        XCTAssertEqual(out.status, .failed(ProtocolError(.unknownStreamType(7), at: 18)))
        XCTAssertEqual(out.status.error?.description, "frame header has unknown stream type 7 at offset 18")
        XCTAssertEqual(out.perKind[.stdout], Array("0123456789".utf8), "payload before the error was delivered")
        XCTAssertEqual(parser.bytesConsumed, 18)
    }

    func testUnknownTypeIsFoundOnTheFirstByteOfASplitHeader() {
        var parser = MultiplexedStreamParser()
        XCTAssertEqual(parser.feed([UInt8(4)]) { _, _ in XCTFail("no output") }, .failed(ProtocolError(.unknownStreamType(4), at: 0)))
    }

    func testNonZeroPaddingIsAnError() {
        for position in 1...3 {
            var padding: (UInt8, UInt8, UInt8) = (0, 0, 0)
            switch position {
            case 1: padding.0 = 0x41
            case 2: padding.1 = 0x41
            default: padding.2 = 0x41
            }
            let stream = Encode.frame(.stderr, "x") + Encode.header(type: 1, size: 1, padding: padding) + [0x78]
            let expected = ProtocolError(.nonZeroHeaderPadding(position: position, value: 0x41), at: 9)
            XCTAssertEqual(parseWhole(stream).0.status, .failed(expected))
            XCTAssertEqual(parseMultiplexed(stream, sizes: { 1 }).0.status, .failed(expected), "split header")
        }
        XCTAssertEqual(ProtocolError(.nonZeroHeaderPadding(position: 2, value: 0x41), at: 9).description,
                       "frame header has non-zero padding byte 0x41 in position 2 at offset 9")
    }

    func testErrorIsStickyAndSilent() {
        var parser = MultiplexedStreamParser()
        let failure = parser.feed(Encode.header(type: 9, size: 1)) { _, _ in }
        guard case .failed(let error) = failure else { return XCTFail("expected failure") }
        XCTAssertEqual(parser.feed(Encode.frame(.stdout, "later")) { _, _ in XCTFail("emitted after error") }, .failed(error))
        XCTAssertEqual(parser.error, error)
        XCTAssertEqual(parser.finish(), error)
        XCTAssertEqual(parser.counters.frames, 0)
    }

    func testFourGiBClaimWithFewBytesAllocatesNothing() {
        // The state is plain data: no reference can hold a buffer, whatever the input.
        XCTAssertTrue(_isPOD(MultiplexedStreamParser.self))
        XCTAssertLessThanOrEqual(MemoryLayout<MultiplexedStreamParser>.size, 128)

        var parser = MultiplexedStreamParser()
        var emitted: [UInt8] = []
        XCTAssertEqual(parser.feed(Encode.header(type: 1, size: .max) + Array("abcde".utf8)) { kind, slice in
            XCTAssertEqual(kind, .stdout)
            emitted += slice
        }, .ok)
        XCTAssertEqual(emitted, Array("abcde".utf8), "payload is yielded at once, not held until the frame is complete")
        XCTAssertEqual(parser.bufferedByteCount, 0)
        XCTAssertFalse(parser.isAtFrameBoundary)
        let expected = ProtocolError(.truncatedFramePayload(kind: .stdout, size: .max, received: 5), at: 0)
        XCTAssertEqual(parser.finish(), expected)
        XCTAssertEqual(expected.description, "stream ended inside a stdout frame payload (5 of 4294967295 bytes) at offset 0")
    }

    func testLargeFrameIsYieldedAsItArrives() {
        let payload = [UInt8](repeating: 0x61, count: 1 << 20)
        let stream = Encode.frame(.stderr, payload)
        var parser = MultiplexedStreamParser()
        _ = parser.feed(stream[..<8]) { _, _ in XCTFail("header alone emits nothing") }
        var offset = 8
        while offset < stream.count {
            var got = 0
            _ = parser.feed(stream[offset..<(offset + 4096)]) { _, slice in got += slice.count }
            XCTAssertEqual(got, 4096, "each read is passed on in full")
            offset += 4096
        }
        XCTAssertEqual(parser.counters[.stderr], 1 << 20)
        XCTAssertNil(parser.finish())
    }

    func testOneByteFeeds() {
        let stream = Encode.frame(.stdout, "ab") + Encode.frame(.stderr, "c")
        var parser = MultiplexedStreamParser()
        var slices: [[UInt8]] = []
        for byte in stream {
            XCTAssertEqual(parser.feed([byte]) { _, s in slices.append(Array(s)) }, .ok)
            XCTAssertLessThanOrEqual(parser.bufferedByteCount, 8)
        }
        XCTAssertEqual(slices, [[0x61], [0x62], [0x63]])
    }

    func testTruncatedHeaderAtFinish() {
        var parser = MultiplexedStreamParser()
        _ = parser.feed(Encode.frame(.stdout, "ok") + [1, 0, 0]) { _, _ in }
        XCTAssertEqual(parser.bufferedByteCount, 3)
        let expected = ProtocolError(.truncatedFrameHeader(received: 3), at: 10)
        XCTAssertEqual(parser.finish(), expected)
        XCTAssertEqual(expected.description, "stream ended inside a frame header (3 of 8 bytes) at offset 10")
        XCTAssertEqual(parser.feed([0]) { _, _ in XCTFail("emitted after finish error") }, .failed(expected))
    }

    func testTruncatedPayloadAtFinish() {
        var parser = MultiplexedStreamParser()
        _ = parser.feed(Encode.frame(.stdout, "ok") + Encode.header(type: 2, size: 10) + Array("abc".utf8)) { _, _ in }
        XCTAssertEqual(parser.finish(), ProtocolError(.truncatedFramePayload(kind: .stderr, size: 10, received: 3), at: 10))
    }

    func testEmptyStreamFinishesCleanly() {
        var parser = MultiplexedStreamParser()
        XCTAssertEqual(parser.feed([UInt8]()) { _, _ in }, .ok)
        XCTAssertNil(parser.finish())
    }

    func testNonContiguousCollectionsAreAccepted() {
        let stream = Encode.frame(.stdout, "olleh")
        var parser = MultiplexedStreamParser()
        var out: [UInt8] = []
        // A lazy map has no contiguous storage; it takes the copying path.
        XCTAssertEqual(parser.feed(stream.lazy.map { $0 }) { _, s in out += s }, .ok)
        XCTAssertEqual(out, Array("olleh".utf8))
    }
}

extension ParseStatus {
    var error: ProtocolError? {
        if case .failed(let e) = self { return e }
        return nil
    }
}
