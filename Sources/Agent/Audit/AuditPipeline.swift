import Config
import Dispatch
import Foundation
import Logging
import SecretScan
import Synchronization

/// Where audited bytes go: a bounded queue drained by one scanner thread, which
/// owns every stream's `SecretStream` and writes the audit file. The proxy never
/// waits for a scan; when the queue is full it either pauses the upstream
/// connection (`block`: no event lost) or drops the bytes and records how many
/// (`drop`).
final class AuditPipeline: Sendable {
    enum Work: Sendable {
        case open(stream: UInt64, connection: UInt64, container: String, source: String)
        case data(stream: UInt64, kind: String, bytes: [UInt8])
        case protocolError(stream: UInt64, detail: String)
        case close(stream: UInt64)
        /// A request the API allow-list kept from the daemon.
        case apiRefused(connection: UInt64, method: String, target: String, reason: String)
    }

    private struct State {
        var queue: [Work] = []
        var head = 0
        var waiters: [@Sendable () -> Void] = []
        var dropped: [UInt64: [String: Int]] = [:]
    }

    private let state = Mutex(State())
    private let ready = DispatchSemaphore(value: 0)
    private let capacity: Int
    private let policy: AuditSection.QueueFull
    private let scanner: AuditScanner
    private let nextID = Atomic<UInt64>(1)

    init(
        ruleSet: RuleSet, log: AuditLogFile, capacity: Int, policy: AuditSection.QueueFull, baseline: Set<String> = [], logger: Logger
    ) {
        self.capacity = capacity
        self.policy = policy
        self.scanner = AuditScanner(ruleSet: ruleSet, log: log, baseline: baseline, logger: logger)
        BlockingThread { [self] in drain() }.start()
    }

    /// Work items waiting for the scanner now.
    var depth: Int { state.withLock { $0.queue.count - $0.head } }

    func newStreamID() -> UInt64 { nextID.add(1, ordering: .relaxed).oldValue }

    /// Queues work. Returns false when the caller must pause until `whenRoom` runs
    /// (block policy, queue full). Control work (open/close/errors) is never dropped.
    @discardableResult
    func submit(_ work: Work, whenRoom: @escaping @Sendable () -> Void) -> Bool {
        let (accepted, full) = state.withLock { s -> (Bool, Bool) in
            let depth = s.queue.count - s.head
            if case .data(let stream, let kind, let bytes) = work, policy == .drop, depth >= capacity {
                s.dropped[stream, default: [:]][kind, default: 0] += bytes.count
                AuditMetrics.droppedBytes.increment(by: Int64(bytes.count))
                return (false, false)
            }
            s.queue.append(work)
            AuditMetrics.queueDepth.set(to: Double(depth + 1))
            let full = policy == .block && depth + 1 >= capacity
            if full { s.waiters.append(whenRoom) }
            return (true, full)
        }
        if accepted { ready.signal() }
        return !full
    }

    private func drain() {
        while true {
            ready.wait()
            let (work, wake, dropped) = state.withLock { s -> (Work?, [@Sendable () -> Void], [String: Int]?) in
                guard s.head < s.queue.count else { return (nil, [], nil) }
                let w = s.queue[s.head]
                s.head += 1
                AuditMetrics.queueDepth.set(to: Double(s.queue.count - s.head))
                if s.head > 4096, s.head * 2 > s.queue.count { s.queue.removeFirst(s.head); s.head = 0 }
                var wake: [@Sendable () -> Void] = []
                if s.queue.count - s.head <= capacity / 2 { wake = s.waiters; s.waiters.removeAll() }
                var dropped: [String: Int]?
                if case .close(let stream) = w { dropped = s.dropped.removeValue(forKey: stream) }
                return (w, wake, dropped)
            }
            wake.forEach { $0() }
            guard let work else { continue }
            if let dropped, case .close(let stream) = work { scanner.recordDropped(stream: stream, bytes: dropped) }
            scanner.handle(work)
        }
    }
}

