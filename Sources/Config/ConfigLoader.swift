import Foundation
import Yams

/// Loads the config with this precedence, highest first:
///   1. `--set section.key=value` flags,
///   2. environment variables `BULKHEAD_SECTION__KEY=value` (double underscore between levels),
///   3. the YAML file,
///   4. built-in defaults.
/// Unknown keys are errors, so a typo never silently falls back to a default: each
/// section refuses them as it decodes (`ConfigSection`).
public enum ConfigLoader {
    public static let environmentPrefix = "BULKHEAD_"

    public static func load(
        yaml: String, environment: [String: String] = [:], overrides: [String] = []
    ) throws(ConfigError) -> BulkheadConfig {
        var root: Node
        do {
            root = try Yams.compose(yaml: yaml) ?? Node.mapping(Node.Mapping([]))
        } catch {
            throw ConfigError("the file is not valid YAML: \(error)")
        }
        if case .scalar(let s) = root, s.string.isEmpty { root = .mapping(Node.Mapping([])) }
        guard root.mapping != nil else { throw ConfigError("the top level must be a mapping of sections") }

        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix(environmentPrefix) {
            let path = name.dropFirst(environmentPrefix.count).lowercased().components(separatedBy: "__")
            // Only names that start with a config section or top-level key are overrides;
            // other BULKHEAD_* variables (a test's BULKHEAD_BIN_DIR, say) are not ours.
            guard BulkheadConfig.keys.contains(path[0]) else { continue }
            try set(&root, path: path, value: value, source: "environment variable \(name)")
        }
        // The original netwatch daemon's variables (WATCH_NETWORK, ...) apply to a netwatch section.
        if root["netwatch"] != nil {
            for (variable, key) in NetwatchSection.seedEnvironment {
                if let value = environment[variable] { try set(&root, path: ["netwatch", key], value: value, source: "environment variable \(variable)") }
            }
        }
        for override in overrides {
            guard let eq = override.firstIndex(of: "=") else {
                throw ConfigError("--set \(override.debugDescription) must look like section.key=value")
            }
            let path = override[..<eq].components(separatedBy: ".")
            try set(&root, path: path, value: String(override[override.index(after: eq)...]), source: "--set \(override)")
        }

        let config: BulkheadConfig
        do {
            // Yams 5 decodes from text: serialize the overridden tree back first.
            config = try YAMLDecoder().decode(BulkheadConfig.self, from: try Yams.serialize(node: root))
        } catch {
            throw ConfigError(describe(error))
        }
        let problems = ConfigValidator.problems(in: config)
        guard problems.isEmpty else { throw ConfigError(problems.joined(separator: "; ")) }
        return config
    }

    public static func load(
        file path: String, environment: [String: String] = [:], overrides: [String] = []
    ) throws(ConfigError) -> BulkheadConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("cannot read config file \(path)")
        }
        do {
            return try load(yaml: String(decoding: data, as: UTF8.self), environment: environment, overrides: overrides)
        } catch {
            throw ConfigError("\(path): \(error.message)")
        }
    }

    private static func set(_ node: inout Node, path: [String], value: String, source: String) throws(ConfigError) {
        guard let key = path.first, !key.isEmpty else { throw ConfigError("\(source): empty key") }
        if path.count == 1 {
            node[key] = Node(value)
            return
        }
        var child = node[key] ?? Node.mapping(Node.Mapping([]))
        guard child.mapping != nil else { throw ConfigError("\(source): \(key) is not a section") }
        try set(&child, path: Array(path.dropFirst()), value: value, source: source)
        node[key] = child
    }

    private static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "a value has the wrong type: \(error)" }
        switch e {
        case .typeMismatch(let type, let ctx) where "\(type)".contains("Mapping") || "\(type)".contains("Dictionary"):
            return ctx.codingPath.isEmpty ? "the top level must be a mapping" : "\(keyPath(ctx.codingPath)) must be a mapping of keys"
        case .typeMismatch(let type, let ctx) where "\(type)".contains("Sequence") || "\(type)".contains("Array"):
            return "\(keyPath(ctx.codingPath)) must be a list"
        case .dataCorrupted(let ctx) where ctx.underlyingError is UnknownConfigKey:
            let known = (ctx.underlyingError as? UnknownConfigKey)?.known ?? []
            return "unknown key \(keyPath(ctx.codingPath)) (known here: \(known.sorted().joined(separator: ", ")))"
        case .dataCorrupted(let ctx) where ctx.debugDescription.hasSuffix("to type ListenerName"):
            return "\(keyPath(ctx.codingPath)): names are [a-z][a-z0-9_-]{0,31}"
        case .dataCorrupted(let ctx) where ctx.underlyingError is ConfigTextProblem:
            return "\(keyPath(ctx.codingPath)) \(ctx.debugDescription)"
        case .keyNotFound(let key, let ctx):
            return "\(keyPath(ctx.codingPath + [key])) is missing"
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
            return "a value has the wrong type: \(keyPath(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default:
            return "a value has the wrong type: \(error)"
        }
    }

    /// "ssh.remotes[0].timeout", as the config's own messages name keys.
    private static func keyPath(_ path: [any CodingKey]) -> String {
        let text = path.reduce(into: "") { text, key in
            if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : "." + key.stringValue }
        }
        return text.isEmpty ? "(top)" : text
    }
}

public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
