import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private directory with the config the boundary tests run the helper with.
struct TestFixture {
    let dir: String
    var routerSocket: String { "\(dir)/router.sock" }
    var extraSocket: String { "\(dir)/extra.sock" }
    var liveSocket: String { "\(dir)/live.sock" }
    var sshSocket: String { "\(dir)/ssh-lab.sock" }
    var staleSocket: String { "\(dir)/stale.sock" }
    var userSockets: String { "\(dir)/users" }
    var configPath: String { "\(dir)/bulkhead.yaml" }
    var upstreamSocket: String { "\(dir)/upstream.sock" }
    static let privilegedPort: UInt16 = 444

    /// The rootful daemon's socket when the router relays root (`relayRoot`).
    var rootDaemonSocket: String { "\(dir)/root-daemon.sock" }

    /// `relayRoot`: `router.root_policy: socket`, to `rootDaemonSocket`.
    init(relayRoot: Bool = false) throws {
        // Under /run: listener directories must be root-only all the way up (not /tmp).
        var template = Array("/run/bulkhead-boundary-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw NSError(domain: "mkdtemp", code: Int(errno)) }
        dir = String(cString: made)
        chmod(dir, 0o755)
        mkdir(userSockets, 0o755)
        let yaml = """
            router:
              listen: \(routerSocket)
              user_socket: \(userSockets)/%d/docker.sock
            \(relayRoot ? "  root_policy: socket\n  root_socket: \(dir)/root-daemon.sock" : "")
            listeners:
              extra: { unix: \(extraSocket), mode: "0600", owner: nobody, group: nogroup }
              live: { unix: \(liveSocket) }
              stale: { unix: \(staleSocket) }
              priv: { tcp: "127.0.0.1:\(Self.privilegedPort)" }
            audit:
              listen: \(dir)/audit.sock
              upstream: \(dir)/upstream.sock
              log_file: \(dir)/audit.jsonl
            ssh:
              remotes:
                - { name: lab, local_socket: \(sshSocket), ssh_user: docker, ssh_host: "127.0.0.1:2222", mode: "0640" }
            """
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }

    /// A listening Unix socket at `path`, as another daemon would have.
    static func listeningSocket(at path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        precondition(ok == 0 && listen(fd, 16) == 0, "cannot listen on \(path): errno \(errno)")
        return fd
    }

    /// A connection to `path` made by `user` (via runuser + python3), held open
    /// while the returned process lives. Returns the process, to be terminated.
    static func connect(as user: String, to path: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        p.arguments = ["-u", user, "--", "python3", "-c",
                       "import socket,time; s=socket.socket(socket.AF_UNIX); s.connect('\(path)'); time.sleep(30)"]
        p.standardError = FileHandle.nullDevice  // runuser reports its own termination there
        try p.run()
        return p
    }

    /// Accepts one connection on `listener` (bounded wait).
    static func acceptOne(_ listener: Int32, timeoutMs: Int32 = 10_000) -> Int32 {
        var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMs) == 1 else { return -1 }
        return accept(listener, nil, nil)
    }

    static func uid(of user: String) -> UInt32? { getpwnam(user).map { $0.pointee.pw_uid } }
}
