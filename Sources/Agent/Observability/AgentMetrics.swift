import Foundation
import Metrics
import Prometheus
import LogSetup

/// The agent's one metrics registry, served at /metrics. Metrics are declared with
/// their help text through swift-prometheus (promtool flags a metric without HELP);
/// swift-metrics' global system is bootstrapped onto the same registry, so metrics
/// a library records through swift-metrics appear there too.
enum AgentMetrics {
    static let registry = PrometheusCollectorRegistry()

    /// Once, when the agent starts serving.
    static func bootstrap() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        info.set(to: 1)
        startTime.set(to: Date().timeIntervalSince1970)
    }

    static let info = registry.makeGauge(descriptor: .named("bulkhead_agent_info", "Always 1; the labels say which agent build runs."), labels: [("version", BulkheadVersion.number), ("revision", BulkheadVersion.revision ?? "unknown")])
    static let startTime = registry.makeGauge(descriptor: .named("bulkhead_agent_start_time_seconds", "When this agent process started, in seconds since the Unix epoch."))

    static func serviceUp(_ service: String) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: .named("bulkhead_service_up", "1 when the service works (as /healthz reports it), 0 when it does not."), labels: [("service", service)])
    }
}

extension MetricNameDescriptor {
    /// A metric by its full name (bulkhead_<service>_<what>_<unit>) and its HELP text.
    static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
