import Logging

public enum LoggingSetup {
    /// Every logger goes to stdout (text or JSON) and to syslog (daemon facility).
    public static func bootstrap(json: Bool, identifier: StaticString, level: Logger.Level = .info) {
        SyslogLogHandler.open(identifier: identifier)
        LoggingSystem.bootstrap { label in
            var console = ConsoleLogHandler(label: label, format: json ? .json : .text)
            console.logLevel = level
            var syslog = SyslogLogHandler(label: label)
            syslog.logLevel = level
            return MultiplexLogHandler([console, syslog])
        }
    }
}
