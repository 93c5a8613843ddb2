import IPC

/// The endpoints' veth pairs, through the executor's `ip` and sysctl writes. Every
/// name comes from `I2PLayout` and a validated `EndpointKey`; every address from a
/// validated `I2PEndpoint`.
struct I2PLinkApplier {
    let executor: NetfilterExecutor

    /// The keys of the host ends that exist now: only names `bhi` + 12 hex digits
    /// (anything else, even starting with `bhi`, is not the plugin's).
    func existingKeys() throws(Refusal) -> Set<EndpointKey> {
        let shown = try run(.ip(["-o", "link", "show"]))
        guard shown.succeeded else { throw Refusal(.systemError, "ip link show: \(shown.output.prefix(400))") }
        var keys: Set<EndpointKey> = []
        // "7: bhi0123456789ab@bhc0123456789ab: <BROADCAST,...": the name ends at '@' or ':'.
        for line in shown.output.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 2)
            guard fields.count >= 2 else { continue }
            let name = fields[1].prefix { $0 != "@" && $0 != ":" }
            if name.hasPrefix("bhi"), let key = EndpointKey(String(name.dropFirst(3))) { keys.insert(key) }
        }
        return keys
    }

    /// Makes the endpoint's host end hold its gateway (peer route to the container),
    /// with forwarding and IPv6 off and the kernel's strict source check, and up.
    /// Creates the pair only when `create`; returns whether it did. A pair it created
    /// is deleted again if a later step fails.
    func assert(_ endpoint: I2PEndpoint, exists: Bool, create: Bool) throws(Refusal) -> Bool {
        let name = I2PLayout.hostInterface(endpoint.key)
        if !exists {
            guard create else { return false }
            try check(.ip(["link", "add", name, "type", "veth", "peer", "name", I2PLayout.containerInterface(endpoint.key)]), "create \(name)")
        }
        do throws(Refusal) {
            if exists {
                // A non-veth link with the plugin's name is someone else's: never addressed or deleted by an up.
                let details = try run(.ip(["-o", "-d", "link", "show", "dev", name]))
                guard details.succeeded, details.output.split(whereSeparator: { $0 == " " || $0 == "\\" || $0 == "\n" }).contains("veth") else {
                    throw Refusal(.conflict, "\(name) exists and is not a veth pair")
                }
            }
            // IPv6 off before the link is up: it never gets a link-local address.
            for (path, value) in [("ipv6/conf/\(name)/disable_ipv6", "1"), ("ipv4/conf/\(name)/forwarding", "0"), ("ipv4/conf/\(name)/rp_filter", "1")] {
                try check(.sysctl(path: "/proc/sys/net/" + path, value: value), "sysctl \(path)")
            }
            let gateway = "\(endpoint.gateway)", peer = "\(endpoint.address)/32"
            if try addresses(name) != [[gateway, peer]] {
                try check(.ip(["-4", "addr", "flush", "dev", name]), "flush addresses of \(name)")
                try check(.ip(["-4", "addr", "add", "\(gateway)/32", "peer", peer, "dev", name]), "address \(name)")
            }
            try check(.ip(["link", "set", name, "up"]), "set \(name) up")
        } catch {
            if !exists { _ = try? executor.run(.ip(["link", "del", name])) }
            throw error
        }
        return !exists
    }

    /// Deletes the pair (the peer goes with it, wherever it is).
    func delete(_ key: EndpointKey) throws(Refusal) {
        try check(.ip(["link", "del", I2PLayout.hostInterface(key)]), "delete \(I2PLayout.hostInterface(key))")
    }

    /// `[local, peer]` of each IPv4 address on `name`, from
    /// "3: bhiK    inet 10.231.0.1 peer 10.231.0.2/32 scope global bhiK\ ...".
    private func addresses(_ name: String) throws(Refusal) -> [[String]] {
        let shown = try run(.ip(["-o", "-4", "addr", "show", "dev", name]))
        guard shown.succeeded else { throw Refusal(.systemError, "ip addr show \(name): \(shown.output.prefix(400))") }
        return shown.output.split(separator: "\n").map { line in
            let words = line.split(separator: " ").map(String.init)
            let local = words.firstIndex(of: "inet").map { words.index(after: $0) }.flatMap { $0 < words.count ? words[$0] : nil } ?? ""
            let peer = words.firstIndex(of: "peer").map { words.index(after: $0) }.flatMap { $0 < words.count ? words[$0] : nil } ?? ""
            return [local, peer]
        }
    }

    private func check(_ command: NetfilterExecutor.Command, _ what: String) throws(Refusal) {
        let result = try run(command)
        guard result.succeeded else { throw Refusal(.systemError, "\(what): \(result.output.trimmingCharacters(in: .whitespacesAndNewlines).prefix(400))") }
    }

    private func run(_ command: NetfilterExecutor.Command) throws(Refusal) -> NetfilterExecutor.Result {
        do { return try executor.run(command) } catch { throw Refusal(.systemError, "the netfilter executor is gone: \(error)") }
    }
}
