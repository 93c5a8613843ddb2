import Synchronization

/// Counts the router's open connections, per uid against
/// `router.max_connections_per_user` and all together against
/// `router.max_connections`. A connection holds its slot until it is closed,
/// including one that is only being answered with a refusal.
final class ConnectionLimiter: Sendable {
    enum Admission { case admitted, userFull, allFull }

    let perUser: Int
    let total: Int
    private let counts = Mutex<(perUser: [UInt32: Int], all: Int)>(([:], 0))

    init(perUser: Int, total: Int) { self.perUser = perUser; self.total = total }

    /// Takes a slot for `uid`, unless the user or everyone together is at the limit.
    func acquire(_ uid: UInt32) -> Admission {
        counts.withLock { counts in
            let current = counts.perUser[uid, default: 0]
            guard current < perUser else { return .userFull }
            guard counts.all < total else { return .allFull }
            counts.perUser[uid] = current + 1
            counts.all += 1
            return .admitted
        }
    }

    func release(_ uid: UInt32) {
        counts.withLock { counts in
            let remaining = counts.perUser[uid, default: 1] - 1
            counts.perUser[uid] = remaining > 0 ? remaining : nil
            counts.all = max(0, counts.all - 1)
        }
    }

    var open: Int { counts.withLock { $0.all } }
}

/// A small fixed number of "over the limit" answers in flight. Past it, a new
/// connection is closed at once: the limit answers must not become the leak.
final class OverflowAnswers: Sendable {
    private let free: Mutex<Int>

    init(_ capacity: Int) { free = Mutex(capacity) }

    func take() -> Bool { free.withLock { n in n > 0 ? { n -= 1; return true }() : false } }
    func giveBack() { free.withLock { $0 += 1 } }
}
