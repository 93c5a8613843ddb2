#if canImport(Glibc)
import Glibc
#endif

/// The private keys of every container's destinations, under `<state_dir>/keys/<container>/`:
/// `outbound.priv` and `port-<N>.priv`, mode 0600 in directories of mode 0700. A key is
/// written to a temporary file in the same directory, synced and renamed into place,
/// and the directory synced: after a crash the file is the old key or the new one, whole.
struct I2PKeyStore: Sendable {
    /// Which of a container's destinations.
    enum Role: Hashable, Sendable, CustomStringConvertible {
        case outbound
        case service(port: UInt16)

        var fileName: String {
            switch self {
            case .outbound: "outbound.priv"
            case .service(let port): "port-\(port).priv"
            }
        }

        var description: String {
            switch self {
            case .outbound: "outbound"
            case .service(let port): "\(port)/tcp"
            }
        }
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        case badName(String)
        case system(String, path: String, errno: Int32)
        case notAKey(path: String)

        var description: String {
            switch self {
            case .badName(let name): "\"\(name.prefix(80))\" is not a Docker container name"
            case .system(let call, let path, let code): "\(call) \(path): \(String(cString: strerror(code)))"
            case .notAKey(let path): "\(path) does not hold a SAM private key"
            }
        }
    }

    /// `<state_dir>/keys`.
    let root: String
    /// Runs between the sync of the temporary file and its rename: tests throw there to
    /// stop as a crash would (a temporary file left behind is harmless: it is hidden,
    /// never loaded, and truncated by the next save).
    var beforeRename: @Sendable (String) throws(Failure) -> Void = { _ in }

    init(stateDir: String) { root = stateDir + "/keys" }

    /// Docker's rule for names (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`), and short enough for a path.
    static func isContainerName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 128, isAlnum(first) else { return false }
        return name.utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// The saved key, or nil when there is none yet. A file that exists but does not hold
    /// a key is an error, never silently replaced: that would change the address.
    func load(_ container: String, _ role: Role) throws(Failure) -> I2PPrivateKey? {
        let path = try directory(container) + "/" + role.fileName
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .system("open", path: path, errno: errno)
        }
        defer { close(fd) }
        var bytes = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= 65536 {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 { if errno == EINTR { continue }; throw .system("read", path: path, errno: errno) }
            if n == 0 { break }
            bytes += chunk[..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let key = I2PPrivateKey(text.hasSuffix("\n") ? text.dropLast() : Substring(text)) else { throw .notAKey(path: path) }
        return key
    }

    /// Saves `key` atomically (creating the container's directory, 0700, if needed).
    func save(_ key: I2PPrivateKey, _ container: String, _ role: Role) throws(Failure) {
        let dir = try directory(container)
        try makeDirectory(root)
        try makeDirectory(dir)
        let path = dir + "/" + role.fileName
        let temporary = dir + "/." + role.fileName + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .system("open", path: temporary, errno: errno) }
        do {
            defer { close(fd) }
            var bytes = Array((key.text + "\n").utf8)[...]
            while !bytes.isEmpty {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n < 0 { if errno == EINTR { continue }; throw Failure.system("write", path: temporary, errno: errno) }
                bytes = bytes.dropFirst(n)
            }
            guard fsync(fd) == 0 else { throw Failure.system("fsync", path: temporary, errno: errno) }
        }
        try beforeRename(path)
        guard rename(temporary, path) == 0 else { throw .system("rename", path: path, errno: errno) }
        try syncDirectory(dir)
    }

    private func directory(_ container: String) throws(Failure) -> String {
        guard Self.isContainerName(container) else { throw .badName(container) }
        return root + "/" + container
    }

    private func makeDirectory(_ path: String) throws(Failure) {
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw .system("mkdir", path: path, errno: errno) }
    }

    private func syncDirectory(_ path: String) throws(Failure) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("open", path: path, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .system("fsync", path: path, errno: errno) }
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c)
    }
}
