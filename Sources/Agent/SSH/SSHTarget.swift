import Config

/// One remote with its config text turned into numbers and checked: what a link
/// and `ssh check` need to reach a remote daemon.
struct SSHTarget: Sendable {
    var name: String
    var user: String
    var address: SSHHostAddress
    var keyPath: String
    var remoteSocket: String
    var timeout: Double
    var knownHosts: String
    var pinnedHostKey: String
    var transport: SSHTransport
    var keepalive: Double
    var agentSocket: String
    var maxConnections: Int

    /// `remote` must have passed ConfigValidator (the standalone proxy validates its flags the same way).
    init(_ remote: SSHRemote) {
        name = remote.name
        user = remote.sshUser
        address = SSHHostAddress(remote.sshHost)!
        keyPath = remote.sshKeyPath
        remoteSocket = remote.remoteSocket
        timeout = DurationText.seconds(remote.timeout)!
        knownHosts = remote.knownHosts
        pinnedHostKey = remote.hostKey
        transport = remote.transport
        keepalive = DurationText.seconds(remote.keepalive)!
        agentSocket = remote.sshAgentSocket
        maxConnections = remote.maxSSHConnections
    }

    /// user@host:port, for messages.
    var display: String { "\(user)@\(address.knownHostsName)" }

    /// The remote command of the dial-stdio fallback (remote_socket is validated to
    /// letters, digits and ._/- so it needs no quoting).
    var dialStdioCommand: String { "docker -H unix://\(remoteSocket) system dial-stdio" }

    var timeoutMilliseconds: Int32 { Int32(min(timeout * 1000, 300_000)) }
}
