import Prometheus

/// The ssh service's metrics, per remote (README: Metrics).
enum SSHMetrics {
    private static var registry: PrometheusCollectorRegistry { AgentMetrics.registry }

    static func linkUp(_ remote: String) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: .named("bulkhead_ssh_link_up", "1 while the remote's SSH connection is up, else 0."), labels: [("remote", remote)])
    }
    static func connectionsOpen(_ remote: String) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: .named("bulkhead_ssh_connections_open", "SSH connections to the remote that are up (more than 1 only when the server capped sessions per connection)."), labels: [("remote", remote)])
    }
    static func reconnects(_ remote: String) -> Prometheus.Counter {
        registry.makeCounter(descriptor: .named("bulkhead_ssh_reconnects_total", "Times the remote's SSH connection came up again after it was lost."), labels: [("remote", remote)])
    }
    static func connectFailures(_ remote: String) -> Prometheus.Counter {
        registry.makeCounter(descriptor: .named("bulkhead_ssh_connect_failures_total", "SSH connection attempts to the remote that failed."), labels: [("remote", remote)])
    }
    static func channelsActive(_ remote: String) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: .named("bulkhead_ssh_channels_active", "Client connections open on the remote's local socket (one SSH channel each)."), labels: [("remote", remote)])
    }
    /// `outcome`: opened, or refused (the client got a 502 naming the cause).
    static func channels(_ remote: String, _ outcome: String) -> Prometheus.Counter {
        registry.makeCounter(descriptor: .named("bulkhead_ssh_channels_total", "Client connections, by outcome: opened (an SSH channel carried it) or refused."), labels: [("remote", remote), ("outcome", outcome)])
    }
    static func bytes(_ remote: String, _ direction: String) -> Prometheus.Counter {
        registry.makeCounter(descriptor: .named("bulkhead_ssh_relayed_bytes_total", "Bytes carried, by remote and direction: to_daemon (from clients) or to_client."), labels: [("remote", remote), ("direction", direction)])
    }

    /// The remote's series, at zero, so that a scrape sees them before the first connection.
    static func prepare(_ remote: String) {
        _ = (linkUp(remote), connectionsOpen(remote), reconnects(remote), connectFailures(remote), channelsActive(remote))
        for outcome in ["opened", "refused"] { _ = channels(remote, outcome) }
        for direction in ["to_daemon", "to_client"] { _ = bytes(remote, direction) }
    }
}
