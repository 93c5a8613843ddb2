/// The helper's whole request vocabulary: typed intents, never rule text, shell
/// words or free paths. Each case has a fixed wire type, an exact payload shape,
/// and says whether it must carry exactly one fd.
///
/// To add an intent: a case here, its `RequestType`, encode/decode arms, a
/// handler in the helper, and a negative test in BoundaryTests.
public enum Request: Equatable, Sendable {
    /// First message of a session: the agent's protocol version. Reply: the config.
    case hello(protocolVersion: UInt8)
    /// Bind and listen on the Unix socket the helper's config names `name` (path, mode,
    /// owner are the helper's). Reply: the listening socket.
    case bindUnixListener(name: ListenerName)
    /// Bind and listen on the TCP socket the helper's config names `name`. Reply: not
    /// the listener but an accept channel (`AcceptChannel`), which replaces any earlier one.
    case bindTCPListener(name: ListenerName)
    /// Connect to the Docker socket of `uid`. Carries the client connection as proof:
    /// the helper reads its SO_PEERCRED itself and refuses unless it is `uid`.
    case connectUserDockerSocket(uid: UInt32)
    /// Connect to the upstream socket the helper's config gives service `name`
    /// (the audit proxy's `audit.upstream`: rootful Docker, so brokered, never opened by the agent).
    case connectUpstream(name: ListenerName)
    /// Add container rule sets to the pending netfilter batch (nothing is applied yet).
    case netfilterStage(sets: [ContainerRuleSet])
    /// Apply the pending batch atomically to the helper's own chains, or discard it on
    /// any error. With `.replaceAll`, containers not in the batch lose their chains.
    case netfilterCommit(mode: NetfilterCommitMode)
    /// Apply the policy routing the helper's config declares (idempotent).
    case policyRoutingApply
    /// i2p: create the endpoint's veth pair (host end addressed as its gateway, peer
    /// route to the endpoint, forwarding and IPv6 off) after its drop rules exist.
    /// Idempotent. Refused unless both addresses are inside one of `i2p.subnets`.
    case i2pLinkUp(endpoint: I2PEndpoint)
    /// i2p: delete the endpoint's veth pair and its rules (unknown keys: nothing to do).
    case i2pLinkDown(key: EndpointKey)
    /// i2p: these endpoints are the whole desired state: rules re-rendered for exactly
    /// them, every other plugin link deleted. `keepBase` keeps the drop chains with no
    /// endpoint (a plugin network exists); without it and endpoints, they are removed.
    case i2pConverge(endpoints: [I2PEndpoint], keepBase: Bool)
    /// The helper's own counters (`HelperCounters`), for the agent's metrics. Read-only.
    case helperCounters

    /// For logs: a stage is summarized, not listed rule by rule. Spelled out per
    /// case: the helper logs every request, and reflection ("\(self)") cost a
    /// third of a connection's round trip.
    public var logDescription: String {
        switch self {
        case .hello(let version): "hello(protocolVersion: \(version))"
        case .bindUnixListener(let name): "bindUnixListener(name: \(name.rawValue))"
        case .bindTCPListener(let name): "bindTCPListener(name: \(name.rawValue))"
        case .connectUserDockerSocket(let uid): "connectUserDockerSocket(uid: \(uid))"
        case .connectUpstream(let name): "connectUpstream(name: \(name.rawValue))"
        case .netfilterStage(let sets): "netfilterStage(containers: \(sets.count), rules: \(sets.reduce(0) { $0 + $1.rules.count }))"
        case .netfilterCommit(let mode): "netfilterCommit(mode: \(mode))"
        case .policyRoutingApply: "policyRoutingApply"
        case .i2pLinkUp: "\(self)"
        case .i2pLinkDown(let key): "i2pLinkDown(key: \(key.rawValue))"
        case .i2pConverge(let endpoints, let keepBase): "i2pConverge(endpoints: \(endpoints.count), keepBase: \(keepBase))"
        case .helperCounters: "helperCounters"
        }
    }

    public var type: RequestType {
        switch self {
        case .hello: .hello
        case .bindUnixListener: .bindUnixListener
        case .bindTCPListener: .bindTCPListener
        case .connectUserDockerSocket: .connectUserDockerSocket
        case .connectUpstream: .connectUpstream
        case .netfilterStage: .netfilterStage
        case .netfilterCommit: .netfilterCommit
        case .policyRoutingApply: .policyRoutingApply
        case .i2pLinkUp: .i2pLinkUp
        case .i2pLinkDown: .i2pLinkDown
        case .i2pConverge: .i2pConverge
        case .helperCounters: .helperCounters
        }
    }

