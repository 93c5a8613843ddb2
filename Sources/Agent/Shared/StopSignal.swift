import Synchronization

/// A one-way stop for one child task that must end before its group does: `stop()`
/// from anywhere; `stopped()` returns then, or when its own task is cancelled.
final class StopSignal: Sendable {
    private let state = Mutex<(stopped: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func stop() { wake { $0 = true } }

    /// One waiter at a time.
    func stopped() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s in
                    if s.stopped || Task.isCancelled { return true }
                    s.waiter = waiter
                    return false
                }
                if now { waiter.resume() }
            }
        } onCancel: {
            wake { _ in }
        }
    }

    private func wake(_ change: (inout Bool) -> Void) {
        let waiter = state.withLock { s in
            change(&s.stopped)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }
}
