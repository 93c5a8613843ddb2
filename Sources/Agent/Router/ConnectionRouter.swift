import Config
import IPC
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
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
    /// Waits for the helper when it is busy with another request (see `route`).
    private let connector = NIOThreadPool(numberOfThreads: 1)
    private let logger: Logger

    /// "Over the limit" answers that may be in flight at once.
    static let overflowAnswers = 32

    init(config: RouterSection, helper: HelperClient, group: any EventLoopGroup, logger: Logger) {
        self.helper = helper
        self.limiter = ConnectionLimiter(perUser: config.maxConnectionsPerUser, total: config.maxConnections)
        self.group = group
        self.splice = SpliceRelay(threads: SpliceRelay.defaultThreads, fallback: group, logger: logger)
        connector.start()
        self.logger = logger
    }

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
            RouterMetrics.relay.connections("no_credentials").increment()
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
        RouterMetrics.relay.active.increment()
        let release: @Sendable () -> Void = { limiter.release(peer.uid); RouterMetrics.relay.active.decrement() }
        let admitted = Admitted(client: client, uid: peer.uid, log: log, started: started, asked: .now, release: release)
        do {
            if let upstream = try helper.connectUserDockerSocketIfIdle(uid: peer.uid, client: client) {
                relay(admitted, upstream: upstream)
                return
            }
        } catch {
            refuse(admitted, error)
            return
        }
        // Another request is in flight (a netfilter commit can take a while): wait for
        // the helper on the connector thread, so this loop's relays keep moving.
        connector.submit { [self] _ in
            do {
                relay(admitted, upstream: try helper.connectUserDockerSocket(uid: peer.uid, client: client))
            } catch {
                refuse(admitted, error)
            }
        }
    }

    /// A connection within the limits, waiting for its upstream.
    private struct Admitted: Sendable {
        let client: Int32
        let uid: UInt32
        let log: Logger
        let started: ContinuousClock.Instant
        let asked: ContinuousClock.Instant
        let release: @Sendable () -> Void
    }

    private func relay(_ admitted: Admitted, upstream: Int32) {
        let answered = ContinuousClock.now
        admitted.log.debug("relaying")
        RouterMetrics.relay.connections("relayed").increment()
        splice.start(client: admitted.client, upstream: upstream) { totals in
            admitted.release()
            RouterMetrics.relay.relayed(toDaemon: totals.fromClient, toClient: totals.toClient)
            var metadata = totals.metadata(since: admitted.started)
            // A new connection's set-up: accepted to upstream connected, and the helper's share.
            metadata["setup_us"] = .stringConvertible((answered - admitted.started).microseconds)
            metadata["helper_us"] = .stringConvertible((answered - admitted.asked).microseconds)
            admitted.log.info("connection closed", metadata: metadata)
        }
    }

    private func refuse(_ admitted: Admitted, _ error: any Error) {
        let (log, client, release) = (admitted.log, admitted.client, admitted.release)
        if let refusal = error as? Refusal {
            log.warning("refused", metadata: ["code": .stringConvertible(refusal.code), "reason": "\(refusal.message)"])
            RouterMetrics.relay.connections("refused").increment()
            RouterMetrics.userRefusals(uid: admitted.uid, reason: refusal.code.description).increment()
            HTTPErrorResponder.respond(on: client, status: Self.status(for: refusal.code), message: "bulkhead router: \(refusal.message)",
                                       group: group, onClosed: release)
        } else {
            log.error("helper unavailable", metadata: ["error": "\(error)"])
            RouterMetrics.relay.connections("helper_unavailable").increment()
            HTTPErrorResponder.respond(on: client, status: .badGateway, message: "bulkhead router: the privileged helper is unavailable",
                                       group: group, onClosed: release)
        }
    }

    private func countOverLimit(_ uid: UInt32) {
        RouterMetrics.relay.connections("over_limit").increment()
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
