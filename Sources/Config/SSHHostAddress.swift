#if canImport(Glibc)
import Glibc
#endif

/// `ssh_host` as written in config: HOST, HOST:PORT, or [IPv6]:PORT. Port 22 by default.
public struct SSHHostAddress: ConfigText {
    public var host: String
    public var port: UInt16

    public init(parsing text: String) throws(ConfigTextProblem) {
        let problem = ConfigTextProblem("\(text.debugDescription) is not HOST, HOST:PORT or [IPv6]:PORT")
        var rest = Substring(text)
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw problem }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            if rest.isEmpty { port = 22 } else {
                guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()), p > 0 else { throw problem }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":"), rest.firstIndex(of: ":") == colon {
            host = String(rest[..<colon])
            guard let p = UInt16(rest[rest.index(after: colon)...]), p > 0 else { throw problem }
            port = p
        } else {
            host = String(rest)
            port = 22
        }
        // Host names and numeric addresses only: no spaces, options or shell syntax.
        guard !host.isEmpty, host.count <= 253, !host.hasPrefix("-"),
              host.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSetLite.hostAllowed.contains(UInt8($0.value))) }) else { throw problem }
        // A colon only belongs to an IPv6 address.
        if host.contains(":") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, host, &address) == 1 else { throw problem }
        }
    }

    init(host: String, port: UInt16) { self.host = host; self.port = port }

    /// A host given on a command line (`-ssh-host`).
    public init?(_ text: String) {
        do { try self.init(parsing: text) } catch { return nil }
    }

    /// As written in config: the port only when it is not 22.
    public var text: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == 22 ? name : "\(name):\(port)"
    }

    /// How known_hosts names this host: `host` on port 22, `[host]:port` otherwise.
    public var knownHostsName: String { port == 22 ? host : "[\(host)]:\(port)" }
}

enum CharacterSetLite {
    static let hostAllowed: Set<UInt8> = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:%_".utf8)
    /// Characters a remote socket path may use: it becomes an argument of a remote command
    /// in dial-stdio mode, so nothing a shell would interpret.
    static let remotePathAllowed: Set<UInt8> = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-".utf8)
    static let userAllowed: Set<UInt8> = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-".utf8)
}
