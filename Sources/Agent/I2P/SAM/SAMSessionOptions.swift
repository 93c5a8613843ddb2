import Config
import NIOCore

/// How the agent talks to the SAM bridge: where, the tunnels every session asks for,
/// and how long each exchange may take.
struct SAMSessionOptions: Sendable {
    var bridge: SocketAddress
    var inboundLength: Int
    var outboundLength: Int
    var inboundQuantity: Int
    var outboundQuantity: Int
    /// HELLO, NAMING LOOKUP, STREAM FORWARD (i2pd gives up a lookup after 12 s).
    var requestTimeout: Duration = .seconds(15)
    /// SESSION CREATE: i2pd 2.45 answers once the tunnels are built, about 20 s here.
    var createTimeout: Duration = .seconds(120)
    /// STREAM CONNECT: answered once the peer's LeaseSet is found (CANT_REACH_PEER after ~5 s).
    var connectTimeout: Duration = .seconds(20)
    /// The first wait after a session was lost: i2pd tears the old session down about
    /// 5 s after its socket closed, and may take the reused destination with it.
    var firstRetry: Duration = .seconds(6)
    var maxRetry: Duration = .seconds(60)
    /// How long a container's connection waits for its outbound session to come up.
    var sessionWait: Duration = .seconds(90)

    init(_ section: I2PSection) throws {
        let bridge = try SocketAddress(ipAddress: section.sam.host, port: Int(section.sam.port))
        self.init(bridge: bridge, inboundLength: section.inboundLength, outboundLength: section.outboundLength,
                  inboundQuantity: section.inboundQuantity, outboundQuantity: section.outboundQuantity)
    }

    init(bridge: SocketAddress, inboundLength: Int, outboundLength: Int, inboundQuantity: Int, outboundQuantity: Int) {
        self.bridge = bridge
        self.inboundLength = inboundLength; self.outboundLength = outboundLength
        self.inboundQuantity = inboundQuantity; self.outboundQuantity = outboundQuantity
    }

    /// SESSION CREATE for a STREAM session: Ed25519 signatures, ECIES-X25519 with ElGamal
    /// fallback, the configured tunnels (always explicit: i2pd's default quantity is 5),
    /// and the saved key or TRANSIENT for a new one.
    func createCommand(id: String, key: I2PPrivateKey?) -> String {
        "SESSION CREATE STYLE=STREAM ID=\(id) DESTINATION=\(key?.text ?? "TRANSIENT") SIGNATURE_TYPE=7 i2cp.leaseSetEncType=4,0"
            + " inbound.length=\(inboundLength) outbound.length=\(outboundLength)"
            + " inbound.quantity=\(inboundQuantity) outbound.quantity=\(outboundQuantity)"
    }
}
