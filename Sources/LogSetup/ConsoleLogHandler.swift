import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One line per event on stdout: human-readable text, or one JSON object per line
/// for `--log-format json`. Writes are a single write(2) each, so lines from
/// several threads never interleave.
public struct ConsoleLogHandler: LogHandler {
    public enum Format: Sendable { case text, json }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let format: Format
    /// stdout is the journal: each line starts with its `<N>` priority.
    private let journalPriority: Bool

    public init(label: String, format: Format, journalPriority: Bool = false) {
        self.label = label; self.format = format; self.journalPriority = journalPriority
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let line: String
        switch format {
        case .text:
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.quoteIfNeeded("\($0.value)"))" }
            line = ([Self.timestamp(), event.level.rawValue, "\(label):", "\(event.message)"] + fields).joined(separator: " ")
        case .json:
            var object: [(String, String)] = [
                ("time", Self.timestamp()), ("level", event.level.rawValue), ("logger", label), ("message", "\(event.message)"),
            ].map { ($0.0, JSONText.quote($0.1)) }
            object += merged.sorted { $0.key < $1.key }.map { ($0.key, JSONLogValue.render($0.value)) }
            line = "{" + object.map { "\(JSONText.quote($0.0)):\($0.1)" }.joined(separator: ",") + "}"
        }
        let prefix = journalPriority ? JournalStream.priorityPrefix(event.level) : ""
        var bytes = Array((prefix + line + "\n").utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    static func quoteIfNeeded(_ s: String) -> String {
        s.isEmpty || s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) ? JSONText.quote(s) : s
    }

    /// RFC 3339 UTC with milliseconds, now (also the audit file's timestamps).
    public static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return timestamp(unixSeconds: ts.tv_sec, milliseconds: Int32(ts.tv_nsec / 1_000_000))
    }

    /// RFC 3339 UTC with milliseconds, of a given time. Computed by hand: Foundation's
    /// date formatters read the time zone files, which the agent's seccomp filter forbids.
    public static func timestamp(unixSeconds: Int, milliseconds: Int32) -> String {
        var t = unixSeconds
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, width - s.count)) + s }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(milliseconds, 3))Z"
    }
}

public enum JSONText {
    /// A JSON string literal for `s`.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
