import DockerStream
import NIOCore

/// Watches client → daemon bytes and notes each request's endpoint, passing every
/// byte on untouched. After an attach or exec start, the rest is the container's
/// stdin and is not parsed.
final class RequestTap: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum State {
        case head(HTTPHeadReader)
        case body(remaining: UInt64, then: DockerEndpoint)
        case chunked(ChunkedDecoder, then: DockerEndpoint)
        case stdin
    }

    private let exchanges: ExchangeLog
    private var state = State.head(HTTPHeadReader())

    init(exchanges: ExchangeLog) { self.exchanges = exchanges }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        unwrapInboundIn(data).withUnsafeReadableBytes { observe($0) }
        context.fireChannelRead(data)
    }

    private func observe(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            switch state {
            case .head(var reader):
                switch reader.feed(rest) {
                case .needMore:
                    state = .head(reader)
                    return
                case .invalid:
                    state = .stdin  // not HTTP we understand: pass through, stop parsing
                    return
                case .head(let head, let consumed):
                    rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
                    let endpoint = DockerEndpoint(method: head.first, target: head.second)
                    exchanges.waiting.append(.init(endpoint: endpoint, isHead: head.first == "HEAD"))
                    if head.isChunked {
                        state = .chunked(ChunkedDecoder(), then: endpoint)
                    } else if let length = head.contentLength, length > 0 {
                        state = .body(remaining: length, then: endpoint)
                    } else {
                        afterBody(endpoint)
                    }
                }
            case .body(let remaining, let endpoint):
                let n = min(UInt64(rest.count), remaining)
                rest = UnsafeRawBufferPointer(rebasing: rest[Int(n)...])
                if n == remaining { afterBody(endpoint) } else { state = .body(remaining: remaining - n, then: endpoint) }
            case .chunked(var decoder, let endpoint):
                switch decoder.feed(rest, emit: { _ in }) {
                case .ok:
                    state = .chunked(decoder, then: endpoint)
                    return
                case .ended(let unconsumed):
                    rest = UnsafeRawBufferPointer(rebasing: rest[(rest.count - unconsumed)...])
                    afterBody(endpoint)
                case .failed:
                    state = .stdin
                    return
                }
            case .stdin:
                return
            }
        }
    }

    private func afterBody(_ endpoint: DockerEndpoint) {
        switch endpoint {
        case .attach, .execStart: state = .stdin
        default: state = .head(HTTPHeadReader())
        }
    }
}
