import Config
import IPC
import Logging
import NIOCore
import Synchronization

/// The one place the i2p service gets its session directory (MERGE POINT: return the
/// SAM side's implementation here once it is on main).
func makeSessionDirectory(settings: I2PSection, group: any EventLoopGroup, logger: Logger) -> any I2PSessionDirectory {
    UnbuiltSessionDirectory(logger: logger)
}

/// Stands in for the SAM side until it is built: remembers who would be on I2P (so
/// `i2p status` shows them) and refuses every stream.
final class UnbuiltSessionDirectory: I2PSessionDirectory {
    struct NotBuilt: Error, CustomStringConvertible {
        var description: String { "SAM side not built yet" }
    }

    private let attached = Mutex<[String: [UInt16]]>([:])
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func attach(container name: String, address: IPv4Address, ports: [UInt16]) {
        attached.withLock { $0[name] = ports }
        logger.warning("no I2P session: SAM side not built yet", metadata: ["container": "\(name)"])
    }

    func detach(container name: String) { _ = attached.withLock { $0.removeValue(forKey: name) } }

    func connect(from name: String, to host: String, on loop: any EventLoop) async throws -> (channel: any Channel, leftover: ByteBuffer?) {
        throw NotBuilt()
    }

    func snapshot() -> [I2PContainerStatus] {
        let stopped = I2PContainerStatus.Session(port: nil, address: nil, state: "stopped", detail: NotBuilt().description)
        return attached.withLock { $0 }.map { name, ports in
            I2PContainerStatus(container: name, outbound: stopped, services: ports.map { var s = stopped; s.port = $0; return s })
        }
    }
}
