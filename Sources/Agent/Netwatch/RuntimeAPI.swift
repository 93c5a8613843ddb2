import Foundation
import Logging
import NIOCore
import Synchronization

/// What netwatch asks the container runtime: Docker's Engine API or Podman's
/// Docker-compatible one. Paths carry no version prefix, so both answer at their
/// own version (Docker 20.10: API 1.41).
final class RuntimeAPI: Sendable {
    static let requestTimeout: Duration = .seconds(10)
    static let listLimit = 16 << 20
    static let inspectLimit = 1 << 20
    static let versionLimit = 1 << 20
    static let eventLimit = 1 << 20
    /// Inspections in flight at once: a host with hundreds of containers must not
    /// mean hundreds of connections (each one a helper round trip in production).
    static let maxInspectsInFlight = 10
    /// Events not yet taken by the consumer before the stream gives up (it resubscribes and lists again).
    static let eventBacklog = 1024
    /// Images whose labels are remembered; the cache starts over when it is full.
    static let imageCacheLimit = 1024
    /// What can change whether a container runs, or on which networks: `died` is
    /// older Podman's `die`, `remove` Podman's `destroy`. Podman may send no `stop`
    /// at all (when the stop timeout ends in a kill): `die` is the one to rely on.
    static let eventActions: Set<String> = ["start", "restart", "die", "died", "stop", "destroy", "remove", "connect", "disconnect"]

    private let http: UnixHTTPClient
    private let logger: Logger
    /// Image id → its own labels. An id names fixed content, so its labels never change.
    private let imageLabelCache = Mutex<[String: [String: String]]>([:])

    init(connect: @escaping @Sendable () throws -> Int32, group: any EventLoopGroup, logger: Logger) {
        http = UnixHTTPClient(connect: connect, group: group)
        self.logger = logger
    }

    /// Running containers on `network` (by name) whose label `label` is "true" (in any case).
    /// `imageLabels`: also look up each one's image labels (see `LabelTrust`).
    func listContainers(network: String, label: String, imageLabels: Bool) async throws -> [WatchedContainer] {
        // The label filter only asks for the key: Docker compares values exactly,
        // and "True" must count too.
        let query = Self.filters(["status": ["running"], "label": [label]])
        let summaries = try await decode([RuntimeJSON.Summary].self, "/containers/json?filters=\(query)", limit: Self.listLimit)
        let inspected = try await withThrowingTaskGroup(of: RuntimeJSON.Inspect?.self) { group in
            var pending = summaries.map(\.id)[...]
            var found: [RuntimeJSON.Inspect] = []
            for _ in 0..<Self.maxInspectsInFlight {
                guard let id = pending.popFirst() else { break }
                group.addTask { try await self.inspect(id) }
            }
            while let result = try await group.next() {
                if let result { found.append(result) }
                if let id = pending.popFirst() { group.addTask { try await self.inspect(id) } }
            }
            return found
        }
        var containers: [WatchedContainer] = []
        for found in inspected.compactMap({ watched($0, network: network, label: label) }) {
            containers.append(imageLabels ? try await withImageLabels(found) : found)
        }
        return containers.sorted { $0.name < $1.name }
    }

    /// One container, as `listContainers` would report it; nil when it is gone or not watched.
    func container(id: String, network: String, label: String, imageLabels: Bool) async throws -> WatchedContainer? {
        guard let found = try await inspect(id).flatMap({ watched($0, network: network, label: label) }) else { return nil }
        return imageLabels ? try await withImageLabels(found) : found
    }

    /// The container with its image's own labels, or nil ones when the image cannot be
    /// inspected any more (its labels then count as untrusted).
    private func withImageLabels(_ container: WatchedContainer) async throws -> WatchedContainer {
        var container = container
        let image = container.image
        if let cached = imageLabelCache.withLock({ $0[image] }) {
            container.imageLabels = cached
            return container
        }
        guard !image.isEmpty else { return container }
        let path = "/images/\(image.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? image)/json"
        do {
            let labels = try await decode(RuntimeJSON.Image.self, path, limit: Self.inspectLimit).config?.labels ?? [:]
            imageLabelCache.withLock { cache in
                if cache.count >= Self.imageCacheLimit { cache.removeAll() }
                cache[image] = labels
            }
            container.imageLabels = labels
        } catch RuntimeAPIError.http(_, 404, _, _) {
            logger.debug("image gone", metadata: ["container": "\(container.name)", "image": "\(image)"])
        }
        return container
    }

