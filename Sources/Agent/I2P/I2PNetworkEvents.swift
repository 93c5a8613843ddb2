import Logging

/// Follows dockerd's `network connect` events, so that a container on I2P that is
/// connected to another network (a way around I2P) is checked, and stopped, at once
/// rather than at the next periodic recheck, which stays the backstop. Events are
/// lost while the stream is down: every admitted container is checked again after
/// each (re)subscription.
struct I2PNetworkEvents: Sendable {
    static let firstRetry: Duration = .milliseconds(500)
    static let maxRetry: Duration = .seconds(30)
    /// What dockerd is asked to send: the events filter's "type" and "event".
    static let types = ["network"], actions = ["connect"]

    let runtime: RuntimeAPI
    let store: PluginStore
    let admission: I2PAdmission
    let logger: Logger

    /// Until the calling task is cancelled.
    func run() async {
        var delay = Self.firstRetry
        while !Task.isCancelled {
            let subscribed = ContinuousClock.now
            let why: String
            do {
                try await runtime.withEvents(types: Self.types, actions: Self.actions) { stream in
                    await admission.recheck()
                    for try await event in stream {
                        if let endpoint = Self.admittedEndpoint(for: event, in: store.endpoints) { await admission.check(endpoint) }
                    }
                }
                why = "ended"
            } catch {
                why = "\(error)"
            }
            if Task.isCancelled { return }
            // A stream that lasted was a success: the next failure starts the backoff afresh.
            if ContinuousClock.now - subscribed > Self.maxRetry { delay = Self.firstRetry }
            logger.warning("docker events stream lost; reconnecting", metadata: ["reason": "\(why)", "retry_in": .stringConvertible(delay)])
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, Self.maxRetry)
        }
    }

    /// The admitted endpoint whose container a `network connect` event names, if any.
    static func admittedEndpoint(for event: RuntimeEvent, in endpoints: [PluginEndpoint]) -> PluginEndpoint? {
        guard case .containerChanged(let id, "connect") = event else { return nil }
        return endpoints.first { $0.joined && $0.containerID == id }
    }
}
