/// What a Docker API request is, for auditing: the stream endpoints whose
/// responses carry container output.
enum DockerEndpoint: Equatable {
    case logs(container: String)
    case attach(container: String)
    case execStart(exec: String)
    case execCreate(container: String)
    case inspect(container: String)
    case other

    /// The stream name in audit events.
    var source: String {
        switch self {
        case .logs: "logs"
        case .attach: "attach"
        case .execStart: "exec"
        default: "other"
        }
    }

    var isStream: Bool {
        switch self {
        case .logs, .attach, .execStart: true
        default: false
        }
    }

    /// `/v1.41/containers/ID/logs?…` and the like, with or without an API version prefix.
    init(method: String, target: String) {
        var path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        if path.hasPrefix("/v"), let slash = path.dropFirst().firstIndex(of: "/") { path = String(path[slash...]) }
        let parts = path.split(separator: "/").map(String.init)
        switch (method, parts.count, parts.first, parts.last) {
        case ("GET", 3, "containers", "logs"): self = .logs(container: parts[1])
        case ("POST", 3, "containers", "attach"): self = .attach(container: parts[1])
        case ("POST", 3, "exec", "start"): self = .execStart(exec: parts[1])
        case ("POST", 3, "containers", "exec"): self = .execCreate(container: parts[1])
        case ("GET", 3, "containers", "json"): self = .inspect(container: parts[1])
        default: self = .other
        }
    }
}
