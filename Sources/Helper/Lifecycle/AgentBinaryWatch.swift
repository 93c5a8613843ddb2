import Logging
import LogSetup
#if canImport(Glibc)
import Glibc
#endif

/// Notices when the agent binary on disk is no longer the one the helper started
/// with, and says once that the helper needs a restart; it restarts nothing itself.
///
/// It keeps a read-only fd on the binary, opened while still root: `fstat` on it
/// (allowed by the sandbox, no new syscall) sees an in-place rewrite (size or mtime)
/// and a replacement by rename or unlink (the old inode's link count drops to 0).
/// When the helper's account can still reach the path, `stat` also sees a new inode
/// there while the old one keeps another link.
final class AgentBinaryWatch {
    struct Identity: Equatable {
        var device: UInt64, inode: UInt64, size: Int64, mtime: timespec

        init(_ s: stat) {
            device = UInt64(s.st_dev); inode = UInt64(s.st_ino); size = Int64(s.st_size); mtime = s.st_mtim
        }

        static func == (a: Identity, b: Identity) -> Bool {
            a.device == b.device && a.inode == b.inode && a.size == b.size
                && a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec
        }
    }

    let path: String
    private let fd: Int32
    private let original: Identity
    private let interval: Double
    private var dueAt: Double
    private var reported = false

    /// nil when the binary cannot be opened (the spawner's exec will say why).
    init?(path: String, interval: Double) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        var s = stat()
        guard fd >= 0 else { return nil }
        guard fstat(fd, &s) == 0 else { close(fd); return nil }
        self.path = path; self.fd = fd; self.original = Identity(s)
        self.interval = interval; self.dueAt = Monotonic.now + interval
    }

    /// Seconds until the next periodic check (for the poll timeout); nil once reported.
    var secondsToNextCheck: Double? { reported ? nil : max(0, dueAt - Monotonic.now) }

    /// The periodic check, when its time has come.
    func checkIfDue(logger: Logger) {
        guard !reported, Monotonic.now >= dueAt else { return }
        check(logger: logger)
    }

    /// Checks now (also at every agent (re)start) and logs the first change seen.
    func check(logger: Logger) {
        guard !reported else { return }
        dueAt = Monotonic.now + interval
        guard let how = change() else { return }
        reported = true
        logger.warning(
            "the agent binary \(path) changed on disk (was built \(Self.utc(original.mtime))); restart bulkhead-helper to run the new version",
            metadata: ["how": "\(how)", "running": "\(BulkheadVersion.line)"])
    }

    private func change() -> String? {
        var now = stat()
        guard fstat(fd, &now) == 0 else { return nil }
        if now.st_nlink == 0 { return "replaced or removed" }
        if Identity(now) != original { return "rewritten in place" }
        // EACCES or ENOENT (mid-install) tell nothing: the fd checks above still hold.
        if stat(path, &now) == 0, Identity(now) != original { return "replaced" }
        return nil
    }

    /// `gmtime_r` needs no time-zone file, which the sandbox could not open.
    private static func utc(_ t: timespec) -> String {
        var seconds = t.tv_sec
        var tm = tm()
        guard gmtime_r(&seconds, &tm) != nil else { return "at \(seconds) s" }
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday)) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) UTC"
    }
}
