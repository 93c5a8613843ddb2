import Prometheus

/// The audit proxy's metrics (README: Metrics).
enum AuditMetrics {
    private static var registry: PrometheusCollectorRegistry { AgentMetrics.registry }

    static func findings(rule: String, severity: String) -> Prometheus.Counter {
        registry.makeCounter(descriptor: .named("bulkhead_audit_findings_total", "Secrets found in audited streams (after the baseline), by rule and severity."), labels: [("rule", rule), ("severity", severity)])
    }
    static let scannedBytes = registry.makeCounter(descriptor: .named("bulkhead_audit_scanned_bytes_total", "Bytes of log, attach and exec output scanned for secrets."))
    static let queueDepth = registry.makeGauge(descriptor: .named("bulkhead_audit_queue_depth", "Work items waiting for the scanner thread (audit.queue_size is the most)."))
    static let droppedBytes = registry.makeCounter(descriptor: .named("bulkhead_audit_dropped_bytes_total", "Bytes passed through unscanned because the queue was full (audit.queue_full: drop)."))
    static let protocolErrors = registry.makeCounter(descriptor: .named("bulkhead_audit_protocol_errors_total", "Streams whose Docker framing could not be parsed (their bytes still pass)."))
    static let relay = RelayMetrics(
        service: "audit", activeHelp: "Client connections open now.", outcomes: ["relayed", "upstream_unavailable"],
        outcomesHelp: "Client connections accepted, by outcome: relayed or upstream_unavailable.")

    /// The client chooses the method: any other becomes "other", so a client cannot mint series.
    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"]

    static func apiRefusals(method: String) -> Prometheus.Counter {
        registry.makeCounter(descriptor: .named("bulkhead_audit_api_refusals_total", "Requests refused with 403 by the API allow-list (audit.allow, audit.profile), by method."), labels: [("method", method)])
    }

    /// Every series with a fixed label set, at zero, so that a scrape sees them before the first connection.
    static func prepare() {
        _ = (scannedBytes, queueDepth, droppedBytes, protocolErrors, relay)
    }
}
