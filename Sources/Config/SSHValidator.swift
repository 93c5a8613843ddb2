import IPC

/// Semantic checks of the `ssh:` section; each problem names the key to fix.
enum SSHValidator {
    static func problems(in config: BulkheadConfig) -> [String] {
        var problems: [String] = []
        var names = Set<String>(), sockets = Set<String>()
        let otherSockets = [config.enabledRouter?.listen, config.enabledAudit?.listen].compactMap { $0 }
        for (index, remote) in config.enabledSSHRemotes.enumerated() {
            let key = "ssh.remotes[\(index)]"
            if !names.insert(remote.name.text).inserted {
                problems.append("\(key).name \(remote.name.text.debugDescription) is used twice")
            }
            if !ConfigValidator.isCleanAbsolutePath(remote.localSocket) {
                problems.append("\(key).local_socket must be an absolute path without '..'")
            } else if !sockets.insert(remote.localSocket).inserted || otherSockets.contains(remote.localSocket) {
                problems.append("\(key).local_socket \(remote.localSocket) is already used by another service or remote")
            }
            if remote.sshUser.isEmpty || remote.sshUser.hasPrefix("-") || !remote.sshUser.utf8.allSatisfy(CharacterSetLite.userAllowed.contains) {
                problems.append("\(key).ssh_user \(remote.sshUser.debugDescription) is not a user name")
            }
            if !remote.sshKeyPath.isEmpty, !ConfigValidator.isCleanAbsolutePath(remote.sshKeyPath) {
                problems.append("\(key).ssh_key_path must be an absolute path (or empty to use ssh-agent)")
            }
            if !ConfigValidator.isCleanAbsolutePath(remote.remoteSocket) || !remote.remoteSocket.utf8.allSatisfy(CharacterSetLite.remotePathAllowed.contains) {
                problems.append("\(key).remote_socket must be an absolute path of letters, digits and ._/-")
            }
            if !("100ms"..."300s").contains(remote.timeout) {
                problems.append("\(key).timeout \(remote.timeout.text.debugDescription) must be a duration from 100ms to 300s, e.g. 10s")
            }
            if !(1...64).contains(remote.maxSSHConnections) {
                problems.append("\(key).max_ssh_connections must be 1...64")
            }
            if !("1s"..."1h").contains(remote.keepalive) {
                problems.append("\(key).keepalive \(remote.keepalive.text.debugDescription) must be a duration from 1s to 1h, e.g. 15s")
            }
            if remote.hostKey.isEmpty {
                if !ConfigValidator.isCleanAbsolutePath(remote.knownHosts) {
                    problems.append("\(key).known_hosts must be an absolute path (or pin the key with host_key)")
                }
            } else if !isFingerprint(remote.hostKey) {
                problems.append("\(key).host_key must be a SHA256 fingerprint like SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s")
            }
            if !remote.sshAgentSocket.isEmpty, !ConfigValidator.isCleanAbsolutePath(remote.sshAgentSocket) {
                problems.append("\(key).ssh_agent_socket must be an absolute path")
            }
        }
        for name in config.listeners.keys.map(\.rawValue).sorted() where name.hasPrefix("ssh-") {
            problems.append("listeners.\(name): names starting with ssh- are reserved for ssh.remotes")
        }
        return problems
    }

    /// "SHA256:" and 43 unpadded base64 characters, as ssh-keygen -l prints.
    static func isFingerprint(_ text: String) -> Bool {
        guard text.hasPrefix("SHA256:") else { return false }
        let body = text.utf8.dropFirst(7)
        let base64 = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        return body.count == 43 && body.allSatisfy(base64.contains)
    }
}
