import Config
import IPC
import Logging
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

/// Decides what happens to each accepted connection: relay it to the caller's
/// own Docker daemon (through a socket the helper connects after checking the
/// caller's SO_PEERCRED itself), or answer with a clear Docker-style error.
final class ConnectionRouter: Sendable {
    private let helper: HelperClient
    private let limiter: ConnectionLimiter
    private let overflow = OverflowAnswers(ConnectionRouter.overflowAnswers)
    private let group: any EventLoopGroup
    private let splice: SpliceRelay
    private let logger: Logger

    /// "Over the limit" answers that may be in flight at once.
    static let overflowAnswers = 32

    init(config: RouterSection, helper: HelperClient, group: any EventLoopGroup, logger: Logger) {
        self.helper = helper
        self.limiter = ConnectionLimiter(perUser: config.maxConnectionsPerUser, total: config.maxConnections)
        self.group = group
        self.splice = SpliceRelay(threads: Self.spliceThreads, fallback: group, logger: logger)
        self.logger = logger
    }

    /// Threads that accept and move relayed bytes (in the kernel, with splice):
    /// one per core, at most two, since sender and receiver need the cores too.
    static let spliceThreads = min(2, System.coreCount)

    /// Accepts on `listener` (already listening) until `stopAccepting()`.
    func startAccepting(_ listener: Int32) {
        splice.accept(on: listener) { [self] in route($0) }
    }

    func stopAccepting() { splice.stopAccepting() }

    var liveConnections: Int { limiter.open }

    /// Runs on the splice loop that accepted `client`; owns it from here on.
    func route(_ client: Int32) {
        let started = ContinuousClock.now
        var (log, _) = ConnectionID.tagged(logger)
        guard let peer = PeerCredentials.of(fd: client) else {
            log.warning("connection without peer credentials; closed")
            RouterMetrics.connections("no_credentials").increment()
            close(client)
            return
        }
        log[metadataKey: "uid"] = .stringConvertible(peer.uid)
        log[metadataKey: "pid"] = .stringConvertible(peer.pid)

        switch limiter.acquire(peer.uid) {
        case .admitted:
            break
        case .userFull:
            countOverLimit(peer.uid)
            answerOverLimit(client, log: log, status: .tooManyRequests,
                            message: "bulkhead router: uid \(peer.uid) already has \(limiter.perUser) open connections (router.max_connections_per_user)")
            return
        case .allFull:
            countOverLimit(peer.uid)
            answerOverLimit(client, log: log, status: .serviceUnavailable,
                            message: "bulkhead router: \(limiter.total) connections are open, the most it serves at once (router.max_connections); try again")
            return
        }
        let limiter = self.limiter
        // A refused connection keeps its slot until its answer is done, so refusals
        // count against the same limits as relayed connections.
        RouterMetrics.active.increment()
        let release: @Sendable () -> Void = { limiter.release(peer.uid); RouterMetrics.active.decrement() }
        let upstream: Int32
        let asked = ContinuousClock.now
        do {
            upstream = try helper.connectUserDockerSocket(uid: peer.uid, client: client)
        } catch let refusal as Refusal {
            log.warning("refused", metadata: ["code": .stringConvertible(refusal.code), "reason": "\(refusal.message)"])
            RouterMetrics.connections("refused").increment()
            RouterMetrics.userRefusals(uid: peer.uid, reason: refusal.code.description).increment()
            HTTPErrorResponder.respond(on: client, status: Self.status(for: refusal.code), message: "bulkhead router: \(refusal.message)",
                                       group: group, onClosed: release)
            return
        } catch {
            log.error("helper unavailable", metadata: ["error": "\(error)"])
            RouterMetrics.connections("helper_unavailable").increment()
            HTTPErrorResponder.respond(on: client, status: .badGateway, message: "bulkhead router: the privileged helper is unavailable",
                                       group: group, onClosed: release)
            return
        }
        let answered = ContinuousClock.now
        log.debug("relaying")
        let connectionLog = log
        RouterMetrics.connections("relayed").increment()
        splice.start(client: client, upstream: upstream) { totals in
            release()
            RouterMetrics.bytes("to_daemon").increment(by: Int64(totals.fromClient))
            RouterMetrics.bytes("to_client").increment(by: Int64(totals.toClient))
            var metadata = totals.metadata(since: started)
            // A new connection's set-up: accepted to upstream connected, and the helper's share.
            metadata["setup_us"] = .stringConvertible((answered - started).microseconds)
            metadata["helper_us"] = .stringConvertible((answered - asked).microseconds)
            connectionLog.info("connection closed", metadata: metadata)
        }
    }

    private func countOverLimit(_ uid: UInt32) {
        RouterMetrics.connections("over_limit").increment()
        RouterMetrics.userRefusals(uid: uid, reason: "over_limit").increment()
    }

    /// Answers from the small overflow pool, or closes at once when it is empty.
    private func answerOverLimit(_ client: Int32, log: Logger, status: HTTPResponseStatus, message: String) {
        guard overflow.take() else {
            log.debug("closed at once: over the limit and the overflow answers are all in use")
            close(client)
            return
        }
        log.warning("refused: over the connection limit", metadata: ["status": "\(status.code)"])
        let overflow = self.overflow
        HTTPErrorResponder.respond(on: client, status: status, message: message, group: group, onClosed: { overflow.giveBack() })
    }

    static func status(for code: RefusalCode) -> HTTPResponseStatus {
        switch code {
        case .proofRejected, .policyRefused: .forbidden
        case .notFound: .serviceUnavailable
        default: .badGateway
        }
    }
}
