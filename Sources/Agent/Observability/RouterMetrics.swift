import Prometheus

/// The router's metrics (README: Metrics).
enum RouterMetrics {
    private static var registry: PrometheusCollectorRegistry { AgentMetrics.registry }

    static let active = registry.makeGauge(descriptor: .named("bulkhead_router_connections_active", "Client connections open now (relayed, or being answered with an error)."))

    static let outcomes = ["relayed", "refused", "over_limit", "helper_unavailable", "no_credentials"]
    static let directions = ["to_daemon", "to_client"]
    private static let connectionCounters = LabelledCounters(
        "bulkhead_router_connections_total",
        help: "Client connections accepted, by outcome: relayed, refused, over_limit, helper_unavailable, no_credentials.",
        label: "outcome", values: outcomes)
    private static let byteCounters = LabelledCounters(
        "bulkhead_router_relayed_bytes_total", help: "Bytes relayed, by direction: to_daemon (from clients) or to_client.",
        label: "direction", values: directions)

    /// `outcome`: one of `outcomes`.
    static func connections(_ outcome: String) -> Prometheus.Counter { connectionCounters[outcome] }

    /// `direction`: to_daemon (what clients sent) or to_client.
    static func bytes(_ direction: String) -> Prometheus.Counter { byteCounters[direction] }

    /// One refused connection of `uid`; `reason` is the refusal code or over_limit.
    static func userRefusals(uid: UInt32, reason: String) -> Prometheus.Counter {
        registry.makeCounter(descriptor: .named("bulkhead_router_user_refusals_total", "Connections refused, by caller uid and reason (the helper's refusal code, or over_limit)."), labels: [("uid", String(uid)), ("reason", reason)])
    }

    /// Every series with a fixed label set, at zero, so that a scrape sees them before the first connection.
    static func prepare() {
        _ = (active, connectionCounters, byteCounters)
    }
}
