import Logging

/// A metadata value in a JSON log line, typed: integers, floating-point numbers and
/// booleans given with `.stringConvertible` are JSON numbers and booleans, a `Duration`
/// is a number of seconds, nested dictionaries and arrays are JSON objects and arrays.
/// Everything else, `.string` included, is a JSON string.
enum JSONLogValue {
    static func render(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text):
            return JSONText.quote(text)
        case .stringConvertible(let item):
            return scalar(item)
        case .dictionary(let entries):
            return "{" + entries.sorted { $0.key < $1.key }.map { "\(JSONText.quote($0.key)):\(render($0.value))" }
                .joined(separator: ",") + "}"
        case .array(let items):
            return "[" + items.map(render).joined(separator: ",") + "]"
        }
    }

    private static func scalar(_ item: any CustomStringConvertible & Sendable) -> String {
        if let flag = item as? Bool { return flag ? "true" : "false" }
        if let integer = item as? any BinaryInteger { return "\(integer)" }
        if let real = item as? Double { return real.isFinite ? "\(real)" : JSONText.quote("\(real)") }
        if let real = item as? Float { return real.isFinite ? "\(real)" : JSONText.quote("\(real)") }
        if let duration = item as? Duration {
            let (seconds, attoseconds) = duration.components
            return "\(Double(seconds) + Double(attoseconds) / 1e18)"
        }
        return JSONText.quote(item.description)
    }
}
