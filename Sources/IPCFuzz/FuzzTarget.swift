/// Which decoder one fuzz input exercises: its first byte (modulo the count) selects,
/// the rest is the decoder's input.
enum FuzzTarget: UInt8, CaseIterable {
    case request = 0, stage = 1, reply = 2

    init(selector: UInt8) {
        self = FuzzTarget(rawValue: selector % UInt8(FuzzTarget.allCases.count))!
    }

    /// Runs the decoder and its round-trip checks; true if the input decoded.
    func check(_ input: ArraySlice<UInt8>) -> Bool {
        switch self {
        case .request: RequestRoundTrip.check(input)
        case .stage: StageRoundTrip.check(input)
        case .reply: ReplyRoundTrip.check(input)
        }
    }
}

/// A broken property stops the run; libFuzzer reports it as a crash and saves the input.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
