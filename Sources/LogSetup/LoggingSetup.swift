import Logging
#if canImport(Glibc)
import Glibc
#endif

public enum LoggingSetup {
    /// Every logger goes to stdout (text or JSON) and, when a syslog daemon listens
    /// on /dev/log, to syslog (daemon facility). Without one, glibc would retry the
    /// socket on every message, so syslog is left out and that is said once. Under
    /// systemd, when stdout is the journal (`JOURNAL_STREAM`), syslog is left out too,
    /// so each event reaches the journal once, and each line carries its priority.
    /// `level` is a swift-log level name (trace ... critical).
    public static func bootstrap(json: Bool, identifier: StaticString, level: String = "info") {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        let journal = JournalStream.isStandardOutput()
        let haveSyslog = !journal && access("/dev/log", F_OK) == 0
        if haveSyslog { SyslogLogHandler.open(identifier: identifier) }
        LoggingSystem.bootstrap { label in
            var console = ConsoleLogHandler(label: label, format: json ? .json : .text, journalPriority: journal)
            console.logLevel = logLevel
            guard haveSyslog else { return console }
            var syslog = SyslogLogHandler(label: label)
            syslog.logLevel = logLevel
            return MultiplexLogHandler([console, syslog])
        }
        if !haveSyslog && !journal { Logger(label: "logging").notice("no syslog daemon at /dev/log; logging to stdout only") }
    }
}
