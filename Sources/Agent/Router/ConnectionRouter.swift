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
    private let group: any EventLoopGroup
    private let logger: Logger
    private let limit: Int

    init(config: RouterSection, helper: HelperClient, group: any EventLoopGroup, logger: Logger) {
        self.helper = helper
        self.limiter = ConnectionLimiter(limit: config.maxConnectionsPerUser)
        self.limit = config.maxConnectionsPerUser
        self.group = group
        self.logger = logger
    }

    var liveConnections: Int { limiter.total }

    /// Runs on the accept thread; owns `client` from here on.
    func route(_ client: Int32) {
        guard let peer = PeerCredentials.of(fd: client) else {
            logger.warning("connection without peer credentials; closed")
            close(client)
            return
        }
        let started = ContinuousClock.now
        var log = logger
        log[metadataKey: "uid"] = "\(peer.uid)"
        log[metadataKey: "pid"] = "\(peer.pid)"

        guard limiter.acquire(peer.uid) else {
            log.warning("refused: too many connections", metadata: ["limit": "\(limit)"])
            HTTPErrorResponder.respond(
                on: client, status: .tooManyRequests,
                message: "bulkhead router: uid \(peer.uid) already has \(limit) open connections (router.max_connections_per_user)",
                group: group)
            return
        }
        let upstream: Int32
        do {
            upstream = try helper.connectUserDockerSocket(uid: peer.uid, client: client)
        } catch let refusal as Refusal {
            limiter.release(peer.uid)
            log.warning("refused", metadata: ["code": "\(refusal.code)", "reason": "\(refusal.message)"])
            HTTPErrorResponder.respond(on: client, status: Self.status(for: refusal.code), message: "bulkhead router: \(refusal.message)", group: group)
            return
        } catch {
            limiter.release(peer.uid)
            log.error("helper unavailable", metadata: ["error": "\(error)"])
            HTTPErrorResponder.respond(on: client, status: .badGateway, message: "bulkhead router: the privileged helper is unavailable", group: group)
            return
        }
        log.debug("relaying")
        let limiter = self.limiter
        let connectionLog = log
        Relay.start(client: client, upstream: upstream, group: group) { totals in
            limiter.release(peer.uid)
            connectionLog.info("connection closed", metadata: totals.metadata(since: started))
        }
    }

    static func status(for code: RefusalCode) -> HTTPResponseStatus {
        switch code {
        case .proofRejected, .policyRefused: .forbidden
        case .notFound: .serviceUnavailable
        default: .badGateway
        }
    }
}
