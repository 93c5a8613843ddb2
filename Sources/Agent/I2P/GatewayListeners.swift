import IPC
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The agent's sockets on each plugin network's gateway: DNS (UDP and TCP) at
/// `dns_port` and the transparent proxy at `transparent_port`. IP_FREEBIND lets them
/// bind before the gateway address exists on any link (it appears with the first one).
final class GatewayListeners: Sendable {
    static let freeBind = ChannelOptions.Types.SocketOption(level: SocketOptionLevel(0), name: SocketOptionName(15))  // IPPROTO_IP, IP_FREEBIND

    let dnsPort: Int
    let transparentPort: Int
    let group: any EventLoopGroup
    let responder: I2PDNSResponder
    let proxy: TransparentProxy
    let logger: Logger
    private let bound = Mutex<[UInt32: [any Channel]]>([:])

    init(dnsPort: UInt16, transparentPort: UInt16, group: any EventLoopGroup, responder: I2PDNSResponder, proxy: TransparentProxy, logger: Logger) {
        self.dnsPort = Int(dnsPort); self.transparentPort = Int(transparentPort)
        self.group = group; self.responder = responder; self.proxy = proxy; self.logger = logger
    }

    /// Listens on exactly `gateways`: binds the new ones (a failure is logged and
    /// retried at the next call) and closes the others.
    func sync(_ gateways: Set<IPv4Address>) async {
        let current = Set(bound.withLock { $0.keys })
        for gone in current.subtracting(gateways.map(\.value)) {
            let channels = bound.withLock { $0.removeValue(forKey: gone) } ?? []
            for channel in channels { try? await channel.close() }
            logger.notice("stopped listening", metadata: ["gateway": "\(IPv4Address(gone).map(\.description) ?? "?")"])
        }
        for gateway in gateways where !current.contains(gateway.value) {
            do {
                let channels = try await bind(gateway)
                bound.withLock { $0[gateway.value] = channels }
                logger.notice("listening", metadata: ["gateway": "\(gateway)", "dns_port": .stringConvertible(dnsPort), "transparent_port": .stringConvertible(transparentPort)])
            } catch {
                logger.error("cannot listen on a gateway; retrying later", metadata: ["gateway": "\(gateway)", "error": "\(error)"])
            }
        }
    }

    func closeAll() async { await sync([]) }

    private func bind(_ gateway: IPv4Address) async throws -> [any Channel] {
        let host = gateway.description
        let responder = responder, proxy = proxy
        var channels: [any Channel] = []
        do {
            channels.append(try await DatagramBootstrap(group: group)
                .channelOption(Self.freeBind, value: 1)
                .channelInitializer { c in c.eventLoop.makeCompletedFuture { try c.pipeline.syncOperations.addHandler(DNSDatagramHandler(responder: responder)) } }
                .bind(host: host, port: dnsPort).get())
            channels.append(try await ServerBootstrap(group: group)
                .serverChannelOption(Self.freeBind, value: 1)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { c in c.eventLoop.makeCompletedFuture { try c.pipeline.syncOperations.addHandler(DNSStreamHandler(responder: responder)) } }
                .bind(host: host, port: dnsPort).get())
            channels.append(try await ServerBootstrap(group: group)
                .serverChannelOption(Self.freeBind, value: 1)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.autoRead, value: false)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { c in
                    proxy.accepted(c)
                    return c.eventLoop.makeSucceededVoidFuture()
                }
                .bind(host: host, port: transparentPort).get())
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return channels
    }
}
