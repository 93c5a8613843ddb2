import IPC
import Logging
import NIOCore
import NIOPosix

/// Connects once to each new container (its first DNAT port, else its first
/// published port), so the kernel has routed both directions before outside
/// traffic arrives and rp_filter does not drop the first packets.
struct ReversePathWarmup {
    let group: any EventLoopGroup
    let logger: Logger

    func warm(_ containers: [WatchedContainer], rules: [ContainerKey: [ContainerRule]]) async {
        await withTaskGroup(of: Void.self) { tasks in
            for container in containers {
                guard let key = ContainerKey(containerID: container.id), let address = container.ipv4,
                      let port = Self.port(rules[key] ?? [], container) else { continue }
                tasks.addTask { await self.connect(container.name, address, port) }
            }
        }
    }

    static func port(_ rules: [ContainerRule], _ container: WatchedContainer) -> Int? {
        for rule in rules {
            if case .dnat(.tcp, _, _, let target) = rule { return Int(target) }
        }
        return container.publishedPorts.first { $0.proto == "tcp" }.map { Int($0.containerPort) }
    }

    private func connect(_ name: String, _ address: String, _ port: Int) async {
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(2))
                .connect(host: address, port: port).get()
            try? await channel.close()
            logger.info("reverse path warmed up", metadata: ["container": "\(name)", "to": "\(address):\(port)"])
        } catch {
            // A refused or timed-out connection has still sent packets both ways or tried to.
            logger.info("reverse path warm-up attempted", metadata: ["container": "\(name)", "to": "\(address):\(port)", "result": "\(error)"])
        }
    }
}
