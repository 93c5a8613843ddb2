import Logging
import Synchronization

/// Writes status.json (atomically) whenever its content changes.
final class I2PStatusWriter: Sendable {
    let path: String
    let logger: Logger
    private let last = Mutex<[UInt8]>([])

    init(path: String, logger: Logger) { self.path = path; self.logger = logger }

    func write(_ status: I2PStatus) {
        let bytes = status.json()
        guard last.withLock({ $0 != bytes }) else { return }
        do {
            try AtomicFile.write(bytes, to: path)
            last.withLock { $0 = bytes }
        } catch {
            logger.error("cannot write the status file", metadata: ["error": "\(error)"])
        }
    }
}
