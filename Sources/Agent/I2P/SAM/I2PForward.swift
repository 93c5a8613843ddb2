import Logging
import NIOCore
import NIOPosix

/// A service destination's inbound side: a TCP listener on the address the control
/// socket came from (i2pd 2.45 connects back to the SAM client's IP; `HOST=` exists only
/// from 2.57), announced with `STREAM FORWARD ... SILENT=false` on a SAM socket that
/// stays open as long as the forward lives. The peer's address is not checked: i2pd's
/// source address is whatever its host routes from (on the test network, router 2's
/// connections come from 198.18.99.1), and anything that can reach this listener can
/// reach the container's port directly anyway.
struct I2PForward: Sendable {
    let listener: any Channel
    let announcement: SAMConnection

    static func start(
        session id: String, control: SAMConnection, options: SAMSessionOptions, label: String,
        target: @escaping @Sendable () -> SocketAddress?, logger: Logger
    ) async throws -> I2PForward {
        guard let host = control.channel.localAddress?.ipAddress else { throw SAMError.closed }
        let listener = try await ServerBootstrap(group: control.channel.eventLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(I2PInboundHandler(label: label, target: target, logger: logger))
                }
            }
            .bind(host: host, port: 0).get()
        do {
            guard let port = listener.localAddress?.port else { throw SAMError.closed }
            let announcement = try await SAMConnection.open(options.bridge, on: listener.eventLoop, timeout: options.requestTimeout)
            do {
                _ = try await announcement.request("STREAM FORWARD ID=\(id) PORT=\(port) SILENT=false", timeout: options.requestTimeout)
                    .expect("STREAM", "STATUS")
            } catch {
                announcement.close()
                throw error
            }
            return I2PForward(listener: listener, announcement: announcement)
        } catch {
            listener.close(promise: nil)
            throw error
        }
    }

    /// Resolves when the FORWARD socket or the listener closed.
    var closed: EventLoopFuture<Void> {
        let either = listener.eventLoop.makePromise(of: Void.self)
        listener.closeFuture.whenComplete { _ in either.succeed() }
        announcement.closed.whenComplete { _ in either.succeed() }
        return either.futureResult
    }

    func close() {
        announcement.close()
        listener.close(promise: nil)
    }
}
