/// Big-endian field encoding for IPC payloads. Every read is bounds-checked, and
/// a payload must be consumed exactly: trailing bytes are a malformed message.
public struct WireWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xff)) }
    public mutating func u32(_ v: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((v >> UInt32(shift)) & 0xff)) }
    }
    public mutating func u64(_ v: UInt64) { u32(UInt32(v >> 32)); u32(UInt32(v & 0xffff_ffff)) }
    /// A u32 length followed by raw bytes.
    public mutating func blob(_ v: [UInt8]) { u32(UInt32(v.count)); bytes.append(contentsOf: v) }
    /// A u16 length followed by UTF-8.
    public mutating func string(_ v: String) {
        let utf8 = Array(v.utf8)
        precondition(utf8.count <= Int(UInt16.max), "IPC strings are at most 65535 bytes")
        u16(UInt16(utf8.count)); bytes.append(contentsOf: utf8)
    }
}

public struct WireReader: Sendable {
    private let bytes: ArraySlice<UInt8>
    private var offset: Int

    public init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes; self.offset = bytes.startIndex }

    public var remaining: Int { bytes.endIndex - offset }

    private mutating func take(_ n: Int) throws(IPCError) -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else { throw .malformed("payload ends early: wanted \(n) bytes, \(remaining) left") }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    public mutating func u8() throws(IPCError) -> UInt8 { try take(1).first! }
    public mutating func u16() throws(IPCError) -> UInt16 {
        let b = try take(2); return UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1])
    }
    public mutating func u32() throws(IPCError) -> UInt32 {
        try take(4).reduce(0) { $0 << 8 | UInt32($1) }
    }
    public mutating func u64() throws(IPCError) -> UInt64 {
        try take(8).reduce(0) { $0 << 8 | UInt64($1) }
    }
    public mutating func blob(max: Int) throws(IPCError) -> [UInt8] {
        let n = Int(try u32())
        guard n <= max else { throw .malformed("blob of \(n) bytes exceeds \(max)") }
        return Array(try take(n))
    }
    public mutating func string(max: Int) throws(IPCError) -> String {
        let n = Int(try u16())
        guard n <= max else { throw .malformed("string of \(n) bytes exceeds \(max)") }
        let raw = try take(n)
        guard let s = String(validating: raw, as: UTF8.self) else { throw .malformed("string is not valid UTF-8") }
        return s
    }
    public func finish() throws(IPCError) {
        guard remaining == 0 else { throw .malformed("\(remaining) unexpected trailing bytes") }
    }
}
