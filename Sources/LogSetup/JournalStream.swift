import Logging
#if canImport(Glibc)
import Glibc
#endif

/// systemd sets `JOURNAL_STREAM=DEV:INODE` for a service whose stdout or stderr is
/// connected to the journal (systemd.exec(5)). When it names our stdout, every line
/// written there already reaches the journal, so syslog would record it a second time.
public enum JournalStream {
    public static func isStandardOutput(_ value: String? = getenv("JOURNAL_STREAM").map { String(cString: $0) }) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(1, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// The `<N>` prefix journald reads as the line's priority (SyslogLevelPrefix=yes,
    /// the default), so `journalctl -p warning` works on stdout lines.
    public static func priorityPrefix(_ level: Logger.Level) -> String {
        "<\(SyslogLogHandler.priority(level))>"
    }
}
