import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// HTTP/1.1 GET (and body-less POST) requests over a Unix stream socket, one request per connection.
/// `connect` hands over a new connected fd each time; it may block (the helper
/// connects it), so it runs on NIO's thread pool, never on an event loop.
struct UnixHTTPClient: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
    typealias Parts = NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator

    /// How much of an error answer's body is read for its message.
    static let errorBodyLimit = 64 * 1024

    let connect: @Sendable () throws -> Int32
    let group: any EventLoopGroup

    /// The body of a 2xx answer to GET `target`, at most `limit` bytes, within `timeout`.
    func get(_ target: String, limit: Int, timeout: Duration) async throws -> ByteBuffer {
        let request = Self.describe(target)
        return try await withDeadline(timeout, else: .timedOut(request: request, after: timeout)) {
            try await self.exchange(target) { parts in
                try await Self.collectBody(&parts, limit: limit, request: request)
            }
        }
    }

    /// POSTs `target` with no body (`/containers/{id}/kill`); returns the 2xx answer's body.
    func post(_ target: String, limit: Int, timeout: Duration) async throws -> ByteBuffer {
        let request = Self.describe(target, method: .POST)
        return try await withDeadline(timeout, else: .timedOut(request: request, after: timeout)) {
            try await self.exchange(target, method: .POST) { parts in
                try await Self.collectBody(&parts, limit: limit, request: request)
            }
        }
    }

    /// GETs `target`, calls `onSubscribed` once the 2xx head is in, and passes each body chunk to `onChunk`, for as
    /// long as the daemon sends. Never returns normally: it throws when the stream
    /// ends, when `onChunk` throws, or when the calling task is cancelled.
    func stream(_ target: String, onSubscribed: () -> Void = {}, onChunk: (ByteBuffer) throws -> Void) async throws {
        let request = Self.describe(target)
        try await exchange(target) { parts in
            onSubscribed()
            while let part = try await parts.next() {
                switch part {
                case .body(let chunk): try onChunk(chunk)
                case .end: break  // the daemon closes the connection next
                case .head: throw RuntimeAPIError.malformed(request: request, detail: "a second response head")
                }
            }
            try Task.checkCancellation()
            throw RuntimeAPIError.connectionLost(request: request, detail: "closed by the runtime")
        }
    }

    /// Connects, sends the request and reads the response head; hands the rest of
    /// a 2xx answer to `body`. Any other status becomes `RuntimeAPIError.http`.
    private func exchange<Result: Sendable>(
        _ target: String, method: HTTPMethod = .GET, body: (inout Parts) async throws -> Result
    ) async throws -> Result {
        let request = Self.describe(target, method: method)
        let connection = try await open()
        do {
            return try await talk(connection, method, target, request, body: body)
        } catch let error as RuntimeAPIError {
            throw error
        } catch {
            try Task.checkCancellation()
            // NIO's own words (a reset, "stream ended at an unexpected time"), with the request.
            throw RuntimeAPIError.connectionLost(request: request, detail: "\(error)")
        }
    }

    private func talk<Result: Sendable>(
        _ connection: Connection, _ method: HTTPMethod, _ target: String, _ request: String, body: (inout Parts) async throws -> Result
    ) async throws -> Result {
        try await connection.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: target)
            // Go's HTTP server rejects an HTTP/1.1 request without Host.
            head.headers.add(name: "Host", value: "localhost")
            head.headers.add(name: "Connection", value: "close")
            if method == .POST { head.headers.add(name: "Content-Length", value: "0") }
            // One write: a daemon that answers after the head and closes must not
            // make a separate write of the end fail (seen as "I/O on closed channel").
            // If the write fails anyway, whatever it answered is still read below.
            try? await outbound.write(contentsOf: [.head(head), .end(nil)])
            var parts = inbound.makeAsyncIterator()
            guard case .head(let response)? = try await parts.next() else {
                try Task.checkCancellation()
                throw RuntimeAPIError.connectionLost(request: request, detail: "closed by the runtime")
            }
            guard (200..<300).contains(response.status.code) else {
                let text = (try? await Self.collectBody(&parts, limit: Self.errorBodyLimit, request: request))
                    .map { String(buffer: $0) } ?? ""
                throw RuntimeAPIError.http(
                    request: request, status: Int(response.status.code), reason: response.status.reasonPhrase,
                    message: Self.daemonMessage(text))
            }
            return try await body(&parts)
        }
    }

    private func open() async throws -> Connection {
        let fd = try await NIOThreadPool.singleton.runIfActive(connect)
        // A connect that finished after a timeout or cancellation: nobody wants it.
        if Task.isCancelled {
            close(fd)
            throw CancellationError()
        }
        return try await ClientBootstrap(group: group).withConnectedSocket(fd) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try Connection(wrappingChannelSynchronously: channel)
            }
        }
    }

    private static func collectBody(_ parts: inout Parts, limit: Int, request: String) async throws -> ByteBuffer {
        var body = ByteBuffer()
        while let part = try await parts.next() {
            switch part {
            case .body(var chunk):
                guard body.readableBytes + chunk.readableBytes <= limit else {
                    throw RuntimeAPIError.bodyTooLarge(request: request, limit: limit)
                }
                body.writeBuffer(&chunk)
            case .end: return body
            case .head: throw RuntimeAPIError.malformed(request: request, detail: "a second response head")
            }
        }
        try Task.checkCancellation()
        throw RuntimeAPIError.connectionLost(request: request, detail: "closed by the runtime")
    }

    /// The daemon's {"message": ...} (Docker and Podman both send one), else the text itself.
    static func daemonMessage(_ body: String) -> String {
        if let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
           let message = object["message"] as? String {
            return message
        }
        return String(body.trimmingCharacters(in: .whitespacesAndNewlines).prefix(500))
    }

    /// "GET /containers/json": the target without its (long, percent-encoded) query, for messages.
    static func describe(_ target: String, method: HTTPMethod = .GET) -> String {
        "\(method.rawValue) " + (target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target)
    }
}

/// Runs `operation`, cancelling it when `timeout` passes first (then throws `timeoutError`).
/// Cancellation ends a pending read: the connection closes and the operation unwinds.
private func withDeadline<T: Sendable>(
    _ timeout: Duration, else timeoutError: RuntimeAPIError, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        if case .some(.some(let value)) = try await group.next() { return value }
        throw timeoutError
    }
}
