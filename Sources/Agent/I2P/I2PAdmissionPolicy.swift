/// Whether a container may stay on an i2p network, and under which identity. The
/// plugin's choice for containers that could leak: stop them, with a message that
/// says what to change. Such a container is one started without `--dns <gateway>`
/// (its names would not resolve, and a resolver it brings could try other paths) or
/// attached to any other network (which gives it a path around the plugin).
enum I2PAdmissionPolicy {
    /// The operator's choice of identity (a container label; the image's own is ignored).
    static let identityLabel = "bulkhead.i2p.identity"

    enum Verdict: Equatable {
        /// On I2P as `identity` (the container's name unless the operator chose one).
        case admit(name: String, identity: String, note: String?)
        case stop(name: String, reason: String)
    }

    static func verdict(_ container: RuntimeJSON.Inspect, imageLabels: [String: String]?, network: PluginNetwork) -> Verdict {
        let name = container.name.hasPrefix("/") ? String(container.name.dropFirst()) : container.name
        let others = (container.networkSettings?.networks ?? [:]).filter { $0.value.networkID != network.id }.keys.sorted()
        if !others.isEmpty {
            return .stop(name: name, reason: "it is also attached to network(s) \(others.joined(separator: ", ")), a way around I2P; "
                + "a container on a bulkhead-i2p network must be on that network only")
        }
        if !(container.hostConfig?.dns ?? []).contains(network.gateway) {
            return .stop(name: name, reason: "it was started without --dns \(network.gateway) (its i2p network's gateway), so .i2p names "
                + "would not resolve; start it with --dns \(network.gateway)")
        }
        guard isSafeName(name) else { return .stop(name: name, reason: "its name cannot name an identity") }
        let labels = container.config?.labels ?? [:]
        guard labels[identityLabel] != nil else { return .admit(name: name, identity: name, note: nil) }
        let trusted = LabelTrust.verdict(labels, imageLabels: imageLabels, keys: [identityLabel])
        guard let chosen = trusted.labels[identityLabel] else {
            let why = imageLabels == nil
                ? "label \(identityLabel) ignored: the image cannot be inspected, so it may be the image's own"
                : "label \(identityLabel) ignored: it only repeats the image's own label (image labels are not trusted)"
            return .admit(name: name, identity: name, note: why + "; the container's name is its identity")
        }
        guard isSafeName(chosen) else {
            return .stop(name: name, reason: "label \(identityLabel)=\(chosen.prefix(64).debugDescription) is not a name "
                + "(letters, digits, '_', '.', '-'; up to 128, starting with a letter or digit)")
        }
        return .admit(name: name, identity: chosen, note: nil)
    }

    /// Docker's container-name syntax: identities name key directories.
    static func isSafeName(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        func alnum(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) }
        guard let first = bytes.first, alnum(first), bytes.count <= 128 else { return false }
        return bytes.allSatisfy { alnum($0) || $0 == 0x5F || $0 == 0x2E || $0 == 0x2D }
    }
}
