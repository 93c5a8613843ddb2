import Config
import Glibc
import IPC
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The ssh service: for each remote, a local Docker socket whose connections are
/// carried, one channel each, over that remote's single SSH connection.
struct SSHService: Service {
    let remotes: [SSHRemote]
    /// Nil for the standalone proxy, which binds its sockets itself.
    let helper: HelperClient?
    let group: any EventLoopGroup
    let logger: Logger

    func run() async throws {
        var servers: [(any Channel, SSHRemoteLinks, ownPath: String?)] = []
        do {
            for remote in remotes {
                let (fd, ownPath) = try listener(for: remote)
                let link = SSHRemoteLinks(target: remote, logger: logger)
                link.start()
                let logger = self.logger
                let server = try await ServerBootstrap(group: group)
                    .serverChannelOption(.backlog, value: 256)
                    .childChannelOption(.allowRemoteHalfClosure, value: true)
                    .childChannelInitializer { client in
                        let id = ConnectionID.new()
                        return client.eventLoop.makeCompletedFuture {
                            try client.pipeline.syncOperations.addHandler(SSHClientHandler(link: link, id: id, logger: logger))
                        }
                    }
                    .withBoundSocket(fd).get()
                servers.append((server, link, ownPath))
                logger.notice("listening", metadata: [
                    "remote": "\(remote.name)", "local_socket": "\(remote.localSocket)", "ssh_host": "\(remote.sshHost)",
                    "remote_socket": "\(remote.remoteSocket)", "bound_by": "\(ownPath == nil ? "helper" : "agent")",
                ])
            }
        } catch {
            await stop(servers)
            throw error
        }
        let links = servers.map(\.1)
        StatusBoard.shared.facts("ssh") { ["open_connections": .count(links.reduce(0) { $0 + $1.openConnections.load(ordering: .relaxed) })] }
        try? await gracefulShutdown()
        await stop(servers)
        logger.notice("stopped")
    }

    private func stop(_ servers: [(any Channel, SSHRemoteLinks, ownPath: String?)]) async {
        for (server, link, ownPath) in servers {
            try? await server.close()
            await link.stop()
            if let ownPath { unlink(ownPath) }
        }
    }

    /// The local socket: bound by the agent when it owns the directory (or runs
    /// without a helper), else by the helper under the name `ssh-NAME`.
    private func listener(for remote: SSHRemote) throws -> (Int32, ownPath: String?) {
        if helper == nil || OwnUnixSocket.isOwnPath(remote.localSocket) {
            let mode = remote.mode.bits
            return (try OwnUnixSocket.bind(remote.localSocket, mode: mode), remote.localSocket)
        }
        return (try helper!.bindUnixListener(remote.listenerName), nil)
    }
}
