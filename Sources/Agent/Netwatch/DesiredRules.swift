import Config
import IPC

/// What the rules must be, derived from the containers the runtime reports now
/// (never from memory, so a restart or a lost event cannot make it drift).
enum DesiredRules {
    struct Result {
        var sets: [ContainerRuleSet]
        /// One line per container whose labels could not be used, naming it.
        var problems: [String]
    }

    static func compute(_ containers: [WatchedContainer], settings: NetwatchSection) -> Result {
        var sets: [ContainerRuleSet] = [], problems: [String] = []
        for container in containers.sorted(by: { $0.id < $1.id }) {
            guard let key = ContainerKey(containerID: container.id) else {
                problems.append("container \(container.name): id \(container.id.prefix(16)) is not hex; skipped")
                continue
            }
            let (rules, problem) = rules(for: container, settings: settings)
            if let problem { problems.append("container \(container.name) (\(key)): \(problem)") }
            sets.append(ContainerRuleSet(key: key, rules: rules))
        }
        return Result(sets: sets, problems: problems)
    }

    /// The rules of one container, and why some are missing (bad label, no address).
    static func rules(for container: WatchedContainer, settings: NetwatchSection) -> ([ContainerRule], String?) {
        guard let text = container.ipv4, let address = IPv4Address(text) else {
            return ([], "no IPv4 address on network \(settings.watchNetwork); no rules")
        }
        var rules: [ContainerRule] = []
        var dnatted: [(UInt16, NetProtocol)] = []
        if let label = container.labels[settings.iptablesDnatPortsLabel] {
            do {
                dnatted = try PortLabel.parse(label)
            } catch {
                // No rules at all: a MARK on a port the user meant to DNAT would be wrong too.
                return ([], "label \(settings.iptablesDnatPortsLabel)=\(label.debugDescription): \(error); no rules for this container")
            }
        }
        for (port, proto) in dnatted {
            rules.append(.dnat(proto, port: port, to: address, targetPort: port))
            rules.append(.forward(proto, to: address, port: port))
        }
        if let mark = settings.publishedPortMark {
            for published in container.publishedPorts {
                guard let proto = NetProtocol(name: published.proto), published.containerPort > 0 else { continue }
                if dnatted.contains(where: { $0.0 == published.containerPort && $0.1 == proto }) { continue }
                rules.append(.mark(proto, from: address, port: published.containerPort, mark: mark))
            }
        }
        return (rules, nil)
    }
}
