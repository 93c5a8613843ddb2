/// Watches daemon → client bytes, of which every one goes on untouched: finds each
/// response's framing (Content-Length, chunked, until close, or a 101/hijacked
/// stream) and feeds the bodies of logs/attach/exec responses to a StreamAuditor;
/// other bodies move unseen. If the audit queue is full under the `block` policy,
/// it stops reading from the daemon until the scanner catches up.
final class ResponseTap: SpliceTap {
    private enum State {
        /// Responses: their heads and bodies.
        case http
        case untilClose
        case broken
    }

    private let exchanges: ExchangeLog
    private let pipeline: AuditPipeline
    private let containers: ContainerDirectory
    /// The client connection's id (`conn` in the log), for the streams it carries.
    private let connection: UInt64
    private var state = State.http
    private var messages = HTTPMessageReader()
    private var auditor: StreamAuditor?
    /// An exec-create or inspect response body being collected (bounded) to learn an id.
    private var learning: (endpoint: DockerEndpoint, body: [UInt8])?
    static let maxLearnedBody = 256 * 1024
    private(set) var waiting = false
    var wake: (@Sendable () -> Void)?

    init(exchanges: ExchangeLog, pipeline: AuditPipeline, containers: ContainerDirectory, connection: UInt64) {
        self.exchanges = exchanges; self.pipeline = pipeline; self.containers = containers; self.connection = connection
    }

    func see(_ bytes: UnsafeRawBufferPointer) -> Int {
        let taken = observe(bytes)
        if let auditor {
            let wake = self.wake
            if !auditor.flush(whenRoom: { wake?() }) { waiting = true }
        }
        return taken
    }

    /// A body's content is wanted: scanned, or read for an id.
    private var watching: Bool { auditor != nil || learning != nil }

    /// Bodies nobody scans or learns from, and anything after a framing the tap
    /// cannot follow (passed on, not parsed).
    var skippable: Int {
        switch state {
        case .http: watching ? 0 : Int(clamping: messages.skippable)
        case .untilClose: watching ? 0 : Int.max
        case .broken: Int.max
        }
    }

    /// Scanned streams in large reads; heads and chunk sizes are short.
    var peekLimit: Int { watching ? Int.max : 4096 }

    func skipped(_ count: Int) {
        guard case .http = state else { return }
        if case .bodyEnded = messages.skip(count) { endBody() }
    }

    /// A refused request's answer, once every earlier response was passed on.
    func lastWords() -> [UInt8]? {
        guard let answer = exchanges.refusal, exchanges.idle else { return nil }
        exchanges.refusal = nil
        return answer
    }

    func woken() { waiting = false }

    func ended() { endBody() }

    /// Follows `bytes`; returns how many it took: it stops where bytes that move
    /// unseen begin.
    private func observe(_ bytes: UnsafeRawBufferPointer) -> Int {
        var rest = bytes
        while !rest.isEmpty {
            switch state {
            case .untilClose:
                guard watching else { return bytes.count - rest.count }
                take(rest)
                return bytes.count
            case .broken:
                return bytes.count - rest.count
            case .http:
                break
            }
            switch watching ? messages.read(rest, take: take) : messages.readFraming(rest) {
            case .headIncomplete, .bodyContinues:
                return bytes.count
            case .atSkippableData(let consumed):
                return bytes.count - rest.count + consumed
            case .invalidHead(let why), .invalidBody(let why):
                state = .broken
                auditor?.fail(why)
                return bytes.count - rest.count
            case .head(let head, let consumed):
                rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
                begin(head)
            case .bodyEnded(let consumed):
                rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
                endBody()
            }
        }
        return bytes.count
    }

    private func begin(_ head: HTTPHead) {
        let status = Int(head.second) ?? 0
        if (100..<200).contains(status), status != 101 { return }  // interim: the final head follows
        guard !exchanges.waiting.isEmpty else { state = .broken; return }  // a response nobody asked for
        let exchange = exchanges.waiting.removeFirst()
        exchanges.answering = true
        let endpoint = exchange.endpoint
        if endpoint.isStream, status == 101 || (200..<300).contains(status) {
            let container: String
            switch endpoint {
            case .logs(let c), .attach(let c): container = containers.id(of: c)
            case .execStart(let e): container = containers.container(ofExec: e)
            default: container = ""
            }
            auditor = StreamAuditor(pipeline: pipeline, connection: connection, container: container, source: endpoint.source, contentType: head.header("Content-Type"))
        }
        switch endpoint {
        case .execCreate, .inspect: if (200..<300).contains(status) { learning = (endpoint, []) }
        default: break
        }
        defer {
            switch endpoint {
            case .attach, .execStart:
                let hijacked = if case .untilClose = state { true } else { false }
                if let answered = exchanges.hijackAnswered {
                    exchanges.hijackAnswered = nil
                    answered(hijacked)
                }
            default: break
            }
        }
        if status == 101 {
            state = .untilClose  // hijacked: raw bytes until the connection ends
        } else if exchange.isHead || status == 204 || status == 304 {
            endBody()
        } else if head.isChunked {
            messages.startChunkedBody()
        } else if let length = head.contentLength {
            if length == 0 { endBody() } else { messages.startBody(length: length) }
        } else {
            state = .untilClose  // e.g. a 200 raw-stream that hijacks without Upgrade
        }
    }

    private func take(_ bytes: UnsafeRawBufferPointer) {
        auditor?.feed(bytes)
        if learning != nil, learning!.body.count < Self.maxLearnedBody {
            learning!.body.append(contentsOf: bytes.prefix(Self.maxLearnedBody - learning!.body.count))
        }
    }

    private func endBody() {
        auditor?.finish()
        auditor = nil
        exchanges.responseEnded()
        if let (endpoint, body) = learning, let id = ContainerDirectory.id(fromJSON: body) {
            switch endpoint {
            case .execCreate(let reference): containers.remember(exec: id, container: containers.id(of: reference))
            case .inspect(let reference): containers.remember(reference: reference, id: id)
            default: break
            }
        }
        learning = nil
        if case .broken = state { return }
        state = .http
        messages = HTTPMessageReader()
    }
}
