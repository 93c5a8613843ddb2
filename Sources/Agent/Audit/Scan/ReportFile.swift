import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where `audit scan` writes its report. A file is opened as a temporary file next to
/// it before the sandbox is installed, and renamed over the path only once the whole
/// report is written and synced: a failed scan never leaves a half report or removes
/// the previous one.
final class ReportFile {
    let format: ScanReportFormat
    let isStdout: Bool
    private let path: String
    private let temporary: String
    private var fd: Int32

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(path: String, format: ScanReportFormat) throws {
        self.format = format
        self.path = path
        isStdout = path == "-"
        if isStdout {
            temporary = ""
            fd = 1
            return
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty else { throw Failure(description: "--report-path \(path) names a directory, not a file") }
        temporary = "\(directory).\(name).tmp-\(getpid())"
        fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw Failure(description: "cannot create the report next to \(path): \(String(cString: strerror(errno)))")
        }
    }

    func commit(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "write \(isStdout ? "stdout" : temporary): \(String(cString: strerror(errno)))") }
            done += n
        }
        guard !isStdout else { return }
        guard fsync(fd) == 0 else { throw Failure(description: "fsync \(temporary): \(String(cString: strerror(errno)))") }
        close(fd)
        fd = -1
        guard rename(temporary, path) == 0 else { throw Failure(description: "rename to \(path): \(String(cString: strerror(errno)))") }
    }

    /// Removes the temporary file; the path keeps what it had.
    func discard() {
        guard !isStdout else { return }
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporary)
    }
}
