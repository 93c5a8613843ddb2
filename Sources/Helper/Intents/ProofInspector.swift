import CCap
import CFDPass
import CProcess
import IPC
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Tells which socket file a proof connection was accepted on when sock_diag cannot:
/// a client in another network namespace (a container that bind-mounts the router
/// socket) makes the accepted socket live in that namespace, which the helper's
/// sock_diag does not see. The kernel's SIOCUNIXFILE answers for any namespace but
/// needs CAP_NET_ADMIN. Rather than give the helper that capability, this child holds
/// it alone: forked before the sandbox, running as the helper's account with
/// CAP_NET_ADMIN and nothing else, under a filter of its own whose only ioctl is
/// SIOCUNIXFILE. It receives a socket the helper has already checked (AF_UNIX, stream,
/// not listening), and answers with the file's identity or an errno. Nothing else.
final class ProofInspector {
    let pid: pid_t
    private let channel: PacketChannel
    /// Echoed in each answer, so an answer that came too late for its question is
    /// never taken for the next one's.
    private var sequence: UInt32 = 0

    private init(pid: pid_t, channel: PacketChannel) { self.pid = pid; self.channel = channel }

    static func start(as account: Account, logger: Logger) throws(SystemCallError) -> ProofInspector {
        let (ours, theirs) = try PacketChannel.pair()
        let pid = try ChildFork.start(keeping: theirs.fd) {
            InspectorProcess(channel: PacketChannel(fd: 3), logger: logger).run(as: account)
        }
        theirs.close()
        return ProofInspector(pid: pid, channel: ours)
    }

    /// The socket file `socket` is bound to, or nil if it has none or the inspector is gone.
    func identity(of socket: Int32) -> SocketFileIdentity? {
        sequence &+= 1
        var question = WireWriter()
        question.u32(sequence)
        guard (try? channel.sendRaw(question.bytes, fd: socket, nonBlocking: true)) != nil else { return nil }
        let deadline = Monotonic.now + 2
        while Monotonic.now < deadline {
            var pfd = pollfd(fd: channel.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32((deadline - Monotonic.now) * 1000) + 1) == 1,
                  let received = try? channel.receive(limit: 20), !received.isEndOfStream else { return nil }
            if received.fd >= 0 { close(received.fd) }
            var r = WireReader(received.record[...])
            guard let echoed = try? r.u32(), echoed == sequence else { continue }  // a late answer to an earlier question
            guard let status = try? r.u32(), status == 0, let inode = try? r.u32(), let major = try? r.u32(), let minor = try? r.u32() else { return nil }
            return SocketFileIdentity(inode: inode, deviceMajor: major, deviceMinor: minor)
        }
        return nil
    }
}

/// The inspector's loop, in the forked child.
private struct InspectorProcess {
    let channel: PacketChannel
    let logger: Logger

    func run(as account: Account) -> Never {
        do {
            try PrivilegeDrop.toDedicatedChild(account, keeping: [cap_value_t(CAP_NET_ADMIN)], passOn: false)
            try Sandbox.installInspector()
        } catch {
            logger.critical("proof inspector cannot restrict itself", metadata: ["error": "\(error)"])
            _exit(70)
        }
        while true {
            guard let received = try? channel.receive(limit: 4), !received.isEndOfStream else { _exit(0) }
            var w = WireWriter()
            var question = WireReader(received.record[...])
            w.u32((try? question.u32()) ?? 0)
            if received.fd < 0 {
                w.u32(UInt32(EINVAL))
            } else {
                let file = bh_unix_socket_file(received.fd)
                let e = errno
                close(received.fd)
                var st = stat()
                if file >= 0, fstat(file, &st) == 0 {
                    let identity = SocketFileIdentity(st)
                    w.u32(0); w.u32(identity.inode); w.u32(identity.deviceMajor); w.u32(identity.deviceMinor)
                } else {
                    w.u32(UInt32(file >= 0 ? errno : e))
                }
                if file >= 0 { close(file) }
            }
            guard (try? channel.sendRaw(w.bytes)) != nil else { _exit(0) }
        }
    }
}
