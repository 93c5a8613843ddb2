import IPC
import XCTest

final class FrameCodecTests: XCTestCase {
    let everyRequest: [Request] = [
        .hello(protocolVersion: 1),
        .bindUnixListener(name: ListenerName("router")!),
        .bindTCPListener(name: ListenerName("metrics-1")!),
        .connectUserDockerSocket(uid: 1001),
        .connectUpstream(name: ListenerName("audit")!),
        .netfilterStage(sets: [
            ContainerRuleSet(key: ContainerKey("27f6bcdf0af8")!, rules: [
                .dnat(.tcp, port: 80, to: IPv4Address("172.20.0.5")!, targetPort: 8080),
                .forward(.udp, to: IPv4Address("172.20.0.5")!, port: 53),
                .mark(.tcp, from: IPv4Address("172.20.0.5")!, port: 9090, mark: 2),
            ]),
            ContainerRuleSet(key: ContainerKey("0123456789ab")!, rules: []),
        ]),
        .netfilterCommit(mode: .replaceAll),
        .policyRoutingApply,
        .i2pLinkUp(endpoint: I2PEndpoint(key: EndpointKey("0123456789ab")!, address: IPv4Address("10.231.0.2")!, prefixLength: 24, gateway: IPv4Address("10.231.0.1")!)),
        .i2pLinkDown(key: EndpointKey("0123456789ab")!),
        .i2pConverge(endpoints: [I2PEndpoint(key: EndpointKey("27f6bcdf0af8")!, address: IPv4Address("10.231.4.9")!, prefixLength: 22, gateway: IPv4Address("10.231.4.1")!)], keepBase: true),
        .helperCounters,
    ]

    /// The helper logs each request by `logDescription`, spelled out per case: it
    /// must read as Swift's own description did (log readers grep for it), except
    /// where a stage or a converge is summarized and a commit's mode is named bare.
    func testLogDescriptionReadsAsTheRequest() {
        for request in everyRequest {
            switch request {
            case .netfilterStage:
                XCTAssertEqual(request.logDescription, "netfilterStage(containers: 2, rules: 3)")
            case .i2pConverge:
                XCTAssertEqual(request.logDescription, "i2pConverge(endpoints: 1, keepBase: true)")
            case .netfilterCommit:
                XCTAssertEqual(request.logDescription, "netfilterCommit(mode: replaceAll)")
            case .helperCounters, .policyRoutingApply:
                XCTAssertEqual(request.logDescription, "\(request.type)")
            default:
                XCTAssertEqual(request.logDescription, "\(request)")
            }
        }
    }

    func testEveryRequestTypeIsCovered() {
        XCTAssertEqual(Set(everyRequest.map(\.type)), Set(RequestType.allCases), "add new intents here: round trip and fuzz seeds")
    }

    func testStagePayloadsFitOneFrameEach() throws {
        let sets = (0..<2000).map { i in
            ContainerRuleSet(key: ContainerKey(String(format: "%012x", i))!, rules: Array(repeating: .forward(.tcp, to: IPv4Address("10.0.0.1")!, port: 80), count: i % 7))
        }
        let batches = ContainerRuleSet.stagePayloads(sets)
        XCTAssertEqual(batches.flatMap { $0 }, sets, "nothing lost or reordered")
        for batch in batches {
            let bytes = Frame(kind: .request, type: RequestType.netfilterStage.rawValue, id: 1, payload: Request.netfilterStage(sets: batch).encodePayload()).encoded()
            XCTAssertLessThanOrEqual(bytes.count, Frame.maxRequestSize)
        }
    }

    func testTheLargestConvergeFitsOneFrame() {
        let endpoints = (1...I2PEndpoint.maxPerConverge).map {
            I2PEndpoint(key: EndpointKey(String(format: "%012x", $0))!, address: IPv4Address("10.231.\($0).2")!, prefixLength: 24, gateway: IPv4Address("10.231.\($0).1")!)
        }
        let payload = Request.i2pConverge(endpoints: endpoints, keepBase: true).encodePayload()
        XCTAssertLessThanOrEqual(Frame(kind: .request, type: RequestType.i2pConverge.rawValue, id: 1, payload: payload).encoded().count, Frame.maxRequestSize)
    }

    func testEveryRequestRoundTrips() throws {
        for request in everyRequest {
            let bytes = Frame(kind: .request, type: request.type.rawValue, id: 42, payload: request.encodePayload()).encoded()
            let frame = try Frame.decode(bytes[...], expected: .request)
            XCTAssertEqual(frame.id, 42)
            XCTAssertEqual(try Request.decode(frame, hasFD: request.type.carriesFD), request)
        }
    }

