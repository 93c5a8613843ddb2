import IPC
import Prometheus
import Synchronization

/// The helper's own counters, asked for at each scrape (`helperCounters`) and
/// republished: the helper keeps counting across agent restarts, so the agent adds
/// what changed since it last asked.
final class HelperMetrics: Sendable {
    private let seen = Mutex(HelperCounters())
    private var registry: PrometheusCollectorRegistry { AgentMetrics.registry }

    private func intents(_ type: String, _ outcome: String) -> Prometheus.Counter {
        registry.makeCounter(descriptor: .named("bulkhead_helper_intents_total", "Requests the helper granted or refused since it started, by request type (undecodable: not even the type could be read)."), labels: [("type", type), ("outcome", outcome)])
    }

    private var restarts: Prometheus.Counter {
        registry.makeCounter(descriptor: .named("bulkhead_helper_agent_restarts_total", "Times the helper started a new agent after the first (crash, kill, binary change)."))
    }

    func update(_ now: HelperCounters) {
        seen.withLock { seen in
            for type in RequestType.allCases {
                let before = seen.byType[type] ?? .init(), after = now.byType[type] ?? .init()
                add(after.granted, over: before.granted, to: intents(type.description, "granted"))
                add(after.refused, over: before.refused, to: intents(type.description, "refused"))
            }
            add(now.undecodable, over: seen.undecodable, to: intents("undecodable", "refused"))
            add(now.agentRestarts, over: seen.agentRestarts, to: restarts)
            seen = now
        }
    }

    private func add(_ after: UInt64, over before: UInt64, to counter: Prometheus.Counter) {
        counter.increment(by: Int64(clamping: after >= before ? after - before : after))
    }
}
