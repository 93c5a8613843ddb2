/// A running container as netwatch sees it (derived from the runtime, never remembered).
struct WatchedContainer: Sendable, Equatable {
    /// Full 64-hex id (Podman's ids have the same form).
    var id: String
    /// Without the leading "/".
    var name: String
    /// IPv4 address on the watched network, nil if it has none there.
    var ipv4: String?
    /// Labels as the runtime reports them: the image's and the container's own, merged.
    var labels: [String: String]
    /// Image id, for logs and to look up `imageLabels`.
    var image: String
    /// The image's own labels; nil when the image could not be inspected (or was not asked for).
    var imageLabels: [String: String]?
    /// Ports published to the host, sorted, without duplicates.
    var publishedPorts: [PublishedPort]
}

struct PublishedPort: Sendable, Hashable, Comparable {
    var containerPort: UInt16
    /// "tcp" or "udp".
    var proto: String

    static func < (a: PublishedPort, b: PublishedPort) -> Bool {
        (a.containerPort, a.proto) < (b.containerPort, b.proto)
    }
}

enum RuntimeEvent: Sendable, Equatable {
    /// Something happened that can change whether, where or what the container
    /// exposes: inspect it (or list again) to learn its new state.
    case containerChanged(id: String, action: String)
    /// The runtime accepted the events subscription (its answer's head arrived).
    case subscribed
}
