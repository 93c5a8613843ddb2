import Synchronization

/// A value behind a Mutex that one task at a time may wait on: `update` changes it
/// and wakes the waiter; `wait(until:)` returns once the value is ready or the
/// calling task is cancelled.
final class AwaitableState<Value: Sendable>: Sendable {
    private let state: Mutex<(value: Value, waiter: CheckedContinuation<Void, Never>?)>

    init(_ initial: Value) { state = Mutex((initial, nil)) }

    func update(_ change: (inout Value) -> Void) {
        let waiter = state.withLock { s in
            change(&s.value)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Reads or changes the value without waking the waiter.
    func withValue<Result>(_ body: (inout Value) -> Result) -> Result { state.withLock { body(&$0.value) } }

    func wait(until ready: (Value) -> Bool) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s in
                    if ready(s.value) || Task.isCancelled { return true }
                    s.waiter = waiter
                    return false
                }
                if now { waiter.resume() }
            }
        } onCancel: {
            update { _ in }
        }
    }
}
