/// Incremental parser for Docker's multiplexed log/attach stream (containers with
/// Tty=false): repeated frames of an 8-byte header
///
///     type: u8 (StreamKind) | 0 | 0 | 0 | size: u32 big-endian
///
/// followed by `size` payload bytes.
///
/// Payload is handed out as it arrives, as slices of the caller's buffer: a frame is
/// never collected, so a 1 GiB frame comes out in as many pieces as the reads that
/// carried it. The only bytes kept between calls are the up to 8 of a split header,
/// and those are kept as integers, so the state is a fixed-size value with no heap
/// storage whatever the input claims. Any u32 size is accepted (Docker does not cap
/// frames) because nothing is allocated from it.
///
/// Frames are not line-aligned and Docker splits lines over 16 KiB across frames, so
/// a scanner should treat the slices of one kind as one continuous stream.
///
/// Typical use behind a `ChunkedDecoder`:
///
///     let status = decoder.feed(raw) { body in
///         _ = parser.feed(body) { kind, payload in scanner.scan(kind, payload) }
///     }
public struct MultiplexedStreamParser: Sendable {
    public static let headerSize = 8

    /// Totals since the start of the stream.
    public struct Counters: Equatable, Sendable {
        /// Frames whose header has been read completely (including zero-size frames).
        public internal(set) var frames: UInt64 = 0
        public internal(set) var stdinBytes: UInt64 = 0
        public internal(set) var stdoutBytes: UInt64 = 0
        public internal(set) var stderrBytes: UInt64 = 0
        public internal(set) var systemErrorBytes: UInt64 = 0

        /// Payload bytes emitted for `kind`.
        public subscript(kind: StreamKind) -> UInt64 {
            switch kind {
            case .stdin: stdinBytes
            case .stdout: stdoutBytes
            case .stderr: stderrBytes
            case .systemError: systemErrorBytes
            }
        }

        mutating func add(_ n: Int, to kind: StreamKind) {
            switch kind {
            case .stdin: stdinBytes &+= UInt64(n)
            case .stdout: stdoutBytes &+= UInt64(n)
            case .stderr: stderrBytes &+= UInt64(n)
            case .systemError: systemErrorBytes &+= UInt64(n)
            }
        }
    }

    public private(set) var counters = Counters()
    /// Input bytes accepted so far (up to the offending byte once an error occurred).
    public private(set) var bytesConsumed: UInt64 = 0
    /// The sticky error, once one occurred.
    public private(set) var error: ProtocolError?

    /// Header bytes held across calls: always 0...8, whatever the input.
    public var bufferedByteCount: Int { headerReceived }

    /// True between frames (no partial header, no payload outstanding): where a stream
    /// may end cleanly.
    public var isAtFrameBoundary: Bool { headerReceived == 0 && remaining == 0 }

    // Current frame. `kind` and `size` are filled in byte by byte while a header is split.
    private var kind: StreamKind = .stdout
    private var size: UInt32 = 0
    private var remaining: UInt32 = 0
    private var headerReceived = 0
    private var frameStart: UInt64 = 0

    public init() {}

    /// Parses `bytes`, calling `emit` with each run of payload (never empty) in order.
    /// The slices point into `bytes` and are valid only during the call.
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer,
        emit: (StreamKind, UnsafeRawBufferPointer) -> Void
    ) -> ParseStatus {
        if let error { return .failed(error) }
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return .ok }
        let end = bytes.count
        var i = 0
        while i < end {
            if remaining > 0 {
                // Compared as UInt so a 4 GiB claim cannot trap on a 32-bit Int.
                let n = UInt(remaining) < UInt(end - i) ? Int(remaining) : end - i
                emit(kind, UnsafeRawBufferPointer(start: base + i, count: n))
                remaining -= UInt32(truncatingIfNeeded: n)
                counters.add(n, to: kind)
                i += n
            } else if headerReceived == 0 && end - i >= Self.headerSize {
                // Whole header in this buffer: the common case.
                frameStart = bytesConsumed + UInt64(i)
                for p in 0..<4 {
                    if let failure = headerByte(base.load(fromByteOffset: i + p, as: UInt8.self), position: p) {
                        return fail(failure, consumed: i)
                    }
                }
                size = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                i += Self.headerSize
                startPayload()
            } else {
                // Header split across calls: take it one byte at a time.
                if headerReceived == 0 { frameStart = bytesConsumed + UInt64(i) }
                if let failure = headerByte(base.load(fromByteOffset: i, as: UInt8.self), position: headerReceived) {
                    return fail(failure, consumed: i)
                }
                headerReceived += 1
                i += 1
                if headerReceived == Self.headerSize {
                    headerReceived = 0
                    startPayload()
                }
            }
        }
        bytesConsumed += UInt64(end)
        return .ok
    }

    /// Convenience for any byte collection; contiguous ones are not copied.
    public mutating func feed<Bytes: Collection<UInt8>>(
        _ bytes: Bytes,
        emit: (StreamKind, UnsafeRawBufferPointer) -> Void
    ) -> ParseStatus {
        if let status = bytes.withContiguousStorageIfAvailable({ feed(UnsafeRawBufferPointer($0), emit: emit) }) {
            return status
        }
        return Array(bytes).withUnsafeBytes { feed($0, emit: emit) }
    }

    /// Call when the stream has ended. Returns nil if it ended between frames, else a
    /// truncated-frame error (or the error found earlier, which is sticky). Idempotent.
    public mutating func finish() -> ProtocolError? {
        if let error { return error }
        if headerReceived > 0 {
            error = ProtocolError(.truncatedFrameHeader(received: headerReceived), at: frameStart)
        } else if remaining > 0 {
            error = ProtocolError(.truncatedFramePayload(kind: kind, size: size, received: size - remaining), at: frameStart)
        }
        return error
    }

    /// Validates header byte `position` (0...7), and accumulates kind and size.
    private mutating func headerByte(_ b: UInt8, position: Int) -> ProtocolError.Reason? {
        switch position {
        case 0:
            guard let k = StreamKind(rawValue: b) else { return .unknownStreamType(b) }
            kind = k
            size = 0
        case 1, 2, 3:
            if b != 0 { return .nonZeroHeaderPadding(position: position, value: b) }
        default:
            size = size << 8 | UInt32(b)
        }
        return nil
    }

    private mutating func startPayload() {
        counters.frames &+= 1
        remaining = size
    }

    private mutating func fail(_ reason: ProtocolError.Reason, consumed: Int) -> ParseStatus {
        let failure = ProtocolError(reason, at: frameStart)
        error = failure
        bytesConsumed += UInt64(consumed)
        return .failed(failure)
    }
}
