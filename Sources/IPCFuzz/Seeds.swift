import Foundation
import IPC

/// Seed inputs: real encodings of every request type, stage payloads and replies,
/// each behind its selector byte, so the fuzzer starts from valid messages.
enum Seeds {
    static func requests(_ type: RequestType) -> [Request] {
        // Exhaustive on purpose: a new request type does not compile without seeds.
        switch type {
        case .hello: [.hello(protocolVersion: 1)]
        case .bindUnixListener: [.bindUnixListener(name: ListenerName.router)]
        case .bindTCPListener: [.bindTCPListener(name: ListenerName("metrics-1")!)]
        case .connectUserDockerSocket: [.connectUserDockerSocket(uid: 1001)]
        case .connectUpstream: [.connectUpstream(name: ListenerName.audit)]
        case .netfilterStage: stages.map { .netfilterStage(sets: $0) }
        case .netfilterCommit: [.netfilterCommit(mode: .changes), .netfilterCommit(mode: .replaceAll)]
        case .policyRoutingApply: [.policyRoutingApply]
        case .i2pLinkUp: [.i2pLinkUp(endpoint: endpoints[0])]
        case .i2pLinkDown: [.i2pLinkDown(key: EndpointKey("0123456789ab")!)]
        case .i2pConverge: [.i2pConverge(endpoints: endpoints, keepBase: true), .i2pConverge(endpoints: [], keepBase: false)]
        case .helperCounters: [.helperCounters]
        }
    }

    static let endpoints: [I2PEndpoint] = [
        I2PEndpoint(key: EndpointKey("0123456789ab")!, address: address("10.231.0.2"), prefixLength: 24, gateway: address("10.231.0.1")),
        I2PEndpoint(key: EndpointKey("fedcba987654")!, address: address("10.231.1.9"), prefixLength: 16, gateway: address("10.231.0.1")),
    ]

    static let stages: [[ContainerRuleSet]] = [
        [set("27f6bcdf0af8", [
            .dnat(.tcp, port: 80, to: address("172.20.0.5"), targetPort: 8080),
            .forward(.udp, to: address("172.20.0.5"), port: 53),
            .mark(.tcp, from: address("172.20.0.5"), port: 9090, mark: 2),
        ])],
        [set("0123456789ab", [])],
        [set("aaaaaaaaaaaa", [.forward(.tcp, to: address("10.0.0.1"), port: 443)]),
         set("bbbbbbbbbbbb", [.dnat(.udp, port: 5353, to: address("192.168.1.9"), targetPort: 53)]),
         set("cccccccccccc", [])],
        // A full batch as the agent splits a large desired state into frames.
        ContainerRuleSet.stagePayloads((0..<300).map { i in
            set(String(format: "%012x", i), Array(repeating: .forward(.tcp, to: address("10.0.\(i / 200).\(i % 200 + 1)"), port: 80), count: i % 4))
        })[0],
    ]

    static let replies: [Reply] = [.ok(payload: []), .ok(payload: Array("router:\n  listen: /run/x\n".utf8))]
        + RefusalCode.allCases.map { .refused(Refusal($0, "refused: \($0)")) }
        // One cut from an over-long message, one exactly at the decoder's 2048-byte limit.
        + [.refused(Refusal(.systemError, String(repeating: "é", count: 5000))), .refused(Refusal(.malformed, String(repeating: "m", count: 2048)))]

    static func all() -> [(name: String, input: [UInt8])] {
        let requestSeeds = RequestType.allCases.flatMap(requests).enumerated().map { i, request in
            ("request-\(i)-\(request.type)", [FuzzTarget.request.rawValue]
                + Frame(kind: .request, type: request.type.rawValue, id: UInt32(i), payload: request.encodePayload()).encoded())
        }
        let stageSeeds = stages.enumerated().map { i, sets in
            var w = WireWriter()
            ContainerRuleSet.encode(sets, &w)
            return ("stage-\(i)", [FuzzTarget.stage.rawValue] + w.bytes)
        }
        let replySeeds = replies.enumerated().map { i, reply in
            ("reply-\(i)", [FuzzTarget.reply.rawValue] + reply.frame(id: UInt32(i)).encoded())
        }
        return requestSeeds + stageSeeds + replySeeds
    }

    /// Writes every seed to `dir`; each must decode, or the seeds are stale.
    static func write(to dir: String) {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (name, input) in all() {
                require(FuzzTarget(selector: input[0]).check(input.dropFirst()), "seed \(name) does not decode")
                try Data(input).write(to: URL(fileURLWithPath: dir).appendingPathComponent(name))
            }
        } catch {
            fatalError("cannot write seeds to \(dir): \(error)")
        }
    }

    private static func set(_ key: String, _ rules: [ContainerRule]) -> ContainerRuleSet {
        ContainerRuleSet(key: ContainerKey(key)!, rules: rules)
    }

    private static func address(_ text: String) -> IPv4Address { IPv4Address(text)! }
}
