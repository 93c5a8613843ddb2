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

    /// The rules of one container, and why some are missing (untrusted or bad label,
    /// a port outside the allow-list, no address).
    static func rules(for container: WatchedContainer, settings: NetwatchSection) -> ([ContainerRule], String?) {
        var labels = container.labels
        var notes: [String] = []
        if !settings.trustImageLabels {
            let keys = [settings.watchContainerLabel, settings.iptablesDnatPortsLabel]
            let verdict = LabelTrust.verdict(container.labels, imageLabels: container.imageLabels, keys: keys)
            labels = verdict.labels
            if !verdict.ignored.isEmpty {
                notes.append(LabelTrust.describe(verdict.ignored, image: container.image, known: container.imageLabels != nil))
            }
            if verdict.ignored.contains(settings.watchContainerLabel) {
                return ([], (notes + ["no rules for this container"]).joined(separator: "; "))
            }
        }
        guard let text = container.ipv4, let address = IPv4Address(text) else {
            return ([], (notes + ["no IPv4 address on network \(settings.watchNetwork); no rules"]).joined(separator: "; "))
        }
        var rules: [ContainerRule] = []
        var dnatted: [(UInt16, NetProtocol)] = []
        if let label = labels[settings.iptablesDnatPortsLabel] {
            do {
                dnatted = try PortLabel.parse(label)
            } catch {
                // No rules at all: a MARK on a port the user meant to DNAT would be wrong too.
                let problem = "label \(settings.iptablesDnatPortsLabel)=\(label.debugDescription): \(error); no rules for this container"
                return ([], (notes + [problem]).joined(separator: "; "))
            }
        }
        // Ports the helper would refuse are skipped here, so one container cannot block everyone's rules.
        let allowance = settings.dnatAllowedPorts
        let refused = dnatted.filter { allowance?.allows($0.0, $0.1) == false }
        if !refused.isEmpty {
            notes.append("DNAT port(s) \(refused.map { "\($0.0)/\($0.1)" }.joined(separator: ", ")) not in netwatch.dnat_allowed_ports; skipped")
        }
        for (port, proto) in dnatted where allowance?.allows(port, proto) != false {
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
        return (rules, notes.isEmpty ? nil : notes.joined(separator: "; "))
    }
}
