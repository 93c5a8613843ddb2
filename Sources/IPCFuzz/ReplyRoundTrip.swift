import IPC

/// (c) A reply record as the agent decodes it; the same round-trip property.
enum ReplyRoundTrip {
    static func check(_ record: ArraySlice<UInt8>) -> Bool {
        guard let frame = try? Frame.decode(record, expected: .reply), let reply = try? Reply.decode(frame) else { return false }
        let bytes = reply.frame(id: frame.id).encoded()
        require(bytes.elementsEqual(record), "reply re-encodes differently: \(record.count) bytes in, \(bytes.count) out")
        require((try? Reply.decode(Frame.decode(bytes[...], expected: .reply))) == reply, "reply decodes differently after re-encoding")
        return true
    }
}
