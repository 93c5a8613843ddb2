import Foundation
import Synchronization

/// What the running agent knows about its services, for /healthz, /status and
/// `bulkhead-agent status`. Each service has named checks (its listener, a remote's
/// link, the runtime's events stream...) and facts (open connections, queue depth).
/// A service is healthy when it has at least one check and every check passes.
final class StatusBoard: Sendable {
    static let shared = StatusBoard()

    struct Check: Sendable, Equatable {
        var healthy: Bool
        /// A short word: listening, up, down, watching, unreachable, ok, failed...
        var state: String
        /// Why, for a failing check (the error as the log has it).
        var detail: String?
        var since: Date
        /// When it was last reported, changed or not.
        var updated = Date()
    }

    private struct Entry {
        var checks: [String: Check] = [:]
        var healthy = false
        var healthySince = Date()
        var facts: (@Sendable () -> [String: StatusFact])?
        var probe: (@Sendable () -> Void)?
    }

    private let entries = Mutex<[String: Entry]>([:])
    let started = Date()

    /// A service that runs in this agent: it counts as failing ("starting") until it reports.
    func expect(_ service: String) {
        entries.withLock { if $0[service] == nil { $0[service] = Entry() } }
        AgentMetrics.serviceUp(service).set(to: 0)
    }

    /// Sets a check; its `since` moves only when its health or state changes.
    func set(_ service: String, _ check: String, healthy: Bool, state: String, detail: String? = nil) {
        let up = entries.withLock { entries -> Bool in
            var entry = entries[service] ?? Entry()
            let previous = entry.checks[check]
            let since = previous.map { $0.healthy == healthy && $0.state == state ? $0.since : Date() } ?? Date()
            entry.checks[check] = Check(healthy: healthy, state: state, detail: detail, since: since)
            let nowHealthy = entry.checks.values.allSatisfy(\.healthy)
            if nowHealthy != entry.healthy { entry.healthy = nowHealthy; entry.healthySince = Date() }
            entries[service] = entry
            return nowHealthy
        }
        AgentMetrics.serviceUp(service).set(to: up ? 1 : 0)
    }

    /// Seconds since the check was last reported; nil before its first report.
    func age(_ service: String, _ check: String) -> TimeInterval? {
        entries.withLock { $0[service]?.checks[check].map { Date().timeIntervalSince($0.updated) } }
    }

    /// Live facts, read at each status request (they must not block).
    func facts(_ service: String, _ read: @escaping @Sendable () -> [String: StatusFact]) {
        entries.withLock { $0[service, default: Entry()].facts = read }
    }

    /// A check that must ask something (it may block briefly): run on a thread-pool
    /// thread before each health or status answer.
    func probe(_ service: String, _ run: @escaping @Sendable () -> Void) {
        entries.withLock { $0[service, default: Entry()].probe = run }
    }

    func runProbes() {
        for probe in entries.withLock({ $0.values.compactMap(\.probe) }) { probe() }
    }

    struct ServiceReport: Sendable {
        var name: String
        var healthy: Bool
        var since: Date
        var checks: [(name: String, check: Check)]
        var facts: [(name: String, value: StatusFact)]
    }

    func snapshot() -> [ServiceReport] {
        entries.withLock { $0 }.sorted { $0.key < $1.key }.map { name, entry in
            let healthy = entry.healthy && !entry.checks.isEmpty
            return ServiceReport(
                name: name, healthy: healthy, since: entry.checks.isEmpty ? started : entry.healthySince,
                checks: entry.checks.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                facts: (entry.facts?() ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
    }
}

/// A number or a word in a service's status; JSON gives it as it is.
enum StatusFact: Sendable, Equatable, Codable {
    case count(Int)
    case seconds(Double)
    case text(String)

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self) { self = .count(n) }
        else if let d = try? c.decode(Double.self) { self = .seconds(d) }
        else { self = .text(try c.decode(String.self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .count(let n): try c.encode(n)
        case .seconds(let d): try c.encode((d * 1000).rounded() / 1000)
        case .text(let t): try c.encode(t)
        }
    }

    var text: String {
        switch self {
        case .count(let n): "\(n)"
        case .seconds(let d): StatusDocument.duration(d)
        case .text(let t): t
        }
    }
}
