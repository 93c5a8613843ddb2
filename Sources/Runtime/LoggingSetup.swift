import Logging
#if canImport(Glibc)
import Glibc
#endif

public enum LoggingSetup {
    /// Every logger goes to stdout (text or JSON) and, when a syslog daemon listens
    /// on /dev/log, to syslog (daemon facility). Without one, glibc would retry the
    /// socket on every message, so syslog is left out and that is said once.
    /// `level` is a swift-log level name (trace ... critical).
    public static func bootstrap(json: Bool, identifier: StaticString, level: String = "info") {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        let haveSyslog = access("/dev/log", F_OK) == 0
        if haveSyslog { SyslogLogHandler.open(identifier: identifier) }
        LoggingSystem.bootstrap { label in
            var console = ConsoleLogHandler(label: label, format: json ? .json : .text)
            console.logLevel = logLevel
            guard haveSyslog else { return console }
            var syslog = SyslogLogHandler(label: label)
            syslog.logLevel = logLevel
            return MultiplexLogHandler([console, syslog])
        }
        if !haveSyslog { Logger(label: "logging").notice("no syslog daemon at /dev/log; logging to stdout only") }
    }
}
