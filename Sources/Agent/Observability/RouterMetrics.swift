import Prometheus

/// The router's metrics (README: Metrics).
enum RouterMetrics {
    private static var registry: PrometheusCollectorRegistry { AgentMetrics.registry }

    static let relay = RelayMetrics(
        service: "router", activeHelp: "Client connections open now (relayed, or being answered with an error).",
        outcomes: ["relayed", "refused", "over_limit", "helper_unavailable", "no_credentials"],
        outcomesHelp: "Client connections accepted, by outcome: relayed, refused, over_limit, helper_unavailable, no_credentials.")

    /// One refused connection of `uid`; `reason` is the refusal code or over_limit.
    static func userRefusals(uid: UInt32, reason: String) -> Prometheus.Counter {
        registry.makeCounter(descriptor: .named("bulkhead_router_user_refusals_total", "Connections refused, by caller uid and reason (the helper's refusal code, or over_limit)."), labels: [("uid", String(uid)), ("reason", reason)])
    }

    /// Every series with a fixed label set, at zero, so that a scrape sees them before the first connection.
    static func prepare() {
        _ = relay
    }
}
