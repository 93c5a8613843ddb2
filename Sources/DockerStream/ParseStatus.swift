/// What a `feed` call found.
public enum ParseStatus: Equatable, Sendable {
    /// Every byte was consumed; the stream may continue.
    case ok
    /// The stream reached its proper end (for `ChunkedDecoder`: the last chunk and its
    /// trailer section). The last `unconsumed` bytes of this call lie beyond the end
    /// and were not examined; later calls report all their bytes as unconsumed.
    /// `MultiplexedStreamParser` never returns this: its stream has no end marker.
    case ended(unconsumed: Int)
    /// The stream is malformed. The state is sticky: later calls return the same
    /// error and emit nothing, so the caller reports it once and stops scanning.
    case failed(ProtocolError)
}
