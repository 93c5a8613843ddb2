import ArgumentParser
import Config
#if canImport(Glibc)
import Glibc
#endif

/// At start, as root: the agent appends to audit.log_file and creates it again after a
/// rename (SIGHUP), so the file's directory must be the agent's. It is made here if
/// missing (its parent must exist: the unit's LogsDirectory=bulkhead) and handed to
/// agent.user with the current file. Group and mode are kept: under the unit the parent
/// is root:adm and setgid (systemd's, Group=adm, LogsDirectoryMode=2755), so a directory
/// made here inherits both, and the files the agent creates (0640, see AuditLogFile)
/// belong to the log readers' group. The parent itself is left to systemd: changing its
/// owner would make systemd give the whole tree back to root at the next start or reload.
enum AuditLogDirectory {
    static func prepare(_ audit: AuditSection, agent: Account) throws {
        let slash = audit.logFile.lastIndex(of: "/")!  // absolute, checked by ConfigValidator
        let directory = String(audit.logFile[..<slash])
        // Never a shared system directory: only one made for the audit log.
        guard !["", "/var", "/var/log", "/var/log/bulkhead", "/tmp", "/var/tmp", "/run", "/etc"].contains(directory) else {
            throw ValidationError("audit.log_file \(audit.logFile): put it in a directory of its own, such as /var/log/bulkhead/audit")
        }
        var st = stat()
        if lstat(directory, &st) != 0 {
            // 0750 whatever the unit's UMask=0077; a setgid parent adds its group and the bit.
            let previous = umask(0o027)
            defer { umask(previous) }
            guard errno == ENOENT, mkdir(directory, 0o750) == 0, lstat(directory, &st) == 0 else {
                throw ValidationError("audit.log_file: cannot create \(directory) (its parent must exist): \(String(cString: strerror(errno)))")
            }
        }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw ValidationError("audit.log_file: \(directory) is not a directory") }
        let group = st.st_gid
        guard lchown(directory, agent.uid, group) == 0 else {
            throw ValidationError("audit.log_file: cannot give \(directory) to \(agent.name): \(String(cString: strerror(errno)))")
        }
        // The agent sets the file's mode when it opens it (root has no CAP_FOWNER for an agent's file).
        // The directory may be the agent's already: the file is opened without following a
        // symlink and checked on the open fd, and a file with another link (a hard link the
        // agent made to someone else's file) is left alone.
        let fd = open(audit.logFile, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        if fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_nlink == 1, st.st_uid != agent.uid {
            guard fchown(fd, agent.uid, group) == 0 else {
                throw ValidationError("audit.log_file: cannot give \(audit.logFile) to \(agent.name): \(String(cString: strerror(errno)))")
            }
        }
    }
}
