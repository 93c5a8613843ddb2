import Config
import Foundation
import IPC
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The agent's side of the boundary: typed requests, one at a time, each answered
/// by exactly one reply. Calls block briefly, so they are made from the agent's own
/// threads (the accept thread, service start-up), never from a SwiftNIO event loop.
final class HelperClient: Sendable {
    private let channel: PacketChannel
    /// The last request id and the reply buffer, both used only under the lock.
    private let state = Mutex<(id: UInt32, buffer: [UInt8])>((1, []))

    init(fd: Int32) { channel = PacketChannel(fd: fd) }

    var fd: Int32 { channel.fd }

    /// The session's first call: the helper answers with the effective config.
    func hello() throws -> BulkheadConfig {
        let (payload, _) = try call(.hello(protocolVersion: Frame.version))
        return try JSONDecoder().decode(BulkheadConfig.self, from: Data(payload))
    }

    func bindUnixListener(_ name: ListenerName) throws -> Int32 {
        try requireFD(try call(.bindUnixListener(name: name)), for: "bindUnixListener(\(name))")
    }

    /// `client` is the accepted connection, shown to the helper as proof of `uid`.
    func connectUserDockerSocket(uid: UInt32, client: Int32) throws -> Int32 {
        try requireFD(try call(.connectUserDockerSocket(uid: uid), fd: client), for: "connectUserDockerSocket(\(uid))")
    }

    /// A connection to service `name`'s configured upstream (the audit proxy's Docker socket).
    func connectUpstream(_ name: ListenerName) throws -> Int32 {
        try requireFD(try call(.connectUpstream(name: name)), for: "connectUpstream(\(name))")
    }

    /// The accept channel of TCP listener `name`: one accepted connection per record.
    func bindTCPListener(_ name: ListenerName) throws -> Int32 {
        try requireFD(try call(.bindTCPListener(name: name)), for: "bindTCPListener(\(name))")
    }

    /// What the helper has granted and refused since it started (for /metrics).
    func counters() throws -> HelperCounters {
        try HelperCounters.decode(try call(.helperCounters).0)
    }

    private func requireFD(_ result: ([UInt8], Int32), for what: String) throws -> Int32 {
        guard result.1 >= 0 else { throw Refusal(.systemError, "helper answered \(what) without a socket") }
        return result.1
    }

    /// `connectUserDockerSocket`, but only when no other call is in flight (then the
    /// helper is idle and answers at once); nil when one is.
    func connectUserDockerSocketIfIdle(uid: UInt32, client: Int32) throws -> Int32? {
        let request = Request.connectUserDockerSocket(uid: uid)
        guard let result = try state.withLockIfAvailable({ state in try exchange(request, fd: client, &state) }) else { return nil }
        return try requireFD(result, for: "connectUserDockerSocket(\(uid))")
    }

    /// Sends one request and waits for its reply. Throws `Refusal` for a typed refusal.
    func call(_ request: Request, fd: Int32 = -1) throws -> ([UInt8], Int32) {
        try state.withLock { state in try exchange(request, fd: fd, &state) }
    }

    private func exchange(_ request: Request, fd: Int32, _ state: inout (id: UInt32, buffer: [UInt8])) throws -> ([UInt8], Int32) {
        state.id &+= 1
        let id = state.id
        try channel.send(Frame(kind: .request, type: request.type.rawValue, id: id, payload: request.encodePayload()), fd: fd)
        let received = try channel.receive(limit: Frame.maxReplySize, reusing: &state.buffer)
        guard !received.isEndOfStream else { throw HelperGone() }
        let frame = try Frame.decode(received.record[...], expected: .reply)
        guard frame.id == id else {
            if received.fd >= 0 { close(received.fd) }
            throw Refusal(.malformed, "reply id \(frame.id) does not match request id \(id)")
        }
        switch try Reply.decode(frame) {
        case .ok(let payload): return (payload, received.fd)
        case .refused(let refusal):
            if received.fd >= 0 { close(received.fd) }
            throw refusal
        }
    }
}

struct HelperGone: Error, CustomStringConvertible {
    var description: String { "the helper closed the IPC channel" }
}
