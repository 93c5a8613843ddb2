import IPC

/// Semantic checks of the `i2p:` section; each problem names the key to fix.
enum I2PValidator {
    static func problems(in config: BulkheadConfig) -> [String] {
        guard let s = config.enabledI2P else { return [] }
        var problems: [String] = []
        if !s.sam.isNumeric { problems.append("i2p.sam must be NUMERIC-ADDRESS:PORT, e.g. 127.0.0.1:7656") }
        if s.subnets.isEmpty { problems.append("i2p.subnets must name at least one subnet, e.g. 10.231.0.0/16") }
        for (i, subnet) in s.subnets.enumerated() {
            if subnet.length > 30 { problems.append("i2p.subnets[\(i)] must be /30 or larger (a gateway and a container)") }
            if subnet.network >> 24 == 127 { problems.append("i2p.subnets[\(i)] must not be in 127.0.0.0/8") }
        }
        let pool = s.fakePool
        if pool.network >> 24 == 127 { problems.append("i2p.fake_pool must not be in 127.0.0.0/8 (packets from a container to it are martians)") }
        if pool.length > 24 { problems.append("i2p.fake_pool must be /24 or larger") }
        for (i, subnet) in s.subnets.enumerated() where subnet.overlaps(pool) {
            problems.append("i2p.fake_pool overlaps i2p.subnets[\(i)]")
        }
        let subnets = s.subnets
        for i in subnets.indices { for j in subnets.indices where j > i && subnets[i].overlaps(subnets[j]) {
            problems.append("i2p.subnets[\(i)] and i2p.subnets[\(j)] overlap")
        } }
        for (key, port) in [("transparent_port", s.transparentPort), ("dns_port", s.dnsPort)] where port < 1024 {
            problems.append("i2p.\(key) must be 1024...65535 (the agent binds it without privileges)")
        }
        if s.transparentPort == s.dnsPort { problems.append("i2p.transparent_port and i2p.dns_port must differ") }
        for (key, path) in [("plugin_socket", s.pluginSocket), ("state_dir", s.stateDir), ("docker_socket", s.dockerSocket)]
        where !ConfigValidator.isCleanAbsolutePath(path) {
            problems.append("i2p.\(key) must be an absolute path without '..'")
        }
        if !s.pluginSocket.hasSuffix(".sock") { problems.append("i2p.plugin_socket must end in .sock (dockerd looks for NAME.sock)") }
        for (key, value) in [("inbound_length", s.inboundLength), ("outbound_length", s.outboundLength)] where !(0...7).contains(value) {
            problems.append("i2p.\(key) must be 0...7 hops")
        }
        for (key, value) in [("inbound_quantity", s.inboundQuantity), ("outbound_quantity", s.outboundQuantity)] where !(1...16).contains(value) {
            problems.append("i2p.\(key) must be 1...16 tunnels")
        }
        if !("1s"..."1h").contains(s.convergeInterval) { problems.append("i2p.converge_interval must be a duration from 1s to 1h, e.g. 10s") }
        return problems
    }
}

extension IPv4Subnet {
    public var mask: UInt32 { length == 32 ? .max : ~(UInt32.max >> UInt32(length)) }

    public func contains(_ address: UInt32) -> Bool { address & mask == network }

    public func overlaps(_ other: IPv4Subnet) -> Bool { contains(other.network) || other.contains(network) }
}
