import Logging
import Synchronization

/// At most `burst` lines per `window` (what containers can trigger at will must not
/// flood the log); the next line after a quiet period says how many were left out.
final class LogThrottle: Sendable {
    let logger: Logger
    let burst: Int
    let window: Duration
    private let state = Mutex<(start: ContinuousClock.Instant, used: Int, skipped: Int)>((.now, 0, 0))

    init(logger: Logger, burst: Int = 20, window: Duration = .seconds(60)) {
        self.logger = logger; self.burst = burst; self.window = window
    }

    func warning(_ message: String, metadata: Logger.Metadata = [:]) {
        let skipped: Int? = state.withLock { s in
            let now = ContinuousClock.now
            if now - s.start >= window { s = (now, 0, s.skipped) }
            guard s.used < burst else { s.skipped += 1; return nil }
            s.used += 1
            defer { s.skipped = 0 }
            return s.skipped
        }
        guard let skipped else { return }
        var metadata = metadata
        if skipped > 0 { metadata["lines_left_out"] = .stringConvertible(skipped) }
        logger.warning("\(message)", metadata: metadata)
    }
}
