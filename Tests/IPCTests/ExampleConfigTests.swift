import Config
import Foundation
import XCTest
import Yams

/// config/bulkhead.example.yaml is the reference an operator copies. It must load as
/// it is. With its commented-out keys switched on it must load too, so every key it
/// shows is known and valid. And it must show every key the config knows.
final class ExampleConfigTests: XCTestCase {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../config/bulkhead.example.yaml").standardizedFileURL.path

    func testTheExampleLoadsAsItIs() throws {
        let text = try String(contentsOfFile: Self.path, encoding: .utf8)
        XCTAssertNoThrow(try ConfigLoader.load(yaml: text))
    }

    func testEveryKeyItShowsIsKnownAndValid() throws {
        XCTAssertNoThrow(try ConfigLoader.load(yaml: try Self.uncommented()))
    }

    func testEveryKnownKeyIsShown() throws {
        let root = try XCTUnwrap(try Yams.compose(yaml: try Self.uncommented()))
        Self.expect(BulkheadConfig.keys, in: [root], at: "")
        let sections = [("helper", HelperSection.keys), ("agent", AgentSection.keys), ("router", RouterSection.keys), ("audit", AuditSection.keys),
                        ("ssh", SSHSection.keys), ("netwatch", NetwatchSection.keys), ("i2p", I2PSection.keys), ("metrics", MetricsSection.keys)]
        for (name, keys) in sections {
            Self.expect(keys, in: [root[name]].compactMap { $0 }, at: name + ".")
        }
        Self.expect(SSHRemote.keys, in: root["ssh"]?["remotes"]?.sequence.map(Array.init) ?? [], at: "ssh.remotes[].")
        let policy = root["netwatch"]?["policy_routing"]
        Self.expect(PolicyRouting.keys, in: [policy].compactMap { $0 }, at: "netwatch.policy_routing.")
        Self.expect(PolicyRouting.Rule.keys, in: policy?["rules"]?.sequence.map(Array.init) ?? [], at: "netwatch.policy_routing.rules[].")
        Self.expect(PolicyRouting.Route.keys, in: policy?["routes"]?.sequence.map(Array.init) ?? [], at: "netwatch.policy_routing.routes[].")
        Self.expect(PolicyRouting.Masquerade.keys, in: policy?["masquerade"]?.sequence.map(Array.init) ?? [],
                    at: "netwatch.policy_routing.masquerade[].")
        Self.expect(ListenerSpec.keys, in: root["listeners"]?.mapping.map { Array($0.values) } ?? [], at: "listeners.NAME.")
    }

    /// Fails for each key that none of `nodes` (mappings) shows.
    private static func expect(_ keys: [String], in nodes: [Node], at path: String) {
        let shown = Set(nodes.flatMap { $0.mapping?.keys.compactMap(\.string) ?? [] })
        for key in keys where !shown.contains(key) {
            XCTFail("\(path)\(key) is not shown in config/bulkhead.example.yaml")
        }
    }

    /// The example with its commented-out keys switched on: a line `#`, an even
    /// indentation, then `key:` (or `- key:`) is a commented-out line of YAML; prose
    /// comments start `# ` followed by text. An empty `key: {}` that commented-out
    /// entries follow opens a mapping instead.
    static func uncommented() throws -> String {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let commented = try Regex(#"^#((?:  )*)((?:- )?[a-z_][a-z0-9_-]*:(?: |$).*)$"#)
        var out = lines.map { line -> String in
            guard let match = line.wholeMatch(of: commented), let indent = match.output[1].substring, let rest = match.output[2].substring else { return line }
            return String(indent) + String(rest)
        }
        let child = try Regex(#"^\s+[a-z]"#)
        for i in out.indices.dropLast() where out[i].hasSuffix(": {}") && out[i + 1].firstMatch(of: child) != nil {
            out[i].removeLast(3)
        }
        return out.joined(separator: "\n")
    }
}
