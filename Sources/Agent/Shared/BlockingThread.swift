#if canImport(Glibc)
import Glibc
#endif

/// A detached OS thread for the few blocking loops the agent has (libssh, the splice
/// loops, the metrics accept loop, the audit scanner, the helper link's hang-up watch),
/// kept off the SwiftNIO event loops.
final class BlockingThread: @unchecked Sendable {
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let box = Unmanaged.passRetained(self).toOpaque()
        var handle = pthread_t()
        let rc = pthread_create(&handle, &attributes, { raw in
            let thread = Unmanaged<BlockingThread>.fromOpaque(raw!).takeRetainedValue()
            thread.body()
            return nil
        }, box)
        pthread_attr_destroy(&attributes)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }
}