/// The scanner thread's state: one SecretStream per (stream, kind).
final class AuditScanner: @unchecked Sendable {
    private let ruleSet: RuleSet
    private let log: AuditLogFile
    private let logger: Logger
    private typealias Stream = (connection: UInt64, container: String, source: String, scanners: [String: SecretStream])
    private var streams: [UInt64: Stream] = [:]

    /// Fingerprints of secret events already known (`audit.baseline`): not recorded again.
    private let baseline: Set<String>

    init(ruleSet: RuleSet, log: AuditLogFile, baseline: Set<String> = [], logger: Logger) {
        self.ruleSet = ruleSet; self.log = log; self.baseline = baseline; self.logger = logger
    }

    func handle(_ work: AuditPipeline.Work) {
        switch work {
        case .open(let id, let connection, let container, let source):
            streams[id] = (connection, container, source, [:])
        case .data(let id, let kind, let bytes):
            guard var entry = streams[id] else { return }
            let scanner = entry.scanners[kind] ?? SecretStream(ruleSet: ruleSet)
            entry.scanners[kind] = scanner
            streams[id] = entry
            let findings = bytes.withUnsafeBytes { scanner.scan($0) }
            AuditMetrics.scannedBytes.increment(by: Int64(bytes.count))
            for f in findings { record(f, entry, kind) }
        case .protocolError(let id, let detail):
            guard let entry = streams[id] else { return }
            AuditMetrics.protocolErrors.increment()
            logger.warning("protocol error in an audited stream", metadata: [
                "conn": .stringConvertible(entry.connection), "container": "\(entry.container)", "detail": "\(detail)"])
            log.write(event: "protocol_error", fields: [
                ("container_id", entry.container), ("source", entry.source), ("detail", detail), ("severity", "medium")])
        case .apiRefused(let connection, let method, let target, let reason):
            log.write(event: "api_refused", fields: [
                ("connection", String(connection)), ("method", method), ("target", target), ("reason", reason), ("severity", "medium")])
        case .close(let id):
            guard let entry = streams.removeValue(forKey: id) else { return }
            for (kind, scanner) in entry.scanners.sorted(by: { $0.key < $1.key }) {
                for f in scanner.finish() { record(f, entry, kind) }
            }
        }
    }

    func recordDropped(stream id: UInt64, bytes: [String: Int]) {
        guard let entry = streams[id] else { return }
        for (kind, count) in bytes.sorted(by: { $0.key < $1.key }) {
            logger.warning("audit queue full: bytes not scanned", metadata: [
                "conn": .stringConvertible(entry.connection), "container": "\(entry.container)", "stream_type": "\(kind)",
                "bytes": .stringConvertible(count)])
            log.write(event: "dropped", fields: [
                ("container_id", entry.container), ("source", entry.source), ("stream_type", kind),
                ("dropped_bytes", String(count)), ("severity", "medium")])
        }
    }

    private func record(_ f: Finding, _ entry: Stream, _ kind: String) {
        let fingerprint = Self.fingerprint(f, container: entry.container, streamType: kind)
        guard !baseline.contains(fingerprint) else { return }
        AuditMetrics.findings(rule: f.ruleID, severity: f.severity.rawValue).increment()
        log.write(event: "secret", fields: [
            ("container_id", entry.container), ("stream_type", kind), ("source", entry.source),
            ("pattern", f.ruleID), ("redacted_match", f.redacted), ("severity", f.severity.rawValue), ("fingerprint", fingerprint)])
    }

    /// A secret event's identity: the rule, the container, the stream and the redacted
    /// form, so that `docker logs` read again, or a restarted container's attach, give the
    /// same fingerprint for the same secret (`audit.baseline` silences them).
    static func fingerprint(_ f: Finding, container: String, streamType: String) -> String {
        Fingerprint.make(domain: "bulkhead-audit-v1", [f.ruleID, container, streamType, f.redacted])
    }
}
