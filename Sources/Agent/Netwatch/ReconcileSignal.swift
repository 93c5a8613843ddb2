import Synchronization

/// What the events stream tells the reconcile loop: which containers changed, or
/// that everything must be re-derived (start-up, a reconnect, the periodic check).
/// One waiter at a time: the reconcile loop.
final class ReconcileSignal: Sendable {
    private struct State {
        var changed = Set<String>()
        var full = false
        var waiter: CheckedContinuation<Void, Never>?
        var pending: Bool { full || !changed.isEmpty }
    }

    private let state = Mutex(State())

    func containerChanged(_ id: String) { wake { $0.changed.insert(id) } }
    func requestFull() { wake { $0.full = true } }

    /// Waits until something is pending, `timeout` passes (then a full pass is due),
    /// or the calling task is cancelled (the service is stopping).
    func wait(timeout: Duration) async {
        let timedOut = await withTaskGroup(of: Bool.self) { race in
            race.addTask { await self.pending(); return false }
            race.addTask { (try? await Task.sleep(for: timeout)) != nil }
            let first = await race.next() ?? false
            race.cancelAll()
            return first
        }
        if timedOut { requestFull() }
    }

    /// Takes what is pending: (full pass?, changed ids).
    func take() -> (full: Bool, ids: Set<String>) {
        state.withLock { s in
            defer { s.changed = []; s.full = false }
            return (s.full, s.changed)
        }
    }

    /// Returns once something is pending or the calling task is cancelled.
    private func pending() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s in
                    if s.pending || Task.isCancelled { return true }
                    s.waiter = waiter
                    return false
                }
                if now { waiter.resume() }
            }
        } onCancel: {
            wake { _ in }
        }
    }

    private func wake(_ change: (inout State) -> Void) {
        let waiter = state.withLock { s in
            change(&s)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }
}
