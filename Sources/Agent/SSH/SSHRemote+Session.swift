import Config

/// What a link and `ssh check` derive from a remote's config.
extension SSHRemote {
    /// user@host:port, for messages.
    var display: String { "\(sshUser)@\(sshHost.knownHostsName)" }

    /// The remote command of the dial-stdio fallback (remote_socket is validated to
    /// letters, digits and ._/- so it needs no quoting).
    var dialStdioCommand: String { "docker -H unix://\(remoteSocket) system dial-stdio" }

    /// libssh's timeouts are in milliseconds; the validator keeps `timeout` within 300 s.
    var timeoutMilliseconds: Int32 { Int32(timeout.duration / .milliseconds(1)) }
}
