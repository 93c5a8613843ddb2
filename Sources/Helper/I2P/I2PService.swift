import Config
import IPC
import Logging

/// The i2p link intents. Order keeps every step fail-closed: rules before a link
/// is created, links deleted before rules are removed. A refused request changes
/// nothing; a failed `i2pLinkUp` deletes a link it created and re-renders the rules
/// it had before (the base drop chains stay).
final class I2PService {
    private let links: I2PLinkApplier
    private let rules: I2PRuleApplier
    private let logger: Logger
    private var state: I2PLinkState

    init(executor: NetfilterExecutor, settings: I2PSection, logger: Logger) {
        links = I2PLinkApplier(executor: executor)
        // The validator refused a config whose fake_pool does not parse.
        rules = I2PRuleApplier(executor: executor, renderer: I2PRuleRenderer(
            transparentPort: settings.transparentPort, dnsPort: settings.dnsPort, pool: settings.fakePool))
        state = I2PLinkState(subnets: settings.subnets)
        self.logger = logger
    }

    func linkUp(_ endpoint: I2PEndpoint) throws(Refusal) -> String {
        try state.checkNew(endpoint)
        let before = state.sorted
        var next = state
        next.insert(endpoint)
        let summary = try rules.apply(next.sorted, present: true)
        let created: Bool
        do throws(Refusal) {
            created = try links.assert(endpoint, exists: try links.existingKeys().contains(endpoint.key), create: true)
        } catch {
            restoreRules(before)
            throw error
        }
        state = next
        return "created=\(created) \(summary)"
    }

    func linkDown(_ key: EndpointKey) throws(Refusal) -> String {
        let existed = try links.existingKeys().contains(key)
        if existed { try links.delete(key) }
        guard state.endpoints[key] != nil else { return "deleted=\(existed)" }
        state.remove(key)
        return "deleted=\(existed) " + (try rules.apply(state.sorted, present: true))
    }

    /// A repair towards `list`: it stops at the first failure, having already done
    /// only safe steps (rules for `list` written; links not listed deleted).
    func converge(_ list: [I2PEndpoint], keepBase: Bool) throws(Refusal) -> String {
        try state.checkAll(list)
        let present = keepBase || !list.isEmpty
        let wanted = Set(list.map(\.key))
        var summary = ""
        if present {
            summary = try rules.apply(list.sorted { $0.key < $1.key }, present: true)
            state.replace(with: list)
        }
        let existing = try links.existingKeys()
        for key in existing.sorted() where !wanted.contains(key) {
            try links.delete(key)
            logger.notice("deleted an unlisted i2p link", metadata: ["link": "\(I2PLayout.hostInterface(key))"])
        }
        for endpoint in list where existing.contains(endpoint.key) {
            _ = try links.assert(endpoint, exists: true, create: false)
        }
        if !present {
            summary = try rules.apply([], present: false)
            state.replace(with: [])
        }
        return "links_deleted=\(existing.subtracting(wanted).count) links_asserted=\(existing.intersection(wanted).count) \(summary)"
    }

    private func restoreRules(_ endpoints: [I2PEndpoint]) {
        do throws(Refusal) {
            _ = try rules.apply(endpoints, present: true)
        } catch {
            logger.error("cannot restore the i2p rules after a failed link", metadata: ["error": "\(error.message)"])
        }
    }
}
