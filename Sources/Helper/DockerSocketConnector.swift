import CFDPass
import Config
import IPC
#if canImport(Glibc)
import Glibc
#endif

/// `connectUserDockerSocket(uid)`: connects to the Docker socket that belongs to
/// `uid`, after proving that `uid` really is at the other end of the client
/// connection the agent hands over. Every path comes from the helper's config.
struct DockerSocketConnector {
    let router: RouterSection?

    func connect(uid: UInt32, proof: Int32) throws(Refusal) -> Int32 {
        guard let router, router.enabled else { throw Refusal(.notPermittedNow, "the router is not enabled in the helper's config") }
        try checkProof(proof, uid: uid, listen: router.listen)

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

    /// The proof must be a stream connection accepted on the router's own socket,
    /// whose peer (per the kernel, not the agent) is `uid`.
    private func checkProof(_ proof: Int32, uid: UInt32, listen: String) throws(Refusal) {
        var domain: Int32 = 0, type: Int32 = 0
        guard bh_socket_kind(proof, &domain, &type) == 0, domain == AF_UNIX, type == Int32(SOCK_STREAM.rawValue) else {
            throw Refusal(.proofRejected, "the proof fd is not a Unix stream socket")
        }
        var buffer = [CChar](repeating: 0, count: 128)
        let n = bh_unix_socket_path(proof, &buffer, buffer.count)
        let local = n > 0 ? String(decoding: buffer.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        guard local == listen else {
            throw Refusal(.proofRejected, "the proof connection was not accepted on router.listen (\(listen))")
        }
        guard let peer = PeerCredentials.of(fd: proof) else { throw Refusal(.proofRejected, "the proof fd has no peer credentials") }
        guard peer.uid == uid else {
            throw Refusal(.proofRejected, "the proof connection belongs to uid \(peer.uid), not uid \(uid)")
        }
    }
}

extension String {
    func replacingPercentD(with uid: UInt32) -> String {
        let parts = components(separatedBy: "%d")
        return parts.joined(separator: String(uid))
    }
}
