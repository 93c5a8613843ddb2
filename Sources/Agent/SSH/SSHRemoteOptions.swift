import ArgumentParser
import Config
import Foundation

/// Where `ssh proxy` and `ssh check` get their remotes: the flags of the original
/// proxy (single dash, as it had them, or double dash), or remotes from a config file.
struct SSHRemoteOptions: ParsableArguments {
    @Option(name: .original("config"),
            help: ArgumentHelp("A Bulkhead config file; its ssh.remotes are used (no -ssh-* flags then).", valueName: "file"))
    var config: String?

    @Option(name: .original("ssh-user"), help: "User on the SSH server.")
    var sshUser: String?

    @Option(name: .original("ssh-host"), help: "HOST or HOST:PORT of the SSH server (IPv6 as [::1]:22).")
    var sshHost: String?

    @Option(name: .original("ssh-key"),
            help: ArgumentHelp("Private key, mode 0600 (Ed25519, ECDSA or RSA). Omit to use ssh-agent ($SSH_AUTH_SOCK).", valueName: "path"))
    var sshKey: String?

    @Option(name: .original("local-socket"), help: "The Docker socket to serve locally (default: /tmp/docker-proxy.sock).")
    var localSocket: String?

    @Option(name: .original("remote-socket"), help: "The Docker socket on the remote host.")
    var remoteSocket: String = "/var/run/docker.sock"

    @Option(name: .original("timeout"), help: "Connect and channel-open timeout, e.g. 10s.")
    var timeout: String = "10s"

    @Option(help: ArgumentHelp("known_hosts file used for strict host-key checking.", valueName: "path"))
    var knownHosts: String = "\(NSHomeDirectory())/.ssh/known_hosts"

    @Option(help: ArgumentHelp("Pin the host key instead of using known_hosts.", valueName: "SHA256:..."))
    var hostKey: String = ""

    @Option(help: "auto (streamlocal, else dial-stdio), streamlocal, or dial-stdio.")
    var transport: SSHTransport = .auto

    @Option(help: "SSH keepalive interval, e.g. 15s.")
    var keepalive: String = "15s"

    @Option(help: "Octal mode of the local socket.")
    var mode: String = "0660"

    @Option(name: .customLong("max-ssh-connections"),
            help: "SSH connections at most: another opens only when the server refuses a session (sshd MaxSessions).")
    var maxSSHConnections: Int = 8

    /// The remotes to serve or check, validated like the config file's.
    func remotes(named names: [String] = []) throws -> [SSHRemote] {
        var remotes: [SSHRemote]
        if let config {
            guard sshUser == nil, sshHost == nil, localSocket == nil else {
                throw ValidationError("use either --config or the -ssh-* flags, not both")
            }
            let loaded = try ConfigLoader.load(file: config, environment: ProcessInfo.processInfo.environment)
            remotes = loaded.enabledSSHRemotes
            if !names.isEmpty {
                for name in names where loaded.ssh?.remote(named: name) == nil {
                    throw ValidationError("no remote named \(name.debugDescription) in \(config) (known: \(remotes.map(\.name.text).joined(separator: ", ")))")
                }
                remotes = remotes.filter { names.contains($0.name.text) }
            }
            guard !remotes.isEmpty else { throw ValidationError("\(config) has no enabled ssh.remotes") }
            return remotes
        }
        guard let sshUser, let sshHost else { throw ValidationError("give -ssh-user and -ssh-host (and -local-socket), or --config FILE") }
        var remote = SSHRemote()
        remote.name = try Self.parse("name", names.first ?? "remote")
        remote.localSocket = localSocket ?? "/tmp/docker-proxy.sock"
        remote.sshUser = sshUser
        remote.sshHost = try Self.parse("ssh_host", sshHost)
        remote.sshKeyPath = sshKey.map(Self.absolute) ?? ""
        remote.remoteSocket = remoteSocket
        remote.timeout = try Self.parse("timeout", timeout)
        remote.knownHosts = Self.absolute(knownHosts)
        remote.hostKey = hostKey
        remote.transport = transport
        remote.keepalive = try Self.parse("keepalive", keepalive)
        remote.mode = try Self.parse("mode", mode)
        remote.maxSSHConnections = maxSSHConnections
        var config = BulkheadConfig()
        config.ssh = SSHSection()
        config.ssh?.remotes = [remote]
        let problems = ConfigValidator.problems(in: config)
        guard problems.isEmpty else { throw ValidationError(problems.map { $0.replacingOccurrences(of: "ssh.remotes[0].", with: "") }.joined(separator: "\n")) }
        return [remote]
    }

    /// A flag's text as the config key it stands for, named in the error as the
    /// config's own checks name it.
    private static func parse<Value: ConfigText>(_ key: String, _ text: String) throws -> Value {
        do { return try Value(parsing: text) } catch { throw ValidationError("\(key) \(error.description)") }
    }

    private static func absolute(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        return expanded.hasPrefix("/") ? expanded : FileManager.default.currentDirectoryPath + "/" + expanded
    }
}

extension SSHTransport: ExpressibleByArgument {}
