import Config
import NIOCore
import NIOHTTP1
import NIOPosix

/// GETs one path from the running agent's observability listener (`metrics.listen`).
struct StatusClient {
    typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let listen: MetricsAddress
    let group: any EventLoopGroup
    /// The documents are small; anything larger is not our agent.
    static let bodyLimit = 4 << 20

    func get(_ path: String, timeout: Duration) async throws -> (status: UInt, body: [UInt8]) {
        try await withThrowingTaskGroup(of: (UInt, [UInt8]).self) { tasks in
            tasks.addTask { try await exchange(path) }
            tasks.addTask {
                try await Task.sleep(for: timeout)
                throw Failure(description: "no answer from \(listen) within \(timeout)")
            }
            defer { tasks.cancelAll() }
            guard let answer = try await tasks.next() else { throw Failure(description: "no answer from \(listen)") }
            return answer
        }
    }

    private func exchange(_ path: String) async throws -> (UInt, [UInt8]) {
        let connection = try await connect()
        return try await connection.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
            head.headers.add(name: "Host", value: "localhost")
            head.headers.add(name: "Connection", value: "close")
            try await outbound.write(contentsOf: [.head(head), .end(nil)])
            var status: UInt = 0
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let response): status = response.status.code
                case .body(let chunk):
                    guard body.count + chunk.readableBytes <= Self.bodyLimit else { throw Failure(description: "answer over \(Self.bodyLimit) bytes") }
                    body += chunk.readableBytesView
                case .end: return (status, body)
                }
            }
            throw Failure(description: "\(listen) closed the connection before answering")
        }
    }

    private func connect() async throws -> Connection {
        let bootstrap = ClientBootstrap(group: group)
        let setUp: @Sendable (any Channel) -> EventLoopFuture<Connection> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try Connection(wrappingChannelSynchronously: channel)
            }
        }
        do {
            switch listen {
            case .unix(let path): return try await bootstrap.connect(unixDomainSocketPath: path, channelInitializer: setUp)
            case .tcp(let address): return try await bootstrap.connect(host: address.host, port: Int(address.port), channelInitializer: setUp)
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "cannot connect to \(listen): \(error) (is bulkhead-helper running, with a metrics: section?)")
        }
    }
}
