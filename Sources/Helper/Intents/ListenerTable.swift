import Config
import IPC
#if canImport(Glibc)
import Glibc
#endif

/// Every socket the agent may ask the helper to bind, resolved from config at
/// start-up (names, modes and owners turned into numbers while /etc is readable).
struct ListenerTable {
    enum Endpoint: Equatable {
        case unix(path: String, mode: mode_t, uid: uid_t, gid: gid_t)
        case tcp(host: String, port: UInt16)
    }

    struct Entry: Equatable {
        var endpoint: Endpoint
        /// The config key a person edits to change it, for error messages.
        var configKey: String
    }

    private(set) var entries: [ListenerName: Entry] = [:]

    init(config: BulkheadConfig) throws(ConfigError) {
        if let router = config.enabledRouter {
            guard let gid = Account.groupID(router.group) else { throw ConfigError("router.group: no group \(router.group.debugDescription)") }
            entries[ListenerName.router] = Entry(
                endpoint: .unix(path: router.listen, mode: router.mode.bits, uid: 0, gid: gid),
                configKey: "router.listen")
        }
        if let audit = config.enabledAudit {
            guard let gid = Account.groupID(audit.group) else { throw ConfigError("audit.group: no group \(audit.group.debugDescription)") }
            entries[ListenerName.audit] = Entry(
                endpoint: .unix(path: audit.listen, mode: audit.mode.bits, uid: 0, gid: gid),
                configKey: "audit.listen")
        }
        if let i2p = config.enabledI2P {
            // Only dockerd (root) talks to a network plugin.
            entries[ListenerName.i2pPlugin] = Entry(endpoint: .unix(path: i2p.pluginSocket, mode: 0o600, uid: 0, gid: 0), configKey: "i2p.plugin_socket")
        }
        if let metrics = config.enabledMetrics {
            switch metrics.listen {
            case .unix(let path):
                guard let gid = Account.groupID(metrics.group) else { throw ConfigError("metrics.group: no group \(metrics.group.debugDescription)") }
                entries[.metrics] = Entry(endpoint: .unix(path: path, mode: metrics.mode.bits, uid: 0, gid: gid), configKey: "metrics.listen")
            case .tcp(let address):
                entries[.metrics] = Entry(endpoint: .tcp(host: address.host, port: address.port), configKey: "metrics.listen")
            }
        }
        for remote in config.enabledSSHRemotes {
            guard let gid = Account.groupID(remote.group) else { throw ConfigError("ssh remote \(remote.name).group: no group \(remote.group.debugDescription)") }
            entries[remote.listenerName] = Entry(
                endpoint: .unix(path: remote.localSocket, mode: remote.mode.bits, uid: 0, gid: gid),
                configKey: "ssh.remotes[name=\(remote.name)].local_socket")
        }
        for (name, spec) in config.listeners {
            let key = "listeners.\(name)"
            if let path = spec.unix {
                guard let owner = Account.named(spec.owner) else { throw ConfigError("\(key).owner: no user \(spec.owner.debugDescription)") }
                guard let gid = Account.groupID(spec.group) else { throw ConfigError("\(key).group: no group \(spec.group.debugDescription)") }
                entries[name] = Entry(
                    endpoint: .unix(path: path, mode: spec.mode.bits, uid: owner.uid, gid: gid),
                    configKey: "\(key).unix")
            } else if let address = spec.tcp {
                entries[name] = Entry(endpoint: .tcp(host: address.host, port: address.port), configKey: "\(key).tcp")
            }
        }
    }

    subscript(name: ListenerName) -> Entry? { entries[name] }

    /// Whether any listener is TCP: only then may the sandboxed helper create AF_INET/AF_INET6 sockets.
    var hasTCP: Bool {
        entries.values.contains { if case .tcp = $0.endpoint { true } else { false } }
    }
}
