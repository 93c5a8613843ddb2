import Foundation

/// Turns a raw match into a finding, or drops it: value extraction, the keyword
/// prefilter, the entropy threshold and the built-in false-positive filters.
enum FindingFilter {
    /// Characters that frame a token but are never part of one.
    static let frame: Set<UInt8> = Set(" \t\r\n\"'`=:,;()[]{}<>|&!?*".utf8)

    static func finding(rule: SecretRule, match: [UInt8], offset: UInt64) -> Finding? {
        let lowered = match.map { (65...90).contains($0) ? $0 + 32 : $0 }
        guard rule.keywords.isEmpty || rule.keywords.contains(where: { lowered.contains(subsequence: Array($0.utf8)) }) else { return nil }
        let value = extractValue(rule.value, from: match)
        guard !value.isEmpty, !isFalsePositive(value), !isBracketedPlaceholder(value, in: match) else { return nil }
        if let threshold = rule.entropy, shannonEntropy(value) < threshold { return nil }
        // The match may begin with the boundary before the token (a newline, for a token
        // at the start of a line): the finding starts at the token.
        let lead = match.prefix(while: { frame.contains($0) }).count
        return Finding(ruleID: rule.id, severity: rule.severity,
                       redacted: Redaction.redact(String(decoding: value, as: UTF8.self)),
                       offset: offset + UInt64(lead), length: match.count - lead)
    }

    static func extractValue(_ kind: SecretRule.Value, from match: [UInt8]) -> ArraySlice<UInt8> {
        var slice = match[...]
        switch kind {
        case .whole:
            break
        case .afterAssignment:
            if let i = slice.firstIndex(where: { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: ":") }) { slice = slice[(i + 1)...] }
        case .afterSpace:
            if let i = slice.firstIndex(where: { $0 == 32 || $0 == 9 }) { slice = slice[(i + 1)...] }
        }
        while let first = slice.first, frame.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, frame.contains(last) || last == UInt8(ascii: ".") { slice = slice.dropLast() }
        return slice
    }

    static let placeholders: Set<String> = ["true", "false", "null", "none", "nil", "undefined", "redacted", "placeholder", "changeme", "password"]

    /// EXAMPLE keys, `${VAR}`/`$VAR` references, templates, placeholders, repeated characters.
    static func isFalsePositive(_ value: ArraySlice<UInt8>) -> Bool {
        let lower = String(decoding: value, as: UTF8.self).lowercased()
        if lower.contains("example") || placeholders.contains(lower) { return true }
        if lower.hasPrefix("$") || lower.contains("${") || lower.contains("{{") || lower.contains("}}")
            || lower.contains("<%") || lower.contains("%>") || (lower.hasPrefix("<") && lower.hasSuffix(">")) { return true }
        if Set(value).count <= 2 { return true }
        var run = 1, longest = 1
        for (a, b) in zip(value, value.dropFirst()) {
            run = a == b ? run + 1 : 1
            longest = max(longest, run)
        }
        return longest >= 8
    }

    /// `<your-password>` and the like: the value sits between `<` and `>` in the match.
    static func isBracketedPlaceholder(_ value: ArraySlice<UInt8>, in match: [UInt8]) -> Bool {
        value.startIndex > 0 && match[value.startIndex - 1] == UInt8(ascii: "<")
            && value.endIndex < match.count && match[value.endIndex] == UInt8(ascii: ">")
    }

    static func shannonEntropy(_ value: ArraySlice<UInt8>) -> Double {
        var counts = [Int](repeating: 0, count: 256)
        for b in value { counts[Int(b)] += 1 }
        let n = Double(value.count)
        return counts.reduce(0.0) { sum, c in
            guard c > 0 else { return sum }
            let p = Double(c) / n
            return sum - p * log2(p)
        }
    }
}



extension Array where Element == UInt8 {
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return needle.isEmpty }
        for i in 0...(count - needle.count) where self[i] == needle[0] {
            if self[i..<(i + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
