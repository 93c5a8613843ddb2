import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Files the i2p service keeps: written whole to a temporary file (0600), synced,
/// renamed over the old one, and the directory synced, so a crash leaves either
/// the old content or the new one.
enum AtomicFile {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func write(_ bytes: [UInt8], to path: String) throws(Failure) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw failure("cannot create", temporary) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { let e = failure("cannot write", temporary); close(fd); unlink(temporary); throw e }
            written += n
        }
        guard fsync(fd) == 0 else { let e = failure("cannot sync", temporary); close(fd); unlink(temporary); throw e }
        close(fd)
        guard rename(temporary, path) == 0 else { let e = failure("cannot rename into", path); unlink(temporary); throw e }
        syncDirectory(of: path)
    }

    /// Removes `path` (a missing file is fine) and syncs its directory.
    static func remove(_ path: String) throws(Failure) {
        guard unlink(path) == 0 || errno == ENOENT else { throw failure("cannot remove", path) }
        syncDirectory(of: path)
    }

    /// Creates `path` (0700) unless it exists.
    static func makeDirectory(_ path: String) throws(Failure) {
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw failure("cannot create directory", path) }
    }

    /// The whole file, at most `limit` bytes; nil when it does not exist.
    static func read(_ path: String, limit: Int) throws(Failure) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw failure("cannot open", path)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw failure("cannot read", path) }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
            guard bytes.count <= limit else { throw Failure(description: "\(path) is larger than \(limit) bytes") }
        }
    }

    /// Names of the regular entries of directory `path` ending in `suffix`.
    static func list(_ path: String, suffix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
    }

    private static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    private static func failure(_ what: String, _ path: String) -> Failure {
        Failure(description: "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}