    /// Container lifecycle events for `body`, until the connection drops (then the
    /// stream finishes with an error: resubscribe, then list again, since events in
    /// between are lost). Subscribe before listing, or a start in between is missed.
    /// `types` and `actions` narrow what the daemon sends (actions within `eventActions`).
    /// The subscription is a child task that ends when `body` returns or throws.
    func withEvents(
        types: [String] = ["container", "network"], actions: [String] = eventActions.sorted(),
        _ body: (AsyncThrowingStream<RuntimeEvent, any Error>) async throws -> Void
    ) async throws {
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: RuntimeEvent.self, bufferingPolicy: .bufferingOldest(Self.eventBacklog))
        let target = "/events?filters=\(Self.filters(["type": types, "event": actions]))"
        try await withThrowingTaskGroup(of: Void.self) { subscription in
            subscription.addTask { await self.follow(target, into: continuation) }
            defer { subscription.cancelAll() }
            try await body(stream)
        }
    }

    /// Feeds `continuation` from GET `target` until the connection drops or the task is
    /// cancelled; `stream` returns only by throwing, so the stream always finishes here.
    private func follow(_ target: String, into continuation: AsyncThrowingStream<RuntimeEvent, any Error>.Continuation) async {
        do {
            var splitter = JSONObjectSplitter(maxObjectSize: Self.eventLimit)
            try await http.stream(target, onSubscribed: { continuation.yield(.subscribed) }) { chunk in
                let objects: [[UInt8]]
                do {
                    objects = try splitter.feed(chunk.readableBytesView)
                } catch {
                    throw RuntimeAPIError.malformed(request: "GET /events", detail: "\(error)")
                }
                for object in objects {
                    guard let event = try Self.event(from: object) else { continue }
                    if case .dropped = continuation.yield(event) { throw RuntimeAPIError.eventBacklog(limit: Self.eventBacklog) }
                }
            }
        } catch {
            continuation.finish(throwing: error)
        }
    }

    /// "Docker Engine 20.10.24 (API 1.41)", "Podman Engine 4.3.1 (API 1.41)": for logs.
    func version() async throws -> String {
        let info = try await decode(RuntimeJSON.Version.self, "/version", limit: Self.versionLimit)
        let engine = info.components?.first { $0.name.hasSuffix("Engine") }
        let name = engine.map { $0.name == "Engine" ? "Docker Engine" : $0.name } ?? "Engine"
        return "\(name) \(engine?.version ?? info.version ?? "?") (API \(info.apiVersion ?? "?"))"
    }

    /// For `runtime_api: ""`: the first socket that exists among Docker's, rootful
    /// Podman's and the user's rootless Podman's.
    static func detectSocket(environment: [String: String]) -> String? {
        var candidates = ["/var/run/docker.sock", "/run/podman/podman.sock"]
        if let runtimeDir = environment["XDG_RUNTIME_DIR"], !runtimeDir.isEmpty {
            candidates.append(runtimeDir + "/podman/podman.sock")
        }
        return candidates.first { path in
            var info = stat()
            return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
        }
    }

    private func watched(_ container: RuntimeJSON.Inspect, network: String, label: String) -> WatchedContainer? {
        let watched = container.watched(network: network, label: label)
        if watched == nil {
            logger.debug("container not watched: not running, label not true, or not on the network", metadata: [
                "container": "\(container.name)", "label_value": "\(container.config?.labels?[label] ?? "")",
                "network": "\(network)",
            ])
        }
        return watched
    }

    /// nil when the container does not exist (any more).
    private func inspect(_ id: String) async throws -> RuntimeJSON.Inspect? {
        let path = "/containers/\(id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id)/json"
        do {
            return try await decode(RuntimeJSON.Inspect.self, path, limit: Self.inspectLimit)
        } catch RuntimeAPIError.http(_, 404, _, _) {
            logger.debug("container gone", metadata: ["container_id": "\(id)"])
            return nil
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ target: String, limit: Int) async throws -> T {
        let body = try await http.get(target, limit: limit, timeout: Self.requestTimeout)
        do {
            return try JSONDecoder().decode(type, from: Data(body.readableBytesView))
        } catch {
            throw RuntimeAPIError.malformed(request: UnixHTTPClient.describe(target), detail: "\(error)")
        }
    }

    /// A lifecycle event worth acting on, nil for any other event; throws for an object that is not JSON.
    static func event(from object: [UInt8]) throws -> RuntimeEvent? {
        let event: RuntimeJSON.Event
        do {
            event = try JSONDecoder().decode(RuntimeJSON.Event.self, from: Data(object))
        } catch {
            throw RuntimeAPIError.malformed(request: "GET /events", detail: "\(error)")
        }
        guard let action = event.action ?? event.status, eventActions.contains(action) else { return nil }
        let id: String?
        switch (event.type ?? "container", action) {
        case ("container", _): id = event.actor?.id ?? event.id
        // Docker: the actor is the network, the container an attribute. Podman:
        // the actor is the container (and the network is not named).
        case ("network", "connect"), ("network", "disconnect"): id = event.actor?.attributes?["container"] ?? event.actor?.id
        default: id = nil
        }
        guard let id, !id.isEmpty else { return nil }
        return .containerChanged(id: id, action: action)
    }

    /// A `filters` query value: the JSON object, percent-encoded.
    static func filters(_ filters: [String: [String]]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding [String: [String]] cannot fail.
        let json = String(decoding: (try? encoder.encode(filters)) ?? Data("{}".utf8), as: UTF8.self)
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return json.addingPercentEncoding(withAllowedCharacters: allowed) ?? json
    }
}
