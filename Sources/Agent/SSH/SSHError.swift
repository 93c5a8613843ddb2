/// Why a remote cannot be used. Each case's text is what the docker CLI and the logs
/// show, and says what to check (the original proxy's troubleshooting list).
enum SSHError: Error, CustomStringConvertible, Sendable {
    /// TCP or handshake failure before authentication.
    case connectFailed(host: String, detail: String)
    case hostKeyUnknown(host: String, fingerprint: String, knownHosts: String)
    case hostKeyChanged(host: String, fingerprint: String, knownHosts: String)
    case hostKeyMismatch(host: String, fingerprint: String, pinned: String)
    case knownHostsUnreadable(path: String, detail: String)
    case keyPermissions(path: String, mode: UInt32)
    case keyUnreadable(path: String, detail: String)
    case authenticationFailed(user: String, host: String, detail: String)
    case noAgent
    /// The SSH link is fine but the remote daemon's socket is not.
    case daemonUnreachable(socket: String, detail: String)
    case linkDown(detail: String)
    case channelFailed(detail: String)

    var description: String {
        switch self {
        case .connectFailed(let host, let detail):
            // Under the systemd unit, IP traffic beyond localhost needs the network drop-in.
            let unit = detail.localizedCaseInsensitiveContains("not permitted")
                ? "; under systemd, remote hosts need the drop-in bulkhead-helper.service.d/network.conf (IPAddressDeny=)" : ""
            return "SSH connection to \(host) failed: \(detail) (check ssh_host and that sshd is reachable\(unit))"
        case .hostKeyUnknown(let host, let fp, let file):
            return "host key of \(host) is not in \(file): refusing \(fp) (verify it out of band, then add it with ssh-keyscan or pin it with host_key)"
        case .hostKeyChanged(let host, let fp, let file):
            return "host key of \(host) CHANGED: the server offers \(fp), which does not match \(file) (possible man-in-the-middle; refusing)"
        case .hostKeyMismatch(let host, let fp, let pinned):
            return "host key of \(host) is \(fp), not the pinned \(pinned): refusing"
        case .knownHostsUnreadable(let path, let detail):
            return "cannot read known_hosts \(path): \(detail)"
        case .keyPermissions(let path, let mode):
            return "ssh key \(path) has permissions \(String(mode, radix: 8, uppercase: false).leftPadded(4)): it must be 0600 and owned by the agent's user (chmod 600 \(path))"
        case .keyUnreadable(let path, let detail):
            return "cannot load ssh key \(path): \(detail)"
        case .authenticationFailed(let user, let host, let detail):
            return "SSH authentication as \(user)@\(host) failed: \(detail) (check ssh_user, the key, and the server's authorized_keys)"
        case .noAgent:
            return "no ssh_key_path and no ssh-agent (set ssh_key_path, ssh_agent_socket, or SSH_AUTH_SOCK)"
        case .daemonUnreachable(let socket, let detail):
            return "Docker daemon unreachable at \(socket) on the remote host: \(detail) (is dockerd running there, and may the SSH user open its socket?)"
        case .linkDown(let detail):
            return "the SSH connection is down: \(detail)"
        case .channelFailed(let detail):
            return "SSH channel failed: \(detail)"
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
