/// i2p: a Docker network plugin that puts each container on I2P and nothing else.
/// The helper binds the plugin socket and owns links and rules; the agent speaks
/// the plugin API, SAM, DNS and the transparent proxy.
public struct I2PSection: Codable, Equatable, Sendable {
    public var enabled: Bool
    /// The SAM v3 bridge, NUMERIC-ADDRESS:PORT (Debian's i2pd: 127.0.0.1:7656).
    public var sam: String
    /// Subnets plugin networks may use (`docker network create --subnet`); the helper
    /// refuses links outside them.
    public var subnets: [String]
    /// Fake addresses handed out for `.i2p` names (never 127/8).
    public var fakePool: String
    /// The agent's transparent TCP port on each gateway (REDIRECT target).
    public var transparentPort: UInt16
    /// The agent's DNS port on each gateway (udp and tcp 53 are redirected to it).
    public var dnsPort: UInt16
    /// Where dockerd finds the plugin (bound by the helper, root-only).
    public var pluginSocket: String
    /// Keys, endpoints and the status file (the agent's; created by the helper at start).
    public var stateDir: String
    /// The Docker API socket the agent asks for container names (connected by the helper).
    public var dockerSocket: String
    /// Tunnel settings of every session (i2pd's SAM default quantity is 5: always set).
    public var inboundLength: Int
    public var outboundLength: Int
    public var inboundQuantity: Int
    public var outboundQuantity: Int
    /// Links and rules are re-asserted this often (repairs a flush or a stray link).
    public var convergeInterval: String

    public init(
        enabled: Bool = true, sam: String = "127.0.0.1:7656", subnets: [String] = ["10.231.0.0/16"], fakePool: String = "10.64.0.0/10",
        transparentPort: UInt16 = 7680, dnsPort: UInt16 = 7653, pluginSocket: String = "/run/docker/plugins/bulkhead-i2p.sock",
        stateDir: String = "/var/lib/bulkhead/i2p", dockerSocket: String = "/var/run/docker.sock",
        inboundLength: Int = 3, outboundLength: Int = 3, inboundQuantity: Int = 2, outboundQuantity: Int = 2, convergeInterval: String = "10s"
    ) {
        self.enabled = enabled; self.sam = sam; self.subnets = subnets; self.fakePool = fakePool
        self.transparentPort = transparentPort; self.dnsPort = dnsPort; self.pluginSocket = pluginSocket
        self.stateDir = stateDir; self.dockerSocket = dockerSocket
        self.inboundLength = inboundLength; self.outboundLength = outboundLength
        self.inboundQuantity = inboundQuantity; self.outboundQuantity = outboundQuantity; self.convergeInterval = convergeInterval
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, sam, subnets
        case fakePool = "fake_pool", transparentPort = "transparent_port", dnsPort = "dns_port", pluginSocket = "plugin_socket"
        case stateDir = "state_dir", dockerSocket = "docker_socket"
        case inboundLength = "inbound_length", outboundLength = "outbound_length"
        case inboundQuantity = "inbound_quantity", outboundQuantity = "outbound_quantity", convergeInterval = "converge_interval"
    }

    public init(from decoder: any Decoder) throws {
        let d = I2PSection()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        sam = try c.decodeIfPresent(String.self, forKey: .sam) ?? d.sam
        subnets = try c.decodeIfPresent([String].self, forKey: .subnets) ?? d.subnets
        fakePool = try c.decodeIfPresent(String.self, forKey: .fakePool) ?? d.fakePool
        transparentPort = try c.decodeIfPresent(UInt16.self, forKey: .transparentPort) ?? d.transparentPort
        dnsPort = try c.decodeIfPresent(UInt16.self, forKey: .dnsPort) ?? d.dnsPort
        pluginSocket = try c.decodeIfPresent(String.self, forKey: .pluginSocket) ?? d.pluginSocket
        stateDir = try c.decodeIfPresent(String.self, forKey: .stateDir) ?? d.stateDir
        dockerSocket = try c.decodeIfPresent(String.self, forKey: .dockerSocket) ?? d.dockerSocket
        inboundLength = try c.decodeIfPresent(Int.self, forKey: .inboundLength) ?? d.inboundLength
        outboundLength = try c.decodeIfPresent(Int.self, forKey: .outboundLength) ?? d.outboundLength
        inboundQuantity = try c.decodeIfPresent(Int.self, forKey: .inboundQuantity) ?? d.inboundQuantity
        outboundQuantity = try c.decodeIfPresent(Int.self, forKey: .outboundQuantity) ?? d.outboundQuantity
        convergeInterval = try c.decodeIfPresent(String.self, forKey: .convergeInterval) ?? d.convergeInterval
    }

    /// `subnets` parsed (entries that do not parse are refused at load).
    public var servedSubnets: [IPv4Subnet] { subnets.compactMap(IPv4Subnet.init) }
    /// `fake_pool` parsed.
    public var pool: IPv4Subnet? { IPv4Subnet(fakePool) }
}
