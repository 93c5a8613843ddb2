import DockerStream
import SecretScan
import XCTest

/// The audit proxy's decoding path, composed as the proxy composes it: chunked
/// decoding → Docker frame parsing → one SecretStream per stream kind. Random
/// multiplexed streams (with secrets) are chunk-encoded and fed in random pieces;
/// the decoded bytes must equal the originals and the findings must equal an
/// unsplit scan of each stream. Bounded by BULKHEAD_FUZZ_SECONDS.
final class MultiplexedAuditPropertyTests: XCTestCase {
    lazy var rules = RuleSet.builtIn()

    func testRandomMultiplexedStreamsCutAnywhere() {
        var rng = SystemRandomNumberGenerator()
        var secrets = SyntheticSecrets(rng: SystemRandomNumberGenerator())
        let seconds = Double(ProcessInfo.processInfo.environment["BULKHEAD_FUZZ_SECONDS"] ?? "3") ?? 3
        let deadline = Date().addingTimeInterval(seconds)
        var rounds = 0
        while Date() < deadline, rounds < 500 {
            // Per-kind text, with secrets, cut into frames of random sizes (not line-aligned).
            var original: [StreamKind: [UInt8]] = [.stdout: [], .stderr: []]
            var framed: [UInt8] = []
            for _ in 0..<Int.random(in: 1...30, using: &rng) {
                let kind: StreamKind = Bool.random(using: &rng) ? .stdout : .stderr
                let text = Bool.random(using: &rng) ? secrets.samples().randomElement(using: &rng)!.line + "\n" : "ordinary log line \(rounds)\n"
                var bytes = Array(text.utf8)
                while !bytes.isEmpty {
                    let n = min(bytes.count, Int.random(in: 1...24, using: &rng))
                    let size = UInt32(n)
                    framed += [kind.rawValue, 0, 0, 0, UInt8(size >> 24), UInt8((size >> 16) & 0xff), UInt8((size >> 8) & 0xff), UInt8(size & 0xff)]
                    framed += bytes[0..<n]
                    original[kind]! += bytes[0..<n]
                    bytes.removeFirst(n)
                }
            }
            // Chunk-encode with random chunk sizes, as dockerd does for logs.
            var body: [UInt8] = []
            var rest = framed[...]
            while !rest.isEmpty {
                let n = min(rest.count, Int.random(in: 1...100, using: &rng))
                body += Array(String(n, radix: 16).utf8) + [13, 10] + rest.prefix(n) + [13, 10]
                rest = rest.dropFirst(n)
            }
            body += Array("0\r\n\r\n".utf8)

            let cuts = (0..<Int.random(in: 0...20, using: &rng)).map { _ in Int.random(in: 0...body.count, using: &rng) }.sorted()
            var decoder = ChunkedDecoder()
            var parser = MultiplexedStreamParser()
            var decoded: [StreamKind: [UInt8]] = [.stdout: [], .stderr: []]
            let scanners: [StreamKind: SecretStream] = [.stdout: SecretStream(ruleSet: rules), .stderr: SecretStream(ruleSet: rules)]
            var findings: [StreamKind: [Finding]] = [.stdout: [], .stderr: []]
            var start = 0
            for cut in cuts + [body.count] where cut >= start {
                body[start..<cut].withUnsafeBytes { piece in
                    _ = decoder.feed(piece) { dechunked in
                        _ = parser.feed(dechunked) { kind, payload in
                            decoded[kind, default: []] += payload
                            findings[kind, default: []] += scanners[kind]!.scan(payload)
                        }
                    }
                }
                start = cut
            }
            XCTAssertTrue(decoder.isComplete, "round \(rounds)")
            XCTAssertNil(parser.finish(), "round \(rounds)")
            for kind in [StreamKind.stdout, .stderr] {
                findings[kind]! += scanners[kind]!.finish()
                XCTAssertEqual(decoded[kind]!, original[kind]!, "round \(rounds): \(kind) bytes")
                let whole = SecretStream(ruleSet: rules)
                let expected = original[kind]!.withUnsafeBytes { whole.scan($0) } + whole.finish()
                XCTAssertEqual(findings[kind]!.sorted { $0.offset < $1.offset }, expected.sorted { $0.offset < $1.offset }, "round \(rounds): \(kind) findings")
            }
            rounds += 1
        }
        XCTAssertGreaterThan(rounds, 10)
        print("multiplexed audit property: \(rounds) random streams")
    }
}
