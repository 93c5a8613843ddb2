/// Docker over SSH: each remote gets a local Docker socket whose connections are
/// carried, one SSH channel each, over one SSH connection to a remote daemon.
public struct SSHSection: Codable, Equatable, Sendable {
    public var enabled: Bool
    public var remotes: [SSHRemote]

    public init(enabled: Bool = true, remotes: [SSHRemote] = []) { self.enabled = enabled; self.remotes = remotes }

    enum CodingKeys: String, CodingKey, CaseIterable { case enabled, remotes }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        remotes = try c.decodeIfPresent([SSHRemote].self, forKey: .remotes) ?? []
    }

    public func remote(named name: String) -> SSHRemote? { remotes.first { $0.name == name } }
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
public struct SSHRemote: Codable, Equatable, Sendable {
    /// Short name: `ssh check NAME`, logs, and the helper's listener `ssh-NAME`.
    public var name: String
    public var localSocket: String
    public var sshUser: String
    /// HOST or HOST:PORT (IPv6 as [::1]:22).
    public var sshHost: String
    /// Private key (Ed25519, ECDSA or RSA), mode 0600. Empty: ssh-agent only.
    public var sshKeyPath: String
    public var remoteSocket: String
    /// Connect, handshake and channel-open limit: "10s", "500ms", "2m" or seconds.
    public var timeout: String
    public var knownHosts: String
    /// A pinned host key fingerprint, "SHA256:...": replaces the known_hosts check.
    public var hostKey: String
    public var transport: SSHTransport
    /// Interval of SSH keepalives; the link is declared dead after 3 unanswered.
    public var keepalive: String
    /// ssh-agent socket; empty means $SSH_AUTH_SOCK when set.
    public var sshAgentSocket: String
    /// Mode and group of the local socket.
    public var mode: String
    public var group: String
    /// SSH connections the remote may get at once. One carries everything; another is
    /// opened only when the server refuses a session on the ones there are (sshd's
    /// MaxSessions caps the session channels dial-stdio uses, 10 by default).
    public var maxSSHConnections: Int

    public init(
        name: String, localSocket: String, sshUser: String, sshHost: String, sshKeyPath: String = "",
        remoteSocket: String = "/var/run/docker.sock", timeout: String = "10s", knownHosts: String = "/etc/bulkhead/ssh_known_hosts",
        hostKey: String = "", transport: SSHTransport = .auto, keepalive: String = "15s", sshAgentSocket: String = "",
        mode: String = "0660", group: String = "root", maxSSHConnections: Int = 8
    ) {
        self.name = name; self.localSocket = localSocket; self.sshUser = sshUser; self.sshHost = sshHost
        self.sshKeyPath = sshKeyPath; self.remoteSocket = remoteSocket; self.timeout = timeout; self.knownHosts = knownHosts
        self.hostKey = hostKey; self.transport = transport; self.keepalive = keepalive; self.sshAgentSocket = sshAgentSocket
        self.mode = mode; self.group = group; self.maxSSHConnections = maxSSHConnections
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, timeout, transport, keepalive, mode, group
        case localSocket = "local_socket", sshUser = "ssh_user", sshHost = "ssh_host", sshKeyPath = "ssh_key_path"
        case remoteSocket = "remote_socket", knownHosts = "known_hosts", hostKey = "host_key", sshAgentSocket = "ssh_agent_socket"
        case maxSSHConnections = "max_ssh_connections"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SSHRemote(name: "", localSocket: "", sshUser: "", sshHost: "")
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        localSocket = try c.decodeIfPresent(String.self, forKey: .localSocket) ?? ""
        sshUser = try c.decodeIfPresent(String.self, forKey: .sshUser) ?? ""
        sshHost = try c.decodeIfPresent(String.self, forKey: .sshHost) ?? ""
        sshKeyPath = try c.decodeIfPresent(String.self, forKey: .sshKeyPath) ?? d.sshKeyPath
        remoteSocket = try c.decodeIfPresent(String.self, forKey: .remoteSocket) ?? d.remoteSocket
        timeout = try c.decodeIfPresent(String.self, forKey: .timeout) ?? d.timeout
        knownHosts = try c.decodeIfPresent(String.self, forKey: .knownHosts) ?? d.knownHosts
        hostKey = try c.decodeIfPresent(String.self, forKey: .hostKey) ?? d.hostKey
        transport = try c.decodeIfPresent(SSHTransport.self, forKey: .transport) ?? d.transport
        keepalive = try c.decodeIfPresent(String.self, forKey: .keepalive) ?? d.keepalive
        sshAgentSocket = try c.decodeIfPresent(String.self, forKey: .sshAgentSocket) ?? d.sshAgentSocket
        mode = try c.decodeIfPresent(String.self, forKey: .mode) ?? d.mode
        group = try c.decodeIfPresent(String.self, forKey: .group) ?? d.group
        maxSSHConnections = try c.decodeIfPresent(Int.self, forKey: .maxSSHConnections) ?? d.maxSSHConnections
    }

    /// The helper's listener name for this remote's local socket.
    public var listenerName: String { "ssh-\(name)" }
}
