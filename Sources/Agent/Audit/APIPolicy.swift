import Config
import Foundation

/// The audit proxy's API allow-list: `audit.profile` and `audit.allow` compiled, and
/// the decision for one request. A request passes only when its method has a pattern
/// that matches its whole path; anything unclear is refused (fail closed).
struct APIPolicy: Sendable {
    struct Decision: Equatable, Sendable {
        var allowed: Bool
        var reason: String
    }

    private let patterns: [String: [NSRegularExpression]]
    let summary: String

    /// Request targets longer than this are refused without matching.
    static let maxTarget = 8 * 1024

    init?(_ config: AuditSection) throws {
        guard config.filtersAPI else { return nil }
        var sources: [String: [String]] = [:]
        for (method, pattern) in config.profile?.allow ?? [:] { sources[method, default: []].append(pattern) }
        for (method, pattern) in config.allow { sources[method, default: []].append(pattern) }
        patterns = try sources.mapValues { list in try list.map { try NSRegularExpression(pattern: "^(?:\($0))$") } }
        summary = ([config.profile.map { "profile \($0.rawValue)" }].compactMap { $0 }
            + config.allow.keys.sorted().map { "allow \($0)" }).joined(separator: ", ")
    }

    func decide(method: String, target: String) -> Decision {
        guard target.utf8.count <= Self.maxTarget else { return Decision(allowed: false, reason: "request target too long") }
        guard let path = Self.path(of: target) else {
            return Decision(allowed: false, reason: "the path is not in canonical form (dot segments, '//', encoded '/', '.' or '\\\\')")
        }
        guard let list = patterns[method] else {
            return Decision(allowed: false, reason: "\(method) \(path) is not in the allow-list (nothing is allowed for \(method))")
        }
        let range = NSRange(path.startIndex..., in: path)
        if list.contains(where: { $0.firstMatch(in: path, range: range) != nil }) {
            return Decision(allowed: true, reason: "")
        }
        return Decision(allowed: false, reason: "\(method) \(path) is not in the allow-list")
    }

    /// The path of an origin-form target, or nil when it could be read two ways: the
    /// daemon's router cleans or decodes paths, so only a path with nothing to clean is
    /// matched. The query is not part of the match.
    static func path(of target: String) -> String? {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard path.hasPrefix("/"), !path.contains("//"), !path.contains("\\") else { return nil }
        let lowered = path.lowercased()
        guard !lowered.contains("%2f"), !lowered.contains("%2e"), !lowered.contains("%5c"), !lowered.contains("%00") else { return nil }
        guard !path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) else { return nil }
        guard path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        return path
    }
}
