import CFDPass
import IPC
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Binds the sockets of the listener table and listens on them before anything
/// leaves the helper: a socket that is bound but not listening could be connect()ed
/// by the agent to any listener on the host and then pass for a connection accepted
/// on ours (a forged proof), or serve as a privileged source port. Each socket is
/// bound once and kept, so an agent restart gets the same socket back and clients
/// queue in its backlog meanwhile. Unix listeners are handed out (dup'd); TCP
/// listeners never are (`TCPAcceptRelay`).
final class ListenerBinder {
    private let table: ListenerTable
    private let logger: Logger
    /// Unix listeners, kept for the next agent.
    private var bound: [ListenerName: Int32] = [:]
    let tcp: TCPAcceptRelay
    /// Unix socket paths this helper created, with their inode, removed at shutdown.
    private var created: [(path: String, inode: ino_t)] = []
    /// The socket file each Unix listener is bound to: proofs are checked against it.
    private var identities: [ListenerName: SocketFileIdentity] = [:]

    init(table: ListenerTable, logger: Logger) {
        self.table = table; self.logger = logger
        tcp = TCPAcceptRelay(logger: logger)
    }

    /// For a Unix listener, a new fd (a dup of the kept, listening one); for a TCP
    /// listener, a new accept channel. The caller sends it and closes it.
    func socket(named name: ListenerName, unix wantUnix: Bool) throws(Refusal) -> Int32 {
        guard let entry = table[name] else { throw Refusal(.unknownName, "no listener named \(name) in the helper's config") }
        switch (entry.endpoint, wantUnix) {
        case (.unix, false): throw Refusal(.unknownName, "listener \(name) is a Unix socket, not TCP")
        case (.tcp, true): throw Refusal(.unknownName, "listener \(name) is a TCP socket, not Unix")
        default: break
        }
        if !wantUnix {
            if !tcp.owns(name) { tcp.adopt(try bind(entry), as: name) }
            return try tcp.channel(for: name)
        }
        let fd: Int32
        if let existing = bound[name] {
            fd = existing
        } else {
            fd = try bind(entry)
            bound[name] = fd
            if case .unix(let path, _, _, _) = entry.endpoint { identities[name] = SocketFileIdentity(path: path) }
        }
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)
        guard copy >= 0 else { throw Refusal(.systemError, "dup: \(String(cString: strerror(errno)))") }
        return copy
    }

    private func bind(_ entry: ListenerTable.Entry) throws(Refusal) -> Int32 {
        switch entry.endpoint {
        case .unix(let path, let mode, let uid, let gid):
            try RootOnlyDirectories.check(path, configKey: entry.configKey)
            try clearStaleSocket(at: path, configKey: entry.configKey)
            // The umask gives the socket its mode at creation: no chmod by path, which
            // could follow a symlink swapped in after bind.
            let previous = umask(~mode & 0o777)
            let fd = bh_bind_unix(path)
            let bindErrno = errno
            umask(previous)
            guard fd >= 0 else { throw Refusal(.systemError, "bind \(path) (\(entry.configKey)): \(String(cString: strerror(bindErrno)))") }
            guard lchown(path, uid, gid) == 0 else {
                let e = errno
                close(fd); unlink(path)
                throw Refusal(.systemError, "set owner of \(path): \(String(cString: strerror(e)))")
            }
            var st = stat()
            if lstat(path, &st) == 0 { created.append((path, st.st_ino)) }
            try listenNow(fd, what: "\(path) (\(entry.configKey))")
            logger.info("bound unix listener", metadata: ["path": "\(path)", "mode": "\(String(mode, radix: 8))", "uid": .stringConvertible(uid), "gid": .stringConvertible(gid)])
            return fd
        case .tcp(let host, let port):
            let fd = bh_bind_tcp(host, port)
            if fd == -2 { throw Refusal(.systemError, "\(entry.configKey): \(host) is not a numeric address") }
            guard fd >= 0 else {
                let e = errno
                let hint = e == EACCES && port < 1024 && !HelperCapabilities.holdsBindService
                    ? "; ports below 1024 need CAP_NET_BIND_SERVICE in the service's bounding set (systemd/bulkhead-helper.service.d/low-ports.conf)"
                    : ""
                throw Refusal(.systemError, "bind \(host):\(port) (\(entry.configKey)): \(String(cString: strerror(e)))\(hint)")
            }
            try listenNow(fd, what: "\(host):\(port) (\(entry.configKey))")
            // The relay accepts from the helper's single-threaded loop: never block there.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            logger.info("bound tcp listener", metadata: ["address": "\(host)", "port": .stringConvertible(port)])
            return fd
        }
    }

    private func listenNow(_ fd: Int32, what: String) throws(Refusal) {
        guard listen(fd, SOMAXCONN) == 0 else {
            let e = errno
            close(fd)
            throw Refusal(.systemError, "listen on \(what): \(String(cString: strerror(e)))")
        }
    }

    /// The socket file listener `name` is bound to, once bound.
    func identity(of name: ListenerName) -> SocketFileIdentity? { identities[name] }

    /// A leftover socket nobody serves is removed; a live one, or anything that is
    /// not a socket, is refused: the helper never steals or deletes another
    /// daemon's socket.
    private func clearStaleSocket(at path: String, configKey: String) throws(Refusal) {
        switch StaleSocket.probe(path) {
        case .absent: return
        case .notASocket:
            throw Refusal(.conflict, "\(path) exists and is not a socket; remove it or change \(configKey)")
        case .live(let owner):
            throw Refusal(.conflict,
                "\(path) is a live socket owned by uid \(owner) (another daemon, e.g. a rootful dockerd, serves it); "
                + "change \(configKey) or stop that daemon")
        case .unprobeable(let e):
            throw Refusal(.conflict, "\(path) exists and cannot be probed (\(String(cString: strerror(e)))); change \(configKey)")
        case .stale:
            guard unlink(path) == 0 else { throw Refusal(.systemError, "remove stale socket \(path): \(String(cString: strerror(errno)))") }
            logger.notice("removed stale socket", metadata: ["path": "\(path)"])
        }
    }

    /// Whether listener `name` has been bound, Unix or TCP (it stays bound until `closeAll`).
    func isBound(_ name: ListenerName) -> Bool { bound[name] != nil || tcp.owns(name) }

    /// Closes every kept socket and removes the files this helper created.
    func closeAll() {
        for fd in bound.values { close(fd) }
        bound.removeAll()
        tcp.closeAll()
        for (path, inode) in created {
            var st = stat()
            if lstat(path, &st) == 0, st.st_ino == inode { unlink(path) }
        }
        created.removeAll()
    }
}
