import Config
import IPC
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Decodes, validates and answers one agent session's requests. Like OpenSSH's
/// monitor, it tracks what is permitted now: `hello` first and once, everything
/// else only after it. Any refusal is logged and has no effect.
final class RequestHandler {
    private let binder: ListenerBinder
    private let connector: DockerSocketConnector
    private let upstreams: UpstreamConnector
    private let configDocument: [UInt8]
    private let netfilter: NetfilterState?
    private let policyRouting: PolicyRoutingApplier?
    private let i2p: I2PService?
    private let logger: Logger
    /// `hello` was received in this session.
    private(set) var greeted = false
    /// Granted and refused requests since the helper started, across agent sessions.
    private var counters = HelperCounters()

    init(
        binder: ListenerBinder, connector: DockerSocketConnector, upstreams: UpstreamConnector, configDocument: [UInt8],
        netfilter: NetfilterState?, policyRouting: PolicyRoutingApplier?, i2p: I2PService?, logger: Logger
    ) {
        self.binder = binder; self.connector = connector; self.upstreams = upstreams
        self.configDocument = configDocument; self.netfilter = netfilter; self.policyRouting = policyRouting
        self.i2p = i2p; self.logger = logger
    }

    /// A new agent session starts un-greeted, with nothing staged.
    func resetSession() {
        greeted = false
        binder.tcp.closeChannels()
        netfilter?.resetSession()
    }

    /// Handles one received record and returns the reply frame with the fd to
    /// attach (or -1). Consumes (closes) any fd that came with the record.
    func handle(_ received: PacketChannel.Received) -> (Frame, Int32) {
        defer { if received.fd >= 0 { close(received.fd) } }
        var id: UInt32 = 0
        var type: RequestType?
        do throws(Refusal) {
            if received.truncated { throw Refusal(.oversized, "request larger than \(Frame.maxRequestSize) bytes") }
            if received.fdProblem { throw Refusal(.malformed, "request carried more than one fd or cut control data") }
            let frame: Frame
            let request: Request
            do throws(IPCError) {
                frame = try Frame.decode(received.record[...], expected: .request)
                id = frame.id
                type = RequestType(rawValue: frame.type)
                request = try Request.decode(frame, hasFD: received.fd >= 0)
            } catch {
                throw Refusal(error.refusal, error.description)
            }
            let (payload, fd) = try perform(request, proof: received.fd)
            counters.byType[request.type, default: .init()].granted += 1
            // Scrapes ask for the counters every few seconds: not worth a line each.
            logger.log(level: request == .helperCounters ? .debug : .info, "granted", metadata: ["request": "\(request.logDescription)", "id": "\(id)"])
            return (Reply.ok(payload: payload).frame(id: id), fd)
        } catch {
            if let type { counters.byType[type, default: .init()].refused += 1 } else { counters.undecodable += 1 }
            logger.warning("refused", metadata: ["code": .stringConvertible(error.code), "reason": "\(error.message)", "id": "\(id)"])
            return (Reply.refused(error).frame(id: id), -1)
        }
    }

    private func perform(_ request: Request, proof: Int32) throws(Refusal) -> ([UInt8], Int32) {
        switch request {
        case .hello(let version):
            guard !greeted else { throw Refusal(.notPermittedNow, "hello was already received in this session") }
            guard version == Frame.version else { throw Refusal(.unsupportedVersion, "agent speaks protocol \(version), helper \(Frame.version)") }
            greeted = true
            counters.agentSessions += 1
            return (configDocument, -1)
        case .bindUnixListener(let name):
            try requireGreeting(request)
            return ([], try binder.socket(named: name, unix: true))
        case .bindTCPListener(let name):
            try requireGreeting(request)
            return ([], try binder.socket(named: name, unix: false))
        case .connectUserDockerSocket(let uid):
            try requireGreeting(request)
            return ([], try connector.connect(uid: uid, proof: proof))
        case .connectUpstream(let name):
            try requireGreeting(request)
            return ([], try upstreams.connect(name))
        case .netfilterStage(let sets):
            try requireGreeting(request)
            try requireNetwatch().stage(sets)
            return ([], -1)
        case .netfilterCommit(let mode):
            try requireGreeting(request)
            return (Array(try requireNetwatch().commit(mode).utf8), -1)
        case .policyRoutingApply:
            try requireGreeting(request)
            guard let policyRouting else { throw Refusal(.notPermittedNow, "netwatch is not enabled in the helper's config") }
            return (Array(try policyRouting.apply().utf8), -1)
        case .i2pLinkUp(let endpoint):
            try requireGreeting(request)
            return (Array(try requireI2P().linkUp(endpoint).utf8), -1)
        case .i2pLinkDown(let key):
            try requireGreeting(request)
            return (Array(try requireI2P().linkDown(key).utf8), -1)
        case .i2pConverge(let endpoints, let keepBase):
            try requireGreeting(request)
            return (Array(try requireI2P().converge(endpoints, keepBase: keepBase).utf8), -1)
        case .helperCounters:
            try requireGreeting(request)
            return (counters.encode(), -1)
        }
    }

    private func requireI2P() throws(Refusal) -> I2PService {
        guard let i2p else { throw Refusal(.notPermittedNow, "i2p is not enabled in the helper's config") }
        return i2p
    }

    private func requireNetwatch() throws(Refusal) -> NetfilterState {
        guard let netfilter else { throw Refusal(.notPermittedNow, "netwatch is not enabled in the helper's config") }
        return netfilter
    }

    private func requireGreeting(_ request: Request) throws(Refusal) {
        guard greeted else { throw Refusal(.notPermittedNow, "\(request.type) before hello") }
    }
}
