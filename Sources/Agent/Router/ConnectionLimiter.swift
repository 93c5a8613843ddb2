import Synchronization

/// Counts live connections per uid against `router.max_connections_per_user`.
final class ConnectionLimiter: Sendable {
    private let limit: Int
    private let counts = Mutex<[UInt32: Int]>([:])

    init(limit: Int) { self.limit = limit }

    /// Takes a slot for `uid`; false when the user is at the limit.
    func acquire(_ uid: UInt32) -> Bool {
        counts.withLock { counts in
            let current = counts[uid, default: 0]
            guard current < limit else { return false }
            counts[uid] = current + 1
            return true
        }
    }

    func release(_ uid: UInt32) {
        counts.withLock { counts in
            let remaining = counts[uid, default: 1] - 1
            counts[uid] = remaining > 0 ? remaining : nil
        }
    }

    var total: Int { counts.withLock { $0.values.reduce(0, +) } }
}
