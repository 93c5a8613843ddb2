import CVectorscan
#if canImport(Glibc)
import Glibc
#endif

/// The rules compiled once, at start, into one vectorscan block-mode database.
///
/// Why block mode and not vectorscan's streaming mode: Debian's vectorscan 5.4.9
/// silently misses matches near a chunk boundary in streaming mode (upstream PR
/// #402) and near the end of a block (#325/#358). `SecretStream` therefore scans
/// each new chunk together with the stream's tail and a guard of padding, which
/// keeps every match away from the end of the scanned buffer.
public final class RuleSet: @unchecked Sendable {
    public let rules: [SecretRule]
    let database: OpaquePointer
    /// Copied per stream: a scratch space must not be shared between scans.
    let prototypeScratch: OpaquePointer
    /// The longest match a rule may produce: the scanner's per-stream tail is this long.
    public static let maxMatchLength = 4096

    /// Throws a `RuleError` naming the rule whose pattern does not compile.
    public init(rules: [SecretRule]) throws(RuleError) {
        guard !rules.isEmpty else { throw RuleError(rule: nil, message: "no rules") }
        var seen = Set<String>()
        for rule in rules where !seen.insert(rule.id).inserted { throw RuleError(rule: rule.id, message: "duplicate rule id") }
        self.rules = rules
        var cPatterns = rules.map { strdup($0.pattern) }
        defer { cPatterns.forEach { free($0) } }
        // A rule with `extendLeft` finds its own start, so it skips start-of-match
        // tracking, which is slow for patterns that begin with a long character run.
        let flags = rules.map {
            ($0.extendLeft == nil ? UInt32(HS_FLAG_SOM_LEFTMOST) : 0) | ($0.caseless ? UInt32(HS_FLAG_CASELESS) : 0)
        }
        let ids = (0..<rules.count).map(UInt32.init)
        var db: OpaquePointer?
        var error: UnsafeMutablePointer<hs_compile_error_t>?
        let rc = cPatterns.withUnsafeMutableBufferPointer { patterns in
            patterns.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: rules.count) { p in
                hs_compile_multi(p, flags, ids, UInt32(rules.count), UInt32(HS_MODE_BLOCK), nil, &db, &error)
            }
        }
        guard rc == HS_SUCCESS, let db else {
            let index = Int(error?.pointee.expression ?? -1)
            let message = error.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "error \(rc)"
            if let error { hs_free_compile_error(error) }
            throw RuleError(rule: rules.indices.contains(index) ? rules[index].id : nil, message: message)
        }
        var scratch: OpaquePointer?
        guard hs_alloc_scratch(db, &scratch) == HS_SUCCESS, let scratch else {
            hs_free_database(db)
            throw RuleError(rule: nil, message: "cannot allocate scratch space")
        }
        database = db
        prototypeScratch = scratch
    }

    deinit {
        hs_free_scratch(prototypeScratch)
        hs_free_database(database)
    }

    public static func builtIn() -> RuleSet {
        do { return try RuleSet(rules: BuiltInRules.all) } catch { fatalError("built-in rules must compile: \(error)") }
    }
}

public struct RuleError: Error, Equatable, Sendable, CustomStringConvertible {
    public var rule: String?
    public var message: String
    public var description: String { rule.map { "rule \($0.debugDescription) does not compile: \(message)" } ?? "rules do not compile: \(message)" }
}
