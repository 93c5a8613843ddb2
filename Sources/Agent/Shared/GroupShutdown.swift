import ServiceLifecycle
import Synchronization

/// Lets a service ask the group it runs in for a graceful shutdown without returning.
/// A service that returns while the group is already shutting down, before its own
/// turn, makes the group fail (`serviceFinishedUnexpectedly`), so a service that sees
/// the end coming asks here and then waits for its turn.
final class GroupShutdown: Sendable {
    private let group = Mutex<ServiceGroup?>(nil)

    func attach(_ serviceGroup: ServiceGroup) {
        group.withLock { $0 = serviceGroup }
    }

    /// Does nothing more when a shutdown is already under way.
    func request() async {
        await group.withLock { $0 }?.triggerGracefulShutdown()
    }
}
