import Prometheus

/// What a service that relays client connections to a daemon counts of them
/// (README: Metrics): `bulkhead_<service>_connections_active`,
/// `bulkhead_<service>_connections_total` by outcome and
/// `bulkhead_<service>_relayed_bytes_total` by direction.
struct RelayMetrics: Sendable {
    let active: Prometheus.Gauge
    private let connectionCounters: LabelledCounters
    private let byteCounters: LabelledCounters

    /// `outcomes`: the values of the connections' `outcome` label, made at zero.
    init(service: String, activeHelp: String, outcomes: [String], outcomesHelp: String) {
        active = AgentMetrics.registry.makeGauge(descriptor: .named("bulkhead_\(service)_connections_active", activeHelp))
        connectionCounters = LabelledCounters(
            "bulkhead_\(service)_connections_total", help: outcomesHelp, label: "outcome", values: outcomes)
        byteCounters = LabelledCounters(
            "bulkhead_\(service)_relayed_bytes_total", help: "Bytes relayed, by direction: to_daemon (from clients) or to_client.",
            label: "direction", values: ["to_daemon", "to_client"])
    }

    /// `outcome`: one of the outcomes it was made with.
    func connections(_ outcome: String) -> Prometheus.Counter { connectionCounters[outcome] }

    /// A closed connection's bytes: `toDaemon` what its client sent, `toClient` what it got.
    func relayed(toDaemon: some BinaryInteger, toClient: some BinaryInteger) {
        byteCounters["to_daemon"].increment(by: Int64(toDaemon))
        byteCounters["to_client"].increment(by: Int64(toClient))
    }
}
