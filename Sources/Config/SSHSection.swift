import IPC

/// Docker over SSH: each remote gets a local Docker socket whose connections are
/// carried, one SSH channel each, over one SSH connection to a remote daemon.
public struct SSHSection: ConfigSection {
    public var enabled = true
    public var remotes: [SSHRemote] = []

    public init() {}

    public static var fields: [ConfigField<Self>] { [.init("enabled", \.enabled), .init("remotes", \.remotes)] }

    public func remote(named name: String) -> SSHRemote? { remotes.first { $0.name.text == name } }
}

/// How client connections reach the remote daemon.
public enum SSHTransport: String, Codable, Sendable, CaseIterable {
    /// `direct-streamlocal@openssh.com` when the server allows it, else `dial-stdio`.
    case auto
    /// Only `direct-streamlocal@openssh.com` channels to `remote_socket`.
    case streamlocal
    /// Only exec channels running `docker system dial-stdio` on the remote host.
    case dialStdio = "dial-stdio"
}

/// One remote Docker daemon. The first six keys are the original proxy's.
public struct SSHRemote: ConfigSection {
    /// Short name: `ssh check NAME`, logs, and the helper's listener `ssh-NAME`.
    public var name: SSHRemoteName = "remote"
    public var localSocket = ""
    public var sshUser = ""
    /// HOST or HOST:PORT (IPv6 as [::1]:22). Required.
    public var sshHost = SSHHostAddress(host: "localhost", port: 22)
    /// Private key (Ed25519, ECDSA or RSA), mode 0600. Empty: ssh-agent only.
    public var sshKeyPath = ""
    public var remoteSocket = "/var/run/docker.sock"
    /// Connect, handshake and channel-open limit: "10s", "500ms", "2m" or seconds.
    public var timeout: ConfigDuration = "10s"
    public var knownHosts = "/etc/bulkhead/ssh_known_hosts"
    /// A pinned host key fingerprint, "SHA256:...": replaces the known_hosts check.
    public var hostKey = ""
    public var transport: SSHTransport = .auto
    /// Interval of SSH keepalives; the link is declared dead after 3 unanswered.
    public var keepalive: ConfigDuration = "15s"
    /// ssh-agent socket; empty means $SSH_AUTH_SOCK when set.
    public var sshAgentSocket = ""
    /// Mode and group of the local socket.
    public var mode: FileMode = "0660"
    public var group = "root"
    /// SSH connections the remote may get at once. One carries everything; another is
    /// opened only when the server refuses a session on the ones there are (sshd's
    /// MaxSessions caps the session channels dial-stdio uses, 10 by default).
    public var maxSSHConnections = 8

    public init() {}

    public static var fields: [ConfigField<Self>] {
        [.required("name", \.name), .init("local_socket", \.localSocket), .init("ssh_user", \.sshUser), .required("ssh_host", \.sshHost),
         .init("ssh_key_path", \.sshKeyPath), .init("remote_socket", \.remoteSocket), .init("timeout", \.timeout),
         .init("known_hosts", \.knownHosts), .init("host_key", \.hostKey), .init("transport", \.transport), .init("keepalive", \.keepalive),
         .init("ssh_agent_socket", \.sshAgentSocket), .init("mode", \.mode), .init("group", \.group),
         .init("max_ssh_connections", \.maxSSHConnections)]
    }

    /// The helper's listener name for this remote's local socket.
    public var listenerName: ListenerName { name.listener }
}
