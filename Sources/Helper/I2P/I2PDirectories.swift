import ArgumentParser
import Config
#if canImport(Glibc)
import Glibc
#endif

/// At start, as root and before the sandbox: the directory dockerd looks for plugin
/// sockets in (root's, 0700, so the plugin socket's directory check passes), and the
/// agent's state directory (the agent's, 0700). Missing parents are made root's, 0755.
enum I2PDirectories {
    static func prepare(_ settings: I2PSection, agent: Account) throws {
        let socketDirectory = String(settings.pluginSocket.prefix(upTo: settings.pluginSocket.lastIndex(of: "/")!))
        try make(socketDirectory, mode: 0o700, uid: 0, gid: 0, key: "i2p.plugin_socket")
        try make(settings.stateDir, mode: 0o700, uid: agent.uid, gid: agent.gid, key: "i2p.state_dir")
        // An existing state directory may come from another agent.user: it must be this one's.
        guard lchown(settings.stateDir, agent.uid, agent.gid) == 0, chmod(settings.stateDir, 0o700) == 0 else {
            throw ValidationError("i2p.state_dir \(settings.stateDir): cannot set owner \(agent.name) and mode 0700: \(String(cString: strerror(errno)))")
        }
    }

    /// `mkdir -p`: the last component with `mode` and owner, parents root's 0755; an
    /// existing directory is left as it is, anything else there is refused.
    private static func make(_ path: String, mode: mode_t, uid: uid_t, gid: gid_t, key: String) throws {
        var prefix = ""
        let components = path.split(separator: "/")
        for (i, component) in components.enumerated() {
            prefix += "/" + component
            let last = i == components.count - 1
            var st = stat()
            if lstat(prefix, &st) == 0 {
                guard st.st_mode & S_IFMT == S_IFDIR else { throw ValidationError("\(prefix) (on the path of \(key)) exists and is not a directory") }
                continue
            }
            guard errno == ENOENT, mkdir(prefix, last ? mode : 0o755) == 0,
                  chown(prefix, last ? uid : 0, last ? gid : 0) == 0, chmod(prefix, last ? mode : 0o755) == 0 else {
                throw ValidationError("cannot create \(prefix) (\(key)): \(String(cString: strerror(errno)))")
            }
        }
    }
}