    func testFDPresenceMustMatchTheRequestType() throws {
        for request in everyRequest {
            let frame = Frame(kind: .request, type: request.type.rawValue, id: 1, payload: request.encodePayload())
            XCTAssertThrowsError(try Request.decode(frame, hasFD: !request.type.carriesFD)) { error in
                XCTAssertEqual((error as? IPCError)?.refusal, .malformed)
            }
        }
    }

    func testRepliesRoundTrip() throws {
        for reply in [Reply.ok(payload: [1, 2, 3]), .refused(Refusal(.proofRejected, "nope"))] {
            let frame = try Frame.decode(reply.frame(id: 7).encoded()[...], expected: .reply)
            XCTAssertEqual(try Reply.decode(frame), reply)
        }
    }

    func testLongRefusalMessageIsCutToValidUTF8() throws {
        let reply = Reply.refused(Refusal(.systemError, String(repeating: "é", count: 5000)))
        let frame = try Frame.decode(reply.frame(id: 1).encoded()[...], expected: .reply)
        guard case .refused(let refusal) = try Reply.decode(frame) else { return XCTFail("expected refusal") }
        XCTAssertLessThanOrEqual(refusal.message.utf8.count, 2048)
        XCTAssertTrue(refusal.message.hasPrefix("éé"))
    }

    /// The fuzz harness's round-trip check traps on this: a refusal of 2045...2048 bytes
    /// decoded, but re-encoding cut it to 2044.
    func testRefusalMessagesUpToTheLimitRoundTrip() throws {
        for length in 2044...2048 {
            let reply = Reply.refused(Refusal(.systemError, String(repeating: "x", count: length)))
            XCTAssertEqual(try Reply.decode(Frame.decode(reply.frame(id: 3).encoded()[...], expected: .reply)), reply, "\(length) bytes")
        }
    }

    func testRequestSizeLimitIsEnforced() {
        let big = [UInt8](repeating: 0, count: Frame.maxRequestSize + 1)
        XCTAssertThrowsError(try Frame.decode(big[...], expected: .request)) { XCTAssertEqual($0 as? IPCError, .oversized(big.count)) }
    }

    func testListenerNamesAreIdentifiersNotPaths() {
        for good in ["router", "a", "audit_2", "x-y"] { XCTAssertNotNil(ListenerName(good), good) }
        for bad in ["", "Router", "../x", "/run/a", "a b", "1abc", String(repeating: "a", count: 33), "é"] {
            XCTAssertNil(ListenerName(bad), bad)
        }
    }

    /// Bounded random mutation of valid frames through the decoders: never a crash,
    /// only a value or an IPCError. Time-boxed by BULKHEAD_FUZZ_SECONDS (default 5 s).
    func testDecoderFuzz() {
        var rng = SystemRandomNumberGenerator()
        let seeds = everyRequest.map { Frame(kind: .request, type: $0.type.rawValue, id: 1, payload: $0.encodePayload()).encoded() }
            + [Reply.refused(Refusal(.notFound, "x")).frame(id: 2).encoded()]
        let seconds = Double(ProcessInfo.processInfo.environment["BULKHEAD_FUZZ_SECONDS"] ?? "5") ?? 5
        let deadline = Date().addingTimeInterval(seconds)
        var runs = 0, accepted = 0
        while Date() < deadline, runs < 5_000_000 {
            var bytes = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let op = Int.random(in: 0..<4, using: &rng)
                if op == 0, !bytes.isEmpty { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = .random(in: 0...255, using: &rng) }
                else if op == 1 { bytes.append(.random(in: 0...255, using: &rng)) }
                else if op == 2, !bytes.isEmpty { bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng)) }
                else { bytes.insert(.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng)) }
            }
            for kind in [Frame.Kind.request, .reply] {
                guard let frame = try? Frame.decode(bytes[...], expected: kind) else { continue }
                if kind == .request {
                    if (try? Request.decode(frame, hasFD: Bool.random(using: &rng))) != nil { accepted += 1 }
                } else if (try? Reply.decode(frame)) != nil { accepted += 1 }
            }
            runs += 1
        }
        XCTAssertGreaterThan(runs, 1000)
        print("decoder fuzz: \(runs) inputs in \(seconds) s, \(accepted) decoded as valid")
    }
}
