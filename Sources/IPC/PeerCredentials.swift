import CFDPass

/// Who is at the other end of a connected AF_UNIX socket, as the kernel recorded
/// it at connect(2) time (SO_PEERCRED). Never what the peer claims.
public struct PeerCredentials: Equatable, Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32

    public init(uid: UInt32, gid: UInt32, pid: Int32) { self.uid = uid; self.gid = gid; self.pid = pid }

    public static func of(fd: Int32) -> PeerCredentials? {
        var uid: UInt32 = 0, gid: UInt32 = 0, pid: Int32 = 0
        guard bh_peer_cred(fd, &uid, &gid, &pid) == 0 else { return nil }
        return PeerCredentials(uid: uid, gid: gid, pid: pid)
    }
}
