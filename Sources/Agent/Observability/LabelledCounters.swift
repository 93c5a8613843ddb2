import Prometheus

/// One counter family whose label takes a known set of values, each series made
/// once: a hot path (a connection closing) then counts without a registry
/// lookup, which takes a lock and hashes the labels. The series exist at zero
/// from the start. A value outside the set still counts, through the registry.
struct LabelledCounters: Sendable {
    private let counters: [String: Prometheus.Counter]
    private let make: @Sendable (String) -> Prometheus.Counter

    init(_ name: String, help: String, label: String, values: [String]) {
        let make: @Sendable (String) -> Prometheus.Counter = { value in
            AgentMetrics.registry.makeCounter(descriptor: .named(name, help), labels: [(label, value)])
        }
        self.make = make
        counters = Dictionary(uniqueKeysWithValues: values.map { ($0, make($0)) })
    }

    subscript(_ value: String) -> Prometheus.Counter { counters[value] ?? make(value) }
}
