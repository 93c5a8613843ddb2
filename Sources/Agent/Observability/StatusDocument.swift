import Foundation
import LogSetup

/// The answer of /status, and what `bulkhead-agent status` prints: the agent, and
/// per service whether it works, since when, its checks and its facts.
struct StatusDocument: Codable, Sendable {
    struct Check: Codable, Sendable {
        var name: String
        var healthy: Bool
        var state: String
        var detail: String?
        var since: String
        var forSeconds: Double

        enum CodingKeys: String, CodingKey { case name, healthy, state, detail, since, forSeconds = "for_seconds" }
    }

    struct Service: Codable, Sendable {
        var name: String
        var healthy: Bool
        /// ok, failing, or starting (no check reported yet).
        var state: String
        var since: String
        var forSeconds: Double
        var checks: [Check]
        var facts: [String: StatusFact]

        enum CodingKeys: String, CodingKey { case name, healthy, state, since, forSeconds = "for_seconds", checks, facts }
    }

    var version: String
    var pid: Int32
    var startedAt: String
    var uptimeSeconds: Double
    var healthy: Bool
    var services: [Service]

    enum CodingKeys: String, CodingKey {
        case version, pid, startedAt = "started_at", uptimeSeconds = "uptime_seconds", healthy, services
    }

    init(board: StatusBoard, now: Date = Date()) {
        let seconds = { (since: Date) in (now.timeIntervalSince(since) * 1000).rounded() / 1000 }
        version = BulkheadVersion.line
        pid = getpid()
        startedAt = Self.timestamp(board.started)
        uptimeSeconds = seconds(board.started)
        services = board.snapshot().map { report in
            Service(
                name: report.name, healthy: report.healthy,
                state: report.checks.isEmpty ? "starting" : report.healthy ? "ok" : "failing",
                since: Self.timestamp(report.since), forSeconds: seconds(report.since),
                checks: report.checks.map { name, check in
                    Check(name: name, healthy: check.healthy, state: check.state, detail: check.detail,
                          since: Self.timestamp(check.since), forSeconds: seconds(check.since))
                },
                facts: Dictionary(report.facts.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }))
        }
        healthy = services.allSatisfy(\.healthy)
    }

    private static func timestamp(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        return ConsoleLogHandler.timestamp(unixSeconds: Int(t), milliseconds: Int32((t - t.rounded(.down)) * 1000))
    }

    /// The services that do not work, for /healthz's 503.
    var failing: [Service] { services.filter { !$0.healthy } }

    static func decode(_ bytes: [UInt8]) throws -> StatusDocument {
        try JSONDecoder().decode(StatusDocument.self, from: Data(bytes))
    }

    func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? Array("{}".utf8)
    }

    /// One line for the agent, then per service a line and one indented line per check.
    func text() -> String {
        var lines = ["\(version), pid \(pid), up \(Self.duration(uptimeSeconds)): "
                     + (healthy ? "all services ok" : "FAILING: " + failing.map(\.name).joined(separator: ", "))]
        for service in services {
            let facts = service.facts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.text)" }.joined(separator: " ")
            lines.append("\(service.name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(service.state == "ok" ? "ok" : service.state.uppercased()) for \(Self.duration(service.forSeconds))"
                         + (facts.isEmpty ? "" : "  (\(facts))"))
            for check in service.checks {
                lines.append("  \(check.name): \(check.state) for \(Self.duration(check.forSeconds))" + (check.detail.map { ": \($0)" } ?? ""))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// 0.4s, 12s, 3m05s, 2h07m, 3d04h.
    static func duration(_ seconds: Double) -> String {
        if seconds < 10 { return String(format: "%.1fs", max(0, seconds)) }
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        if s < 86400 { return String(format: "%dh%02dm", s / 3600, s % 3600 / 60) }
        return String(format: "%dd%02dh", s / 86400, s % 86400 / 3600)
    }
}
