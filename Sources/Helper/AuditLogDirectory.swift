import ArgumentParser
import Config
#if canImport(Glibc)
import Glibc
#endif

/// At start, as root: the agent appends to audit.log_file and creates it again after
/// a rename (SIGHUP), so it must own the file's directory. systemd's LogsDirectory=
/// gives that directory (and, recursively, its files) back to root at every start;
/// this hands the directory and the current file to agent.user again. The group is
/// left as it is (adm under the unit's Group=adm, or `make install`'s), and the
/// directory is setgid so that files the agent creates get that group too: 0640
/// files (UMask=0027) readable by the log readers' group, not by the agent's.
enum AuditLogDirectory {
    static func prepare(_ audit: AuditSection, agent: Account) throws {
        let slash = audit.logFile.lastIndex(of: "/")!  // absolute, checked by ConfigValidator
        let directory = String(audit.logFile[..<slash])
        var st = stat()
        // Never a system directory: only one made for Bulkhead's logs.
        guard !["", "/var", "/var/log", "/tmp", "/var/tmp", "/run", "/etc"].contains(directory) else {
            throw ValidationError("audit.log_file \(audit.logFile): put it in a directory of its own, such as /var/log/bulkhead")
        }
        guard lstat(directory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw ValidationError("audit.log_file: the directory \(directory) is missing (the unit's LogsDirectory= or `make install` creates it)")
        }
        let group = st.st_gid
        guard lchown(directory, agent.uid, group) == 0, chmod(directory, 0o2750) == 0 else {
            throw ValidationError("audit.log_file: cannot give \(directory) to \(agent.name): \(String(cString: strerror(errno)))")
        }
        if lstat(audit.logFile, &st) == 0, st.st_mode & S_IFMT == S_IFREG {
            guard lchown(audit.logFile, agent.uid, group) == 0, chmod(audit.logFile, 0o640) == 0 else {
                throw ValidationError("audit.log_file: cannot give \(audit.logFile) to \(agent.name): \(String(cString: strerror(errno)))")
            }
        }
    }
}
