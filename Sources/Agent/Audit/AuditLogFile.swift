import Runtime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The audit file: JSON lines, appended (O_APPEND), one write(2) per event.
/// SIGHUP makes the next write reopen it, so logrotate can move it away.
final class AuditLogFile: @unchecked Sendable {
    /// Set by the SIGHUP handler; read by the scanner thread before each write.
    static let reopenRequested = Atomic<Bool>(false)

    private let path: String
    private var fd: Int32 = -1

    init(path: String) throws {
        self.path = path
        try open()
        signal(SIGHUP) { _ in AuditLogFile.reopenRequested.store(true, ordering: .relaxed) }
    }

    private func open() throws {
        let newFD = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard newFD >= 0 else { throw AuditLogError("cannot open audit.log_file \(path): \(String(cString: strerror(errno)))") }
        if fd >= 0 { close(fd) }
        fd = newFD
    }

    /// Called from the scanner thread only.
    func write(event: String, fields: [(String, String)]) {
        if Self.reopenRequested.exchange(false, ordering: .relaxed) { try? open() }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var object = [("timestamp", Self.rfc3339(ts)), ("event", event)] + fields
        object = object.filter { !$0.1.isEmpty || $0.0 == "container_id" }
        let line = "{" + object.map { "\(JSONText.quote($0.0)):\(JSONText.quote($0.1))" }.joined(separator: ",") + "}\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    static func rfc3339(_ ts: timespec) -> String {
        var t = ts.tv_sec
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ n: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, n - s.count)) + s }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):"
            + "\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }
}

struct AuditLogError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
