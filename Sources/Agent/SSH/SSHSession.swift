import CSSH
import Foundation
import Config
import Logging

/// One authenticated SSH connection (a libssh session). Set-up is blocking and runs
/// on the link's own thread (or the `ssh check` command), never on an event loop.
/// libssh sessions are not thread-safe: a session is only ever used by one thread.
final class SSHSession {
    let raw: ssh_session
    let target: SSHRemote
    /// The server's host key, "SHA256:...", once the handshake is done.
    private(set) var fingerprint = ""

    private init(raw: ssh_session, target: SSHRemote) { self.raw = raw; self.target = target }

    deinit {
        ssh_disconnect(raw)
        ssh_free(raw)
    }

    /// Connects, checks the host key, authenticates. Throws a message a person can act on.
    static func connect(_ target: SSHRemote) throws(SSHError) -> SSHSession {
        SSHLibrary.initialize()
        // Checked before any network traffic: a key others can read is refused outright.
        if !target.sshKeyPath.isEmpty { try KeyFileCheck.verify(target.sshKeyPath) }
        guard let raw = ssh_new() else { throw .connectFailed(host: target.display, detail: "out of memory") }
        let session = SSHSession(raw: raw, target: target)
        try session.configure()
        if ssh_connect(raw) != SSH_OK {
            throw .connectFailed(host: target.sshHost.knownHostsName, detail: session.lastError)
        }
        try session.verifyHostKey()
        try session.authenticate()
        return session
    }

    var lastError: String { String(cString: ssh_get_error(UnsafeMutableRawPointer(raw))) }

    private func configure() throws(SSHError) {
        var port = UInt32(target.sshHost.port)
        var timeoutSeconds = Int(target.timeout.seconds.rounded(.up))
        var noConfigFiles = false
        var noDelay: Int32 = 1
        let strings: [(ssh_options_e, String)] = [
            (SSH_OPTIONS_HOST, target.sshHost.host),
            (SSH_OPTIONS_USER, target.sshUser),
            // Both known_hosts lookups go to the configured file: nothing implicit from /etc or ~.
            (SSH_OPTIONS_KNOWNHOSTS, target.knownHosts),
            (SSH_OPTIONS_GLOBAL_KNOWNHOSTS, target.knownHosts),
            // AES-GCM first: AES-NI makes it the cheapest per byte for bulk transfers.
            (SSH_OPTIONS_CIPHERS_C_S, Self.ciphers),
            (SSH_OPTIONS_CIPHERS_S_C, Self.ciphers),
        ]
        var failed = ssh_options_set(raw, SSH_OPTIONS_PROCESS_CONFIG, &noConfigFiles) != 0
        failed = failed || ssh_options_set(raw, SSH_OPTIONS_PORT, &port) != 0
        failed = failed || ssh_options_set(raw, SSH_OPTIONS_TIMEOUT, &timeoutSeconds) != 0
        failed = failed || ssh_options_set(raw, SSH_OPTIONS_NODELAY, &noDelay) != 0
        for (option, value) in strings where !failed { failed = ssh_options_set(raw, option, value) != 0 }
        if !target.sshAgentSocket.isEmpty, !failed { failed = ssh_options_set(raw, SSH_OPTIONS_IDENTITY_AGENT, target.sshAgentSocket) != 0 }
        if failed { throw .connectFailed(host: target.display, detail: "invalid option: \(lastError)") }
    }

    static let ciphers = "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr"

    private func verifyHostKey() throws(SSHError) {
        var key: ssh_key?
        guard ssh_get_server_publickey(raw, &key) == SSH_OK, let key else {
            throw .connectFailed(host: target.display, detail: "no host key: \(lastError)")
        }
        defer { ssh_key_free(key) }
        var hash: UnsafeMutablePointer<UInt8>?
        var length = 0
        guard ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) == 0, let hash else {
            throw .connectFailed(host: target.display, detail: "cannot hash the host key")
        }
        defer { var h: UnsafeMutablePointer<UInt8>? = hash; ssh_clean_pubkey_hash(&h) }
        if let text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length) {
            fingerprint = String(cString: text).replacingOccurrences(of: "=", with: "")
            ssh_string_free_char(text)
        }
        let host = target.sshHost.knownHostsName
        if !target.hostKey.isEmpty {
            guard fingerprint == target.hostKey else {
                throw .hostKeyMismatch(host: host, fingerprint: fingerprint, pinned: target.hostKey)
            }
            return
        }
        guard FileManager.default.isReadableFile(atPath: target.knownHosts) else {
            throw .knownHostsUnreadable(path: target.knownHosts, detail: "missing or not readable by uid \(getuid())")
        }
        switch ssh_session_is_known_server(raw) {
        case SSH_KNOWN_HOSTS_OK: return
        case SSH_KNOWN_HOSTS_CHANGED, SSH_KNOWN_HOSTS_OTHER:
            throw .hostKeyChanged(host: host, fingerprint: fingerprint, knownHosts: target.knownHosts)
        case SSH_KNOWN_HOSTS_UNKNOWN, SSH_KNOWN_HOSTS_NOT_FOUND:
            throw .hostKeyUnknown(host: host, fingerprint: fingerprint, knownHosts: target.knownHosts)
        default:
            throw .knownHostsUnreadable(path: target.knownHosts, detail: lastError)
        }
    }

    private func authenticate() throws(SSHError) {
        let host = target.sshHost.knownHostsName
        if !target.sshKeyPath.isEmpty {
            var key: ssh_key?
            guard ssh_pki_import_privkey_file(target.sshKeyPath, nil, nil, nil, &key) == SSH_OK, let key else {
                throw .keyUnreadable(path: target.sshKeyPath, detail: "not a private key libssh can read without a passphrase (Ed25519, ECDSA or RSA)")
            }
            defer { ssh_key_free(key) }
            let rc = ssh_userauth_publickey(raw, nil, key)
            guard rc == SSH_AUTH_SUCCESS.rawValue else {
                throw .authenticationFailed(user: target.sshUser, host: host, detail: rc == SSH_AUTH_DENIED.rawValue ? "the server refused the key" : lastError)
            }
            return
        }
        if target.sshAgentSocket.isEmpty, ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"] == nil { throw .noAgent }
        let rc = ssh_userauth_agent(raw, nil)
        guard rc == SSH_AUTH_SUCCESS.rawValue else {
            throw .authenticationFailed(user: target.sshUser, host: host, detail: rc == SSH_AUTH_DENIED.rawValue ? "the server refused every key of the ssh-agent" : lastError)
        }
    }
}

/// libssh's global initialisation, once per process.
enum SSHLibrary {
    private static let once: Void = { _ = ssh_init() }()
    static func initialize() { _ = once }
}

/// A private key must not be readable by anyone but its owner (OpenSSH's rule).
enum KeyFileCheck {
    static func verify(_ path: String) throws(SSHError) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .keyUnreadable(path: path, detail: String(cString: strerror(errno)))
        }
        let mode = UInt32(info.st_mode) & 0o7777
        if mode & 0o077 != 0 { throw .keyPermissions(path: path, mode: mode) }
    }
}
