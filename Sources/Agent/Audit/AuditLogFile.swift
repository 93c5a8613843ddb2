import Logging
import LogSetup
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The audit file: JSON lines, appended (O_APPEND), one write(2) per event.
/// SIGHUP (systemctl reload, passed on by the helper's spawner) makes the next write
/// reopen it, so logrotate can move it away: the next event goes to a new file at the path.
final class AuditLogFile: @unchecked Sendable {
    /// Set by the SIGHUP handler; read by the scanner thread before each write.
    static let reopenRequested = Atomic<Bool>(false)

    private let path: String
    private let logger: Logger
    private var fd: Int32 = -1

    init(path: String, logger: Logger) throws {
        self.path = path
        self.logger = logger
        try open()
        signal(SIGHUP) { _ in AuditLogFile.requestReopen() }
    }

    /// Async-signal-safe: only sets a flag.
    static func requestReopen() { reopenRequested.store(true, ordering: .relaxed) }

    private func open() throws {
        let newFD = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard newFD >= 0 else { throw AuditLogError("cannot open audit.log_file \(path): \(String(cString: strerror(errno)))") }
        // 0640 whatever the umask (the unit's is 0077): readable by the directory's group,
        // adm under the unit (its setgid directory gives new files that group).
        _ = chmod(path, 0o640)
        if fd >= 0 { close(fd) }
        fd = newFD
    }

    /// Called from the scanner thread only.
    func write(event: String, fields: [(String, String)]) {
        if Self.reopenRequested.exchange(false, ordering: .relaxed) {
            do {
                try open()
                logger.notice("reopened audit log \(path)")
            } catch {
                logger.error("cannot reopen the audit log; still writing to the old file", metadata: ["error": "\(error)"])
            }
        }
        var object = [("timestamp", ConsoleLogHandler.timestamp()), ("event", event)] + fields
        object = object.filter { !$0.1.isEmpty || $0.0 == "container_id" }
        let line = "{" + object.map { "\(JSONText.quote($0.0)):\(JSONText.quote($0.1))" }.joined(separator: ",") + "}\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}

struct AuditLogError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
