import DockerStream
import Foundation
import XCTest

/// Small deterministic generator, so a failing random case can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Settings shared by the randomized tests, from the environment.
enum RandomTesting {
    /// Wall-clock budget of each property/fuzz test: BULKHEAD_FUZZ_SECONDS, default 3.
    static var seconds: Double {
        ProcessInfo.processInfo.environment["BULKHEAD_FUZZ_SECONDS"].flatMap(Double.init) ?? 3
    }

    /// BULKHEAD_FUZZ_SEED replays a run; otherwise a fresh seed each run.
    static func seed() -> UInt64 {
        ProcessInfo.processInfo.environment["BULKHEAD_FUZZ_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
    }

    /// Runs `body` with a fresh case generator until `maxIterations` or the time budget
    /// is used up; returns the number of iterations run.
    @discardableResult
    static func run(_ name: String, maxIterations: Int, _ body: (inout SplitMix64, _ iteration: Int) throws -> Void) rethrows -> Int {
        let seed = seed()
        var rng = SplitMix64(seed: seed)
        let deadline = Date().addingTimeInterval(seconds)
        var iterations = 0
        while iterations < maxIterations && Date() < deadline {
            var caseRNG = SplitMix64(seed: rng.next())
            try body(&caseRNG, iterations)
            iterations += 1
        }
        print("\(name): \(iterations) iterations in <= \(seconds) s (BULKHEAD_FUZZ_SEED=\(seed))")
        return iterations
    }
}

/// Encoders for test inputs.
enum Encode {
    static func header(type: UInt8, size: UInt32, padding: (UInt8, UInt8, UInt8) = (0, 0, 0)) -> [UInt8] {
        [type, padding.0, padding.1, padding.2, UInt8(size >> 24), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF)]
    }

    static func frame(_ kind: StreamKind, _ payload: [UInt8]) -> [UInt8] {
        header(type: kind.rawValue, size: UInt32(payload.count)) + payload
    }

    static func frame(_ kind: StreamKind, _ text: String) -> [UInt8] { frame(kind, Array(text.utf8)) }

    /// Chunk-encodes `body` with chunk sizes from `nextSize`, optionally with
    /// extensions and trailers, ending with the last chunk.
    static func chunked(_ body: [UInt8], rng: inout SplitMix64, maxChunk: Int, decorate: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + body.count / max(1, maxChunk / 2) * 12 + 64)
        var i = 0
        while i < body.count {
            let n = min(body.count - i, Int.random(in: 1...maxChunk, using: &rng))
            var line = String(n, radix: 16, uppercase: Bool.random(using: &rng))
            if decorate && Int.random(in: 0..<4, using: &rng) == 0 { line = "00" + line }
            if decorate && Int.random(in: 0..<4, using: &rng) == 0 { line += extensions.randomElement(using: &rng)! }
            out += Array((line + "\r\n").utf8)
            out += body[i..<(i + n)]
            out += [0x0D, 0x0A]
            i += n
        }
        var last = "0"
        if decorate && Bool.random(using: &rng) { last += extensions.randomElement(using: &rng)! }
        last += "\r\n"
        if decorate && Bool.random(using: &rng) { last += "X-Docker-Trailer: done\r\nOther:\tx\r\n" }
        last += "\r\n"
        return out + Array(last.utf8)
    }

    static let extensions = [";a", ";name=value", " ;x=\"quoted; string\"", "\t; q = 1 ;r", ";\u{80}"]
}

extension RandomNumberGenerator {
    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { buf in
            var i = 0
            while i < buf.count {
                var word = next()
                let n = Swift.min(8, buf.count - i)
                withUnsafeBytes(of: &word) { w in
                    for j in 0..<n { buf[i + j] = w[j] }
                }
                i += n
            }
        }
        return out
    }

    /// Read sizes that favour the awkward cases: single bytes, header-sized pieces, large reads.
    mutating func readSize() -> Int {
        switch Int.random(in: 0..<4, using: &self) {
        case 0: 1
        case 1: Int.random(in: 1...16, using: &self)
        case 2: Int.random(in: 1...4096, using: &self)
        default: Int.random(in: 1...(128 * 1024), using: &self)
        }
    }
}

/// Everything a parser run produced.
struct MuxOutput: Equatable {
    var perKind: [StreamKind: [UInt8]] = [:]
    var status: ParseStatus = .ok
    var emittedAfterFailure = false

    mutating func append(_ kind: StreamKind, _ slice: UnsafeRawBufferPointer) {
        perKind[kind, default: []].append(contentsOf: slice)
    }

    /// Only the kinds that received bytes, for comparisons.
    var nonEmpty: [StreamKind: [UInt8]] { perKind.filter { !$0.value.isEmpty } }
}

/// Feeds `bytes` in pieces whose sizes come from `nextSize`.
func forEachPiece(of bytes: [UInt8], sizes nextSize: () -> Int, _ body: (UnsafeRawBufferPointer) -> Void) {
    bytes.withUnsafeBytes { all in
        var i = 0
        while i < all.count {
            let n = min(all.count - i, max(1, nextSize()))
            body(UnsafeRawBufferPointer(rebasing: all[i..<(i + n)]))
            i += n
        }
    }
}

/// Runs the multiplexed parser over `bytes` cut into pieces, checking the invariants
/// that must hold after every call.
func parseMultiplexed(_ bytes: [UInt8], sizes nextSize: () -> Int, file: StaticString = #filePath, line: UInt = #line) -> (MuxOutput, MultiplexedStreamParser) {
    var parser = MultiplexedStreamParser()
    var out = MuxOutput()
    forEachPiece(of: bytes, sizes: nextSize) { piece in
        let failedBefore = parser.error != nil
        let status = parser.feed(piece) { kind, slice in
            XCTAssertFalse(slice.isEmpty, "empty slice emitted", file: file, line: line)
            if failedBefore { out.emittedAfterFailure = true }
            out.append(kind, slice)
        }
        XCTAssertLessThanOrEqual(parser.bufferedByteCount, 8, file: file, line: line)
        if case .failed = out.status { XCTAssertEqual(status, out.status, "error not sticky", file: file, line: line) }
        out.status = status
    }
    return (out, parser)
}
