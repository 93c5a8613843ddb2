import Config
import IPC
#if canImport(Glibc)
import Glibc
#endif

/// When systemd may call the service started (READY=1): the agent has said hello and
/// every listener its enabled services ask the helper for is bound (metrics.listen too). `listeners:`
/// entries are not awaited (no service asks for them), nor are ssh sockets the agent
/// binds itself because their directory belongs to agent.user (`OwnUnixSocket`).
struct ServiceReadiness {
    let awaited: [ListenerName]

    init(config: BulkheadConfig, agentUID: uid_t?) {
        var names: [ListenerName] = []
        if config.enabledRouter != nil { names.append(.router) }
        if config.enabledAudit != nil { names.append(.audit) }
        if config.enabledI2P != nil { names.append(.i2pPlugin) }
        if config.enabledMetrics != nil { names.append(.metrics) }
        for remote in config.enabledSSHRemotes where !Self.directory(of: remote.localSocket, isOwnedBy: agentUID) {
            names.append(remote.listenerName)
        }
        awaited = names
    }

    func isReady(greeted: Bool, binder: ListenerBinder) -> Bool {
        greeted && awaited.allSatisfy(binder.isBound)
    }

    private static func directory(of path: String, isOwnedBy uid: uid_t?) -> Bool {
        guard let uid, let slash = path.lastIndex(of: "/") else { return false }
        var info = stat()
        let directory = String(path[..<slash])
        return stat(directory.isEmpty ? "/" : directory, &info) == 0 && info.st_uid == uid
    }
}
