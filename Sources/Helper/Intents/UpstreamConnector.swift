import CFDPass
import Config
import IPC
#if canImport(Glibc)
import Glibc
#endif

/// `connectUpstream(name)`: connects to the upstream socket the helper's config
/// gives a service (`audit` → `audit.upstream`, `netwatch` → `netwatch.runtime_api`,
/// `i2p` → `i2p.docker_socket`: rootful Docker or Podman sockets). The
/// agent names the service; the path is the helper's.
struct UpstreamConnector {
    private let upstreams: [ListenerName: (path: String, configKey: String)]

    init(config: BulkheadConfig) {
        var table: [ListenerName: (String, String)] = [:]
        if let audit = config.enabledAudit { table[ListenerName.audit] = (audit.upstream, "audit.upstream") }
        if let netwatch = config.enabledNetwatch {
            table[ListenerName.netwatch] = (netwatch.runtimeAPI.isEmpty ? Self.detectRuntime(config) : netwatch.runtimeAPI, "netwatch.runtime_api")
        }
        if let i2p = config.enabledI2P { table[ListenerName.i2p] = (i2p.dockerSocket, "i2p.docker_socket") }
        upstreams = table
    }

    /// For an empty `runtime_api`: the first runtime socket that exists, never one of
    /// Bulkhead's own (the router usually serves /var/run/docker.sock itself).
    static func detectRuntime(_ config: BulkheadConfig) -> String {
        func canonical(_ p: String) -> String { p.hasPrefix("/var/run/") ? "/run/" + p.dropFirst(9) : p }
        let ours = Set(([config.enabledRouter?.listen, config.enabledAudit?.listen] + config.enabledSSHRemotes.map(\.localSocket)).compactMap { $0 }.map(canonical))
        let rootSocket = config.enabledRouter.flatMap { $0.rootPolicy == .socket ? $0.rootSocket : nil }
        let candidates = [rootSocket, "/var/run/docker.sock", "/run/podman/podman.sock"].compactMap { $0 }.filter { !ours.contains(canonical($0)) }
        return candidates.first { access($0, F_OK) == 0 } ?? candidates.first ?? "/run/podman/podman.sock"
    }

    func connect(_ name: ListenerName) throws(Refusal) -> Int32 {
        guard let (path, key) = upstreams[name] else { throw Refusal(.unknownName, "no upstream for service \(name) in the helper's config") }
        try RootOnlyDirectories.check(path, configKey: key)
        var st = stat()
        guard lstat(path, &st) == 0 else { throw Refusal(.notFound, "\(path) (\(key)) does not exist: is the Docker daemon running?") }
        guard st.st_mode & S_IFMT == S_IFSOCK else { throw Refusal(.proofRejected, "\(path) (\(key)) is not a socket (symlinks are refused)") }
        let fd = bh_connect_unix(path)
        guard fd >= 0 else {
            let e = errno
            throw Refusal(e == ECONNREFUSED ? .notFound : .systemError, "connect \(path) (\(key)): \(String(cString: strerror(e)))")
        }
        return fd
    }
}
