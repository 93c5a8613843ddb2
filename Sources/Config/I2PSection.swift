/// i2p: a Docker network plugin that puts each container on I2P and nothing else.
/// The helper binds the plugin socket and owns links and rules; the agent speaks
/// the plugin API, SAM, DNS and the transparent proxy.
public struct I2PSection: ConfigSection {
    public var enabled = true
    /// The SAM v3 bridge, NUMERIC-ADDRESS:PORT (Debian's i2pd: 127.0.0.1:7656).
    public var sam = TCPAddress(host: "127.0.0.1", port: 7656)
    /// Subnets plugin networks may use (`docker network create --subnet`); the helper
    /// refuses links outside them.
    public var subnets: [IPv4Subnet] = ["10.231.0.0/16"]
    /// Fake addresses handed out for `.i2p` names (never 127/8).
    public var fakePool: IPv4Subnet = "10.64.0.0/10"
    /// The agent's transparent TCP port on each gateway (REDIRECT target).
    public var transparentPort: UInt16 = 7680
    /// The agent's DNS port on each gateway (udp and tcp 53 are redirected to it).
    public var dnsPort: UInt16 = 7653
    /// Where dockerd finds the plugin (bound by the helper, root-only).
    public var pluginSocket = "/run/docker/plugins/bulkhead-i2p.sock"
    /// Keys, endpoints and the status file (the agent's; created by the helper at start).
    public var stateDir = "/var/lib/bulkhead/i2p"
    /// The Docker API socket the agent asks for container names (connected by the helper).
    public var dockerSocket = "/var/run/docker.sock"
    /// Tunnel settings of every session (i2pd's SAM default quantity is 5: always set).
    public var inboundLength = 3
    public var outboundLength = 3
    public var inboundQuantity = 2
    public var outboundQuantity = 2
    /// Links and rules are re-asserted this often (repairs a flush or a stray link).
    public var convergeInterval: ConfigDuration = "10s"

    public init() {}

    public static var fields: [ConfigField<Self>] {
        [.init("enabled", \.enabled), .init("sam", \.sam), .init("subnets", \.subnets), .init("fake_pool", \.fakePool),
         .init("transparent_port", \.transparentPort), .init("dns_port", \.dnsPort), .init("plugin_socket", \.pluginSocket),
         .init("state_dir", \.stateDir), .init("docker_socket", \.dockerSocket), .init("inbound_length", \.inboundLength),
         .init("outbound_length", \.outboundLength), .init("inbound_quantity", \.inboundQuantity),
         .init("outbound_quantity", \.outboundQuantity), .init("converge_interval", \.convergeInterval)]
    }
}
