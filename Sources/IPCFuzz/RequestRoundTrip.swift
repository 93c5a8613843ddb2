import IPC

/// (a) A request record as the helper decodes it: the frame, then the request,
/// with and without a passed fd. What decodes must re-encode to the same bytes and
/// decode again to an equal value.
enum RequestRoundTrip {
    static func check(_ record: ArraySlice<UInt8>) -> Bool {
        guard let frame = try? Frame.decode(record, expected: .request) else { return false }
        require(frame.encoded().elementsEqual(record), "frame re-encodes differently")
        var decoded = 0
        for hasFD in [false, true] {
            guard let request = try? Request.decode(frame, hasFD: hasFD) else { continue }
            decoded += 1
            let bytes = Frame(kind: .request, type: request.type.rawValue, id: frame.id, payload: request.encodePayload()).encoded()
            require(bytes.elementsEqual(record), "\(request.logDescription) re-encodes differently")
            let again = try? Request.decode(Frame.decode(bytes[...], expected: .request), hasFD: hasFD)
            require(again == request, "\(request.logDescription) decodes differently after re-encoding")
        }
        require(decoded <= 1, "request decoded both with and without an fd")
        return decoded == 1
    }
}
