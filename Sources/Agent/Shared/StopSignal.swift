/// A one-way stop for one child task that must end before its group does: `stop()`
/// from anywhere; `stopped()` returns then, or when its own task is cancelled.
final class StopSignal: Sendable {
    private let state = AwaitableState(false)

    func stop() { state.update { $0 = true } }

    /// One waiter at a time.
    func stopped() async { await state.wait { $0 } }
}
