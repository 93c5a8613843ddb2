import Foundation
import IPC
#if canImport(Glibc)
import Glibc
#endif

/// Semantic checks. Each problem names the key to fix.
public enum ConfigValidator {
    public static func problems(in config: BulkheadConfig) -> [String] {
        var problems: [String] = []
        if !isAccountName(config.helper.user) { problems.append("helper.user \(config.helper.user.debugDescription) is not an account name") }
        if !isAccountName(config.agent.user) { problems.append("agent.user \(config.agent.user.debugDescription) is not an account name") }
        if config.helper.user == config.agent.user { problems.append("helper.user and agent.user must be different accounts") }
        if !isAccountName(config.helper.netfilterUser) { problems.append("helper.netfilter_user \(config.helper.netfilterUser.debugDescription) is not an account name") }
        if [config.helper.user, config.agent.user].contains(config.helper.netfilterUser) {
            problems.append("helper.netfilter_user must differ from helper.user and agent.user")
        }
        if !config.agent.path.isEmpty, !isCleanAbsolutePath(config.agent.path) {
            problems.append("agent.path must be an absolute path without '..'")
        }
        if !("1s"..."1h").contains(config.agent.restartBackoffMax) { problems.append("agent.restart_backoff_max must be a duration from 1s to 1h") }
        if !("1s"..."1h").contains(config.agent.binaryCheckInterval) { problems.append("agent.binary_check_interval must be a duration from 1s to 1h") }

        for (name, spec) in config.listeners.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let key = "listeners.\(name)"
            if name == .router { problems.append("\(key): the name `router` is reserved for router.listen") }
            if name == .i2pPlugin { problems.append("\(key): the name `i2p-plugin` is reserved for i2p.plugin_socket") }
            if name == .metrics { problems.append("\(key): the name `metrics` is reserved for metrics.listen") }
            switch (spec.unix, spec.tcp) {
            case (let path?, nil):
                if !isCleanAbsolutePath(path) { problems.append("\(key).unix must be an absolute path without '..'") }
            case (nil, let address?):
                if !address.isNumeric { problems.append("\(key).tcp \(address.text.debugDescription) is not NUMERIC-ADDRESS:PORT (IPv6 as [::1]:443)") }
            default:
                problems.append("\(key) needs exactly one of unix or tcp")
            }
        }

        if let router = config.router, router.enabled {
            if !isCleanAbsolutePath(router.listen) { problems.append("router.listen must be an absolute path without '..'") }
            let template = router.userSocket
            if !isCleanAbsolutePath(template) || template.components(separatedBy: "%d").count != 2 || template.filter({ $0 == "%" }).count != 1 {
                problems.append("router.user_socket must be an absolute path with exactly one %d (the uid), e.g. /run/user/%d/docker.sock")
            }
            if router.rootPolicy == .socket, !isCleanAbsolutePath(router.rootSocket) {
                problems.append("router.root_socket must be an absolute path when router.root_policy is socket")
            }
            if !(1...10_000).contains(router.maxConnectionsPerUser) { problems.append("router.max_connections_per_user must be 1...10000") }
            if !(1...65_536).contains(router.maxConnections) { problems.append("router.max_connections must be 1...65536") }
        }
        if let audit = config.enabledAudit {
            for (key, path) in [("audit.listen", audit.listen), ("audit.upstream", audit.upstream), ("audit.log_file", audit.logFile)]
            where !isCleanAbsolutePath(path) {
                problems.append("\(key) must be an absolute path without '..'")
            }
            if !audit.rulesFile.isEmpty, !isCleanAbsolutePath(audit.rulesFile) { problems.append("audit.rules_file must be an absolute path") }
            if !audit.baseline.isEmpty, !isCleanAbsolutePath(audit.baseline) { problems.append("audit.baseline must be an absolute path") }
            if !(16...1_000_000).contains(audit.queueSize) { problems.append("audit.queue_size must be 16...1000000") }
            if let router = config.enabledRouter, router.listen == audit.listen { problems.append("audit.listen and router.listen must differ") }
            for (method, pattern) in audit.allow.sorted(by: { $0.key < $1.key }) {
                if !AuditSection.filterableMethods.contains(method) {
                    problems.append("audit.allow.\(method): not a method the proxy filters (\(AuditSection.filterableMethods.joined(separator: ", ")))")
                } else if (try? NSRegularExpression(pattern: pattern)) == nil {
                    problems.append("audit.allow.\(method) \(pattern.debugDescription) is not a valid regular expression")
                }
            }
        }
        problems += SSHValidator.problems(in: config)
        problems += NetwatchValidator.problems(in: config)
        problems += I2PValidator.problems(in: config)
        if let metrics = config.metrics { problems += MetricsSection.problems(in: metrics) }
        return problems
    }

    public static func isCleanAbsolutePath(_ path: String) -> Bool {
        path.hasPrefix("/") && path.utf8.count < 108 && !path.split(separator: "/").contains("..")
            && !path.contains("\0") && !path.contains("//")
    }

    static func isAccountName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 32 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}

/// "ADDRESS:PORT" with IPv6 in brackets.
public struct TCPAddress: ConfigText {
    public var host: String
    public var port: UInt16

    public init(parsing text: String) throws(ConfigTextProblem) {
        let problem = ConfigTextProblem("\(text.debugDescription) is not NUMERIC-ADDRESS:PORT (IPv6 as [::1]:443)")
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()), p > 0 else { throw problem }
            port = p
        } else {
            guard let colon = text.lastIndex(of: ":"), let p = UInt16(text[text.index(after: colon)...]), p > 0 else { throw problem }
            host = String(text[..<colon])
            port = p
        }
        if host.isEmpty { throw problem }
    }

    public init(host: String, port: UInt16) { self.host = host; self.port = port }

    /// A listen address given on a command line.
    public init?(_ text: String) {
        do { try self.init(parsing: text) } catch { return nil }
    }

    public var text: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The helper binds numeric addresses only: no name lookups inside the sandbox.
    public var isNumeric: Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
