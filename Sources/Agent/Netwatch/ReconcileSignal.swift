/// What the events stream tells the reconcile loop: which containers changed, or
/// that everything must be re-derived (start-up, a reconnect, the periodic check).
/// One waiter at a time: the reconcile loop.
final class ReconcileSignal: Sendable {
    private struct Pending: Sendable {
        var changed = Set<String>()
        var full = false
        var any: Bool { full || !changed.isEmpty }
    }

    private let state = AwaitableState(Pending())

    func containerChanged(_ id: String) { state.update { $0.changed.insert(id) } }
    func requestFull() { state.update { $0.full = true } }

    /// Waits until something is pending, `timeout` passes (then a full pass is due),
    /// or the calling task is cancelled (the service is stopping).
    func wait(timeout: Duration) async {
        let timedOut = await withTaskGroup(of: Bool.self) { race in
            race.addTask { await self.state.wait { $0.any }; return false }
            race.addTask { (try? await Task.sleep(for: timeout)) != nil }
            let first = await race.next() ?? false
            race.cancelAll()
            return first
        }
        if timedOut { requestFull() }
    }

    /// Takes what is pending: (full pass?, changed ids).
    func take() -> (full: Bool, ids: Set<String>) {
        state.withValue { s in
            defer { s = Pending() }
            return (s.full, s.changed)
        }
    }
}
