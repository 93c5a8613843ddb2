/// Why a stream could not be parsed, with the position of the offending element.
///
/// Every payload is a small integer or enum, so the error (and the parser state that
/// keeps it) never allocates. `description` is meant verbatim for an audit
/// "protocol-error" event.
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Which layer found the error.
    public enum Layer: String, Sendable {
        case multiplexed
        case chunked
    }

    /// Where in a chunked body the input stopped.
    public enum ChunkedSection: Equatable, Sendable {
        case chunkSize
        case chunkData(missing: UInt64)
        case chunkDataTerminator
        case trailers
    }

    public enum Reason: Equatable, Sendable {
        // MARK: multiplexed stream
        /// Header type byte above 3 (also what a Tty=true raw stream looks like to this parser).
        case unknownStreamType(UInt8)
        /// Header bytes 1...3 must be zero; `position` is 1, 2 or 3.
        case nonZeroHeaderPadding(position: Int, value: UInt8)
        /// The stream ended after `received` of the 8 header bytes.
        case truncatedFrameHeader(received: Int)
        /// The stream ended inside a payload.
        case truncatedFramePayload(kind: StreamKind, size: UInt32, received: UInt32)

        // MARK: chunked transfer encoding
        case invalidChunkSizeCharacter(UInt8)
        case missingChunkSize
        /// The chunk size does not fit in 63 bits.
        case chunkSizeOverflow
        case chunkSizeLineTooLong(limit: Int)
        case invalidChunkExtensionCharacter(UInt8)
        /// A line ended with LF alone; chunked framing requires CRLF.
        case bareLineFeed
        /// A CR was followed by something other than LF.
        case carriageReturnWithoutLineFeed(found: UInt8)
        /// The `size` bytes of a chunk were not followed by CRLF.
        case missingCRLFAfterChunkData(found: UInt8)
        case invalidTrailerCharacter(UInt8)
        /// A trailer line without a `:` or starting with whitespace (obsolete folding).
        case malformedTrailerLine
        case trailerSectionTooLong(limit: Int)
        /// The body ended before the last chunk's trailer section was complete.
        case truncatedChunkedBody(in: ChunkedSection)
    }

    public var reason: Reason
    /// Byte offset in the input of the layer that found the error: the de-chunked stream
    /// for multiplexed errors (the start of the offending frame), the raw body for
    /// chunked errors (the offending byte, or the end of input for truncation).
    public var offset: UInt64

    public init(_ reason: Reason, at offset: UInt64) {
        self.reason = reason
        self.offset = offset
    }

    public var layer: Layer {
        switch reason {
        case .unknownStreamType, .nonZeroHeaderPadding, .truncatedFrameHeader, .truncatedFramePayload: .multiplexed
        default: .chunked
        }
    }

    public var description: String { "\(what) at offset \(offset)" }

    private var what: String {
        switch reason {
        case .unknownStreamType(let t):
            "frame header has unknown stream type \(t)"
        case .nonZeroHeaderPadding(let position, let value):
            "frame header has non-zero padding byte \(hex(value)) in position \(position)"
        case .truncatedFrameHeader(let received):
            "stream ended inside a frame header (\(received) of 8 bytes)"
        case .truncatedFramePayload(let kind, let size, let received):
            "stream ended inside a \(kind) frame payload (\(received) of \(size) bytes)"
        case .invalidChunkSizeCharacter(let b):
            "chunk size line has invalid byte \(hex(b))"
        case .missingChunkSize:
            "chunk size line has no hex digits"
        case .chunkSizeOverflow:
            "chunk size exceeds 2^63-1"
        case .chunkSizeLineTooLong(let limit):
            "chunk size line exceeds \(limit) bytes"
        case .invalidChunkExtensionCharacter(let b):
            "chunk extension has invalid byte \(hex(b))"
        case .bareLineFeed:
            "chunked body has a bare LF line ending (CRLF required)"
        case .carriageReturnWithoutLineFeed(let b):
            "chunked body has CR followed by \(hex(b)) instead of LF"
        case .missingCRLFAfterChunkData(let b):
            "chunk data not followed by CRLF (found \(hex(b)))"
        case .invalidTrailerCharacter(let b):
            "chunked trailer has invalid byte \(hex(b))"
        case .malformedTrailerLine:
            "chunked trailer line is not a header field"
        case .trailerSectionTooLong(let limit):
            "chunked trailer section exceeds \(limit) bytes"
        case .truncatedChunkedBody(let section):
            switch section {
            case .chunkSize: "chunked body ended before the last chunk"
            case .chunkData(let missing): "chunked body ended inside chunk data (\(missing) bytes missing)"
            case .chunkDataTerminator: "chunked body ended before the CRLF after chunk data"
            case .trailers: "chunked body ended inside the trailer section"
            }
        }
    }

    private func hex(_ b: UInt8) -> String {
        (b < 0x10 ? "0x0" : "0x") + String(b, radix: 16)
    }
}
