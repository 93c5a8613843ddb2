import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Sends each event to syslog with the daemon facility. `openlog` is called once
/// with LOG_NDELAY so the /dev/log socket is opened before any sandboxing.
public struct SyslogLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) { self.label = label }

    /// `identifier` must stay alive for the life of the process (openlog keeps the pointer).
    public static func open(identifier: StaticString) {
        openlog(UnsafeRawPointer(identifier.utf8Start).assumingMemoryBound(to: CChar.self), LOG_PID | LOG_NDELAY, LOG_DAEMON)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = merged.sorted { $0.key < $1.key }.map { " \($0.key)=\(ConsoleLogHandler.quoteIfNeeded("\($0.value)"))" }.joined()
        let text = "\(label): \(event.message)\(fields)"
        text.withCString { cText in withVaList([cText]) { vsyslog(Self.priority(event.level), "%s", $0) } }
    }

    static func priority(_ level: Logger.Level) -> Int32 {
        switch level {
        case .trace, .debug: LOG_DEBUG
        case .info: LOG_INFO
        case .notice: LOG_NOTICE
        case .warning: LOG_WARNING
        case .error: LOG_ERR
        case .critical: LOG_CRIT
        }
    }
}
