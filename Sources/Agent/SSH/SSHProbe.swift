import CSSH
import Foundation

/// How client connections reach the remote daemon, once decided.
enum ResolvedTransport: String, Sendable {
    case streamlocal
    case dialStdio = "dial-stdio"
}

/// Blocking one-shot requests to the remote daemon over a fresh channel: used to
/// choose the transport when a link comes up, and by `ssh check`. The session must
/// be in blocking mode.
extension SSHSession {
    /// The transport the config asks for; for `auto`, the first that answers `/_ping`.
    func chooseTransport() -> (ResolvedTransport, note: String) {
        switch target.transport {
        case .streamlocal: return (.streamlocal, "configured")
        case .dialStdio: return (.dialStdio, "configured")
        case .auto:
            let streamlocal: String
            do {
                _ = try request("/_ping", over: .streamlocal)
                return (.streamlocal, "auto")
            } catch { streamlocal = "\(error)" }
            do {
                _ = try request("/_ping", over: .dialStdio)
                return (.dialStdio, "auto: streamlocal failed (\(streamlocal))")
            } catch {
                return (.streamlocal, "auto: neither answered; streamlocal: \(streamlocal); dial-stdio: \(error)")
            }
        }
    }

    /// The remote daemon's `GET /version`, as "20.10.24 (API 1.41)".
    func daemonVersion(over transport: ResolvedTransport) throws(SSHError) -> String {
        let body = try request("/version", over: transport)
        guard let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let version = json["Version"] as? String else {
            throw .daemonUnreachable(socket: target.remoteSocket, detail: "unexpected /version answer: \(body.prefix(200))")
        }
        return "\(version) (API \(json["ApiVersion"] as? String ?? "?"))"
    }

    /// Sends `GET path` (HTTP/1.0, so the daemon closes after answering) and returns the body.
    func request(_ path: String, over transport: ResolvedTransport) throws(SSHError) -> String {
        let channel = try openBlockingChannel(transport)
        defer { ssh_channel_close(channel); ssh_channel_free(channel) }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: docker\r\n\r\n".utf8)
        guard ssh_channel_write(channel, request, UInt32(request.count)) == Int32(request.count) else {
            throw .channelFailed(detail: lastError)
        }
        let deadline = ContinuousClock.now + .milliseconds(Int(target.timeoutMilliseconds))
        var answer: [UInt8] = [], stderr: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while ssh_channel_is_eof(channel) == 0, ContinuousClock.now < deadline, answer.count < 1 << 20 {
            let n = ssh_channel_read_timeout(channel, &buffer, UInt32(buffer.count), 0, 200)
            if n < 0 { throw .channelFailed(detail: lastError) }
            answer += buffer[0..<Int(n)]
            let e = ssh_channel_read_nonblocking(channel, &buffer, UInt32(buffer.count), 1)
            if e > 0, stderr.count < 4096 { stderr += buffer[0..<Int(e)] }
        }
        let text = String(decoding: answer, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n"), text.hasPrefix("HTTP/1."), text.prefix(16).contains(" 200 ") else {
            let why = stderr.isEmpty ? (text.isEmpty ? "no answer within \(target.timeout)" : "answered \(text.prefix(80).debugDescription)")
                : String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .daemonUnreachable(socket: target.remoteSocket, detail: "\(transport.rawValue): \(why)")
        }
        return String(text[split.upperBound...])
    }

    private func openBlockingChannel(_ transport: ResolvedTransport) throws(SSHError) -> ssh_channel {
        guard let channel = ssh_channel_new(raw) else { throw .channelFailed(detail: lastError) }
        switch transport {
        case .streamlocal:
            if ssh_channel_open_forward_unix(channel, target.remoteSocket, "127.0.0.1", 0) != SSH_OK {
                ssh_channel_free(channel)
                throw .daemonUnreachable(socket: target.remoteSocket, detail: "streamlocal: \(lastError)")
            }
        case .dialStdio:
            if ssh_channel_open_session(channel) != SSH_OK || ssh_channel_request_exec(channel, target.dialStdioCommand) != SSH_OK {
                ssh_channel_free(channel)
                throw .channelFailed(detail: "dial-stdio: \(lastError)")
            }
        }
        return channel
    }
}
