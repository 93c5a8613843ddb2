import CFDPass
import Config
import IPC
#if canImport(Glibc)
import Glibc
#endif

/// `connectUserDockerSocket(uid)`: connects to the Docker socket that belongs to
/// `uid`, after proving that `uid` really is at the other end of the client
/// connection the agent hands over. Every path comes from the helper's config.
final class DockerSocketConnector {
    private let router: RouterSection?
    private let binder: ListenerBinder
    /// A NETLINK_SOCK_DIAG socket, opened before the sandbox.
    private let diag: Int32
    /// For proofs that live in another network namespace, which sock_diag cannot see.
    private let inspector: ProofInspector?
    private var ledger = ProofLedger()

    init(router: RouterSection?, binder: ListenerBinder, diag: Int32, inspector: ProofInspector?) {
        self.router = router; self.binder = binder; self.diag = diag; self.inspector = inspector
    }

    func connect(uid: UInt32, proof: Int32) throws(Refusal) -> Int32 {
        guard let router, router.enabled else { throw Refusal(.notPermittedNow, "the router is not enabled in the helper's config") }
        try checkProof(proof, uid: uid)

        let path: String
        if uid == 0 {
            guard router.rootPolicy == .socket else {
                throw Refusal(.policyRefused, "uid 0 is refused by router.root_policy=refuse; set router.root_policy: socket and router.root_socket to relay root")
            }
            path = router.rootSocket
        } else {
            path = router.userSocket.replacingPercentD(with: uid)
        }

        // The user owns the directory of their socket and could plant a symlink to
        // someone else's (even the rootful) socket: refuse links, and check below
        // that the daemon that answers runs as the user.
        var st = stat()
        if lstat(path, &st) != 0 {
            throw Refusal(.notFound, uid == 0
                ? "no Docker daemon for root: \(path) (router.root_socket) does not exist"
                : "no rootless Docker daemon for uid \(uid): \(path) does not exist. Start one with dockerd-rootless.sh (or `systemctl --user start docker`)")
        }
        guard st.st_mode & S_IFMT == S_IFSOCK else { throw Refusal(.proofRejected, "\(path) is not a socket (symlinks are refused)") }

        let fd = bh_connect_unix(path)
        guard fd >= 0 else {
            let e = errno
            if e == ECONNREFUSED || e == ENOENT {
                throw Refusal(.notFound, "the Docker daemon for uid \(uid) is not accepting connections at \(path) (is it running?)")
            }
            throw Refusal(.systemError, "connect \(path): \(String(cString: strerror(e)))")
        }
        guard let daemon = PeerCredentials.of(fd: fd), daemon.uid == uid else {
            close(fd)
            throw Refusal(.proofRejected, "the daemon at \(path) does not run as uid \(uid); refusing to relay")
        }
        return fd
    }

    /// The proof must be a live stream connection accepted on the socket this
    /// helper bound at router.listen (checked by the socket file's device and
    /// inode, as the kernel reports it), whose peer per SO_PEERCRED is `uid`,
    /// and which has not been used as a proof before.
    private func checkProof(_ proof: Int32, uid: UInt32) throws(Refusal) {
        var domain: Int32 = 0, type: Int32 = 0
        guard bh_socket_kind(proof, &domain, &type) == 0, domain == AF_UNIX, type == Int32(SOCK_STREAM.rawValue) else {
            throw Refusal(.proofRejected, "the proof fd is not a Unix stream socket")
        }
        var listening: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(proof, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0, listening == 0 else {
            throw Refusal(.proofRejected, "the proof fd is a listening socket, not a connection")
        }
        guard let listener = binder.identity(of: ListenerName.router) else {
            throw Refusal(.notPermittedNow, "router.listen has not been bound by this helper")
        }
        // sock_diag first (no round trip); a connection from a client in another network
        // namespace is not in the helper's, so the inspector asks the kernel by the fd itself.
        guard let bound = SocketFileIdentity.of(socket: proof, diag: diag) ?? inspector?.identity(of: proof), bound == listener else {
            throw Refusal(.proofRejected, "the proof connection was not accepted on router.listen")
        }
        var pfd = pollfd(fd: proof, events: 0, revents: 0)
        if poll(&pfd, 1, 0) > 0, pfd.revents & Int16(POLLHUP) != 0 {
            throw Refusal(.proofRejected, "the proof connection has already hung up")
        }
        guard let peer = PeerCredentials.of(fd: proof) else { throw Refusal(.proofRejected, "the proof fd has no peer credentials") }
        guard peer.uid == uid else {
            throw Refusal(.proofRejected, "the proof connection belongs to uid \(peer.uid), not uid \(uid)")
        }
        guard ledger.spend(proof) else { throw Refusal(.proofRejected, "this proof connection was already used") }
    }
}

extension String {
    func replacingPercentD(with uid: UInt32) -> String {
        let parts = components(separatedBy: "%d")
        return parts.joined(separator: String(uid))
    }
}
