import Foundation
import SecretScan
import Yams

/// Extra detection rules from a YAML (or JSON) file: a list of rules with the
/// built-in rules' fields (id, description, severity, pattern, keywords,
/// entropy, value, caseless).
enum RuleFile {
    static func load(_ path: String) throws -> [SecretRule] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RuleFileError("cannot read rules file \(path)")
        }
        do {
            return try YAMLDecoder().decode([SecretRule].self, from: String(decoding: data, as: UTF8.self))
        } catch {
            throw RuleFileError("\(path): not a list of rules (id, description, severity, pattern, keywords, ...): \(error)")
        }
    }
}

struct RuleFileError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
