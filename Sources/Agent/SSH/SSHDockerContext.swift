import Foundation
import Config

/// The `docker context create` line for a remote's local socket, as `ssh check` prints
/// it: a user runs it once, then `docker --context bulkhead-NAME ...` or
/// `docker context use bulkhead-NAME`. Remote names are [a-z][a-z0-9_-]*, which Docker
/// accepts as context names.
enum SSHDockerContext {
    static func name(of remote: SSHRemote) -> String { "bulkhead-\(remote.name)" }

    static func createLine(for remote: SSHRemote) -> String {
        let description = "\(remote.name): Docker on \(remote.sshHost) over SSH (Bulkhead)"
        return "docker context create \(name(of: remote)) --description \(shellQuoted(description)) "
            + "--docker \(shellQuoted("host=unix://\(remote.localSocket)"))"
    }

    /// Single-quoted for sh unless every character is plainly safe.
    static func shellQuoted(_ text: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-=:,+@")
        if !text.isEmpty, text.allSatisfy(safe.contains) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
