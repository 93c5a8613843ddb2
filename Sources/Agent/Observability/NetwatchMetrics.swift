import Prometheus

/// netwatch's metrics (README: Metrics).
enum NetwatchMetrics {
    private static var registry: PrometheusCollectorRegistry { AgentMetrics.registry }

    /// `pass`: full or changes.
    static func syncDuration(_ pass: String) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: .named("bulkhead_netwatch_sync_duration_seconds", "Time of one reconcile pass (runtime query, rule rendering, helper commit), by pass: full or changes."), labels: [("pass", pass)],
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10)])
    }
    static let syncFailures = registry.makeCounter(descriptor: .named("bulkhead_netwatch_sync_failures_total", "Reconcile passes that failed (runtime unreachable, helper refusal); each is retried."))
    static let rulesOwned = registry.makeGauge(descriptor: .named("bulkhead_netwatch_rules_owned", "Rules in the helper's chains after the last full pass."))
    static let containers = registry.makeGauge(descriptor: .named("bulkhead_netwatch_containers", "Watched containers after the last full pass."))
    static let repairs = registry.makeCounter(descriptor: .named("bulkhead_netwatch_repairs_total", "Container chains a pass found changed behind its back (e.g. flushed) and rewrote."))
    static let eventStreamReconnects = registry.makeCounter(descriptor: .named("bulkhead_netwatch_event_stream_reconnects_total", "Times the runtime's events stream ended or failed and was opened again."))

    /// After a commit: the helper's summary ("written=1 removed=0 unchanged=9 repaired=0 ...")
    /// gives the repairs; a full pass also gives the rules and containers now owned.
    static func record(summary: String, rules: Int?, containers: Int?) {
        for field in summary.split(separator: " ") where field.hasPrefix("repaired=") {
            if let n = Int64(field.dropFirst("repaired=".count)), n > 0 { repairs.increment(by: n) }
        }
        if let rules { rulesOwned.set(to: Double(rules)) }
        if let containers { self.containers.set(to: Double(containers)) }
    }

    /// Every series, at zero, so that a scrape sees them before the first pass.
    static func prepare() {
        _ = (syncFailures, rulesOwned, containers, repairs, eventStreamReconnects)
        for pass in ["full", "changes"] { _ = syncDuration(pass) }
    }
}
