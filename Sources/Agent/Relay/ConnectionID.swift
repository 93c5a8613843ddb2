import Logging
import Synchronization

/// One number per client connection, unique across the agent's services, in every log
/// line about that connection (`conn`): `grep 'conn=42 '` or `jq 'select(.conn == 42)'`
/// shows a connection's whole story.
enum ConnectionID {
    private static let next = Atomic<UInt64>(1)

    static func new() -> UInt64 { next.add(1, ordering: .relaxed).oldValue }

    /// `logger` with a new connection's id; the id is returned too, for what the
    /// connection hands on (the audit pipeline's streams).
    static func tagged(_ logger: Logger) -> (Logger, UInt64) {
        let id = new()
        var tagged = logger
        tagged[metadataKey: "conn"] = .stringConvertible(id)
        return (tagged, id)
    }
}
