/// What the events stream tells the reconcile loop: which containers changed, or
/// that everything must be re-derived (start-up, a reconnect, the periodic check).
actor ReconcileSignal {
    private var changed = Set<String>()
    private var full = false
    private var waiter: CheckedContinuation<Void, Never>?

    func containerChanged(_ id: String) { changed.insert(id); wake() }
    func requestFull() { full = true; wake() }

    /// Waits until something is pending, `timeout` passes (then a full pass is due),
    /// or the calling task is cancelled (the service is stopping).
    func wait(timeout: Duration) async {
        if full || !changed.isEmpty || Task.isCancelled { return }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { self.timedOut() }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { waiter = $0 }
        } onCancel: {
            Task { await self.wake() }
        }
        timer.cancel()
    }

    /// Takes what is pending: (full pass?, changed ids).
    func take() -> (full: Bool, ids: Set<String>) {
        defer { changed = []; full = false }
        return (full, changed)
    }

    private func timedOut() { full = true; wake() }

    private func wake() {
        waiter?.resume()
        waiter = nil
    }
}
