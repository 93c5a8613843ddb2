import DockerStream

/// One audited response body, on the connection's event loop: Docker's framing
/// turned into per-stream byte runs, handed to the pipeline after each read.
final class StreamAuditor {
    private enum Mode {
        /// The first 8 bytes tell the framing (a frame header is {0|1|2|3, 0, 0, 0, size};
        /// a TTY stream starts with the program's output).
        case sniffing([UInt8])
        case multiplexed(MultiplexedStreamParser)
        case raw
        case broken
    }

    private let id: UInt64
    private let pipeline: AuditPipeline
    private var mode: Mode
    private var pending: [String: [UInt8]] = [:]

    init(pipeline: AuditPipeline, connection: UInt64, container: String, source: String, contentType: String?) {
        self.pipeline = pipeline
        id = pipeline.newStreamID()
        let type = contentType?.lowercased() ?? ""
        // Only API >= 1.42 says "multiplexed-stream"; older daemons label both framings
        // raw-stream (or, for logs, nothing useful), so the first bytes decide.
        mode = type.contains("multiplexed-stream") ? .multiplexed(MultiplexedStreamParser()) : .sniffing([])
        pipeline.submit(.open(stream: id, connection: connection, container: container, source: source)) {}
    }

    func feed(_ bytes: UnsafeRawBufferPointer) {
        switch mode {
        case .sniffing(var head):
            let take = min(8 - head.count, bytes.count)
            head.append(contentsOf: bytes.prefix(take))
            guard head.count == 8 else { mode = .sniffing(head); return }
            let framed = head[0] <= 3 && head[1] == 0 && head[2] == 0 && head[3] == 0
            mode = framed ? .multiplexed(MultiplexedStreamParser()) : .raw
            // Replay the sniffed bytes, then the rest of this read, through the chosen framing.
            head.withUnsafeBytes { feed($0) }
            if bytes.count > take { feed(UnsafeRawBufferPointer(rebasing: bytes[take...])) }
        case .multiplexed(var parser):
            let status = parser.feed(bytes) { kind, slice in
                self.pending[Self.name(kind), default: []].append(contentsOf: slice)
            }
            mode = .multiplexed(parser)
            if case .failed(let error) = status { fail("\(error)") }
        case .raw:
            pending["tty", default: []].append(contentsOf: bytes)
        case .broken:
            break
        }
    }

    /// Hands this read's bytes to the pipeline; false means "pause until `whenRoom`".
    func flush(whenRoom: @escaping @Sendable () -> Void) -> Bool {
        var room = true
        for (kind, bytes) in pending where !bytes.isEmpty {
            room = pipeline.submit(.data(stream: id, kind: kind, bytes: bytes), whenRoom: whenRoom) && room
        }
        pending.removeAll(keepingCapacity: true)
        return room
    }

    /// The body ended (or the connection closed): a cut frame is a protocol error.
    func finish() {
        if case .sniffing(let head) = mode {  // fewer than 8 bytes in all: not framed
            mode = .raw
            pending["tty", default: []].append(contentsOf: head)
        }
        _ = flush {}
        if case .multiplexed(var parser) = mode, let error = parser.finish() { fail("\(error)") }
        pipeline.submit(.close(stream: id)) {}
    }

    func fail(_ detail: String) {
        mode = .broken
        pipeline.submit(.protocolError(stream: id, detail: detail)) {}
    }

    static func name(_ kind: StreamKind) -> String {
        switch kind {
        case .stdin: "stdin"
        case .stdout: "stdout"
        case .stderr: "stderr"
        case .systemError: "system_error"
        }
    }
}
