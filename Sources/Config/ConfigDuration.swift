import Foundation

/// A duration written in config and flags: "10s", "500ms", "2m", "1h" or plain
/// seconds ("1.5").
public struct ConfigDuration: ConfigLiteral, Comparable {
    public let duration: Duration
    public let text: String

    public init(parsing text: String) throws(ConfigTextProblem) {
        // The bound keeps the conversion to whole milliseconds from overflowing.
        guard let seconds = Self.seconds(in: text.trimmingCharacters(in: .whitespaces)), seconds <= 1e9 else {
            throw ConfigTextProblem("\(text.debugDescription) is not a duration like 10s, 500ms, 2m or 1h")
        }
        duration = .milliseconds(Int64((seconds * 1000).rounded()))
        self.text = text
    }

    /// Whole and fractional seconds, for APIs that take a Double.
    public var seconds: Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    public static func == (a: Self, b: Self) -> Bool { a.duration == b.duration }
    public static func < (a: Self, b: Self) -> Bool { a.duration < b.duration }
    public func hash(into hasher: inout Hasher) { hasher.combine(duration) }

    private static func seconds(in text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let v = Double(text.dropLast(suffix.count)), v.isFinite, v >= 0 else { return nil }
            return v * scale
        }
        guard let v = Double(text), v.isFinite, v >= 0 else { return nil }
        return v
    }
}