    public func encodePayload() -> [UInt8] {
        var w = WireWriter()
        switch self {
        case .hello(let v): w.u8(v)
        case .bindUnixListener(let name), .bindTCPListener(let name), .connectUpstream(let name): w.string(name.rawValue)
        case .connectUserDockerSocket(let uid): w.u32(uid)
        case .netfilterStage(let sets): ContainerRuleSet.encode(sets, &w)
        case .netfilterCommit(let mode): w.u8(mode.rawValue)
        case .policyRoutingApply, .helperCounters: break
        case .i2pLinkUp(let endpoint): endpoint.encode(&w)
        case .i2pLinkDown(let key): w.string(key.rawValue)
        case .i2pConverge(let endpoints, let keepBase):
            I2PEndpoint.encodeList(endpoints, &w); w.u8(keepBase ? 1 : 0)
        }
        return w.bytes
    }

    /// Decodes and validates a request frame. Throws for an unknown type, a payload
    /// of the wrong shape, or an fd where none belongs / none where one must be.
    public static func decode(_ frame: Frame, hasFD: Bool) throws(IPCError) -> Request {
        guard let type = RequestType(rawValue: frame.type) else { throw .unknownType(frame.type) }
        guard hasFD == type.carriesFD else {
            throw .malformed(type.carriesFD ? "\(type) needs exactly one proof fd" : "\(type) carries no fd")
        }
        var r = WireReader(frame.payload[...])
        let request: Request
        switch type {
        case .hello:
            request = .hello(protocolVersion: try r.u8())
        case .bindUnixListener, .bindTCPListener, .connectUpstream:
            let raw = try r.string(max: ListenerName.maxLength)
            guard let name = ListenerName(raw) else { throw .malformed("invalid name \(raw.debugDescription)") }
            switch type {
            case .bindUnixListener: request = .bindUnixListener(name: name)
            case .bindTCPListener: request = .bindTCPListener(name: name)
            default: request = .connectUpstream(name: name)
            }
        case .connectUserDockerSocket:
            request = .connectUserDockerSocket(uid: try r.u32())
        case .netfilterStage:
            request = .netfilterStage(sets: try ContainerRuleSet.decodeList(&r))
        case .netfilterCommit:
            guard let mode = NetfilterCommitMode(rawValue: try r.u8()) else { throw .malformed("unknown commit mode") }
            request = .netfilterCommit(mode: mode)
        case .policyRoutingApply:
            request = .policyRoutingApply
        case .i2pLinkUp:
            request = .i2pLinkUp(endpoint: try I2PEndpoint.decode(&r))
        case .i2pLinkDown:
            request = .i2pLinkDown(key: try EndpointKey.decode(&r))
        case .i2pConverge:
            let endpoints = try I2PEndpoint.decodeList(&r)
            let flag = try r.u8()
            guard flag <= 1 else { throw .malformed("keepBase must be 0 or 1") }
            request = .i2pConverge(endpoints: endpoints, keepBase: flag == 1)
        case .helperCounters:
            request = .helperCounters
        }
        try r.finish()
        return request
    }
}

public enum RequestType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 0x0001
    case bindUnixListener = 0x0101
    case bindTCPListener = 0x0102
    case connectUserDockerSocket = 0x0201
    case connectUpstream = 0x0202
    case netfilterStage = 0x0301
    case netfilterCommit = 0x0302
    case policyRoutingApply = 0x0303
    case i2pLinkUp = 0x0401
    case i2pLinkDown = 0x0402
    case i2pConverge = 0x0403
    case helperCounters = 0x0501

    public var carriesFD: Bool { self == .connectUserDockerSocket }

    public var description: String {
        switch self {
        case .hello: "hello"
        case .bindUnixListener: "bindUnixListener"
        case .bindTCPListener: "bindTCPListener"
        case .connectUserDockerSocket: "connectUserDockerSocket"
        case .connectUpstream: "connectUpstream"
        case .netfilterStage: "netfilterStage"
        case .netfilterCommit: "netfilterCommit"
        case .policyRoutingApply: "policyRoutingApply"
        case .i2pLinkUp: "i2pLinkUp"
        case .i2pLinkDown: "i2pLinkDown"
        case .i2pConverge: "i2pConverge"
        case .helperCounters: "helperCounters"
        }
    }
}
