/// The helper's answer to `helperCounters`: what it has granted and refused since it
/// started, by request type, and how many agent sessions it has greeted. The agent
/// only republishes these as metrics; they never steer the helper.
public struct HelperCounters: Equatable, Sendable {
    public struct Outcomes: Equatable, Sendable {
        public var granted: UInt64 = 0
        public var refused: UInt64 = 0
        public init(granted: UInt64 = 0, refused: UInt64 = 0) { self.granted = granted; self.refused = refused }
    }

    /// Requests whose type could be read. Frames that could not be decoded far enough
    /// to know their type are counted in `undecodable`.
    public var byType: [RequestType: Outcomes] = [:]
    public var undecodable: UInt64 = 0
    /// Agent sessions that completed `hello`: the first agent, then one per restart.
    public var agentSessions: UInt64 = 0

    public init() {}

    public var agentRestarts: UInt64 { agentSessions > 0 ? agentSessions - 1 : 0 }

    public func encode() -> [UInt8] {
        var w = WireWriter()
        w.u64(agentSessions)
        w.u64(undecodable)
        w.u16(UInt16(byType.count))
        for (type, outcomes) in byType.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            w.u16(type.rawValue); w.u64(outcomes.granted); w.u64(outcomes.refused)
        }
        return w.bytes
    }

    public static func decode(_ payload: [UInt8]) throws(IPCError) -> HelperCounters {
        var r = WireReader(payload[...])
        var counters = HelperCounters()
        counters.agentSessions = try r.u64()
        counters.undecodable = try r.u64()
        let count = Int(try r.u16())
        guard count <= RequestType.allCases.count else { throw .malformed("\(count) request types in counters") }
        for _ in 0..<count {
            guard let type = RequestType(rawValue: try r.u16()) else { throw .malformed("unknown request type in counters") }
            counters.byType[type] = Outcomes(granted: try r.u64(), refused: try r.u64())
        }
        try r.finish()
        return counters
    }
}
