/// What watches one direction of a spliced connection (the audit proxy's
/// request and response taps). The bytes still move only by splice(2): the tap
/// sees a copy peeked from the socket (MSG_PEEK) before they move, or lets a run
/// of them move unseen (a body nobody scans), and says which of them may be
/// delivered yet. Used only on its loop's thread.
protocol SpliceTap: AnyObject {
    /// Sees the next bytes (after everything seen or skipped so far); returns how
    /// many of them it took (fewer when it must wait, e.g. for a hijack's answer).
    func see(_ bytes: UnsafeRawBufferPointer) -> Int
    /// How many of the next bytes may move unseen (`Int.max`: all that follow).
    var skippable: Int { get }
    /// `count` (at most `skippable`) bytes moved unseen.
    func skipped(_ count: Int)
    /// The most it wants to see at once (a peek is a copy: small where only
    /// framing is read before bytes that move unseen).
    var peekLimit: Int { get }
    /// Of the bytes taken, how many at the end may not be delivered yet (a head
    /// not yet judged by the allow-list).
    var held: Int { get }
    /// What was taken and is held is never delivered (a refused request); from
    /// now on the direction drops its input.
    var refused: Bool { get }
    /// It waits for something outside this direction (the other tap, the audit
    /// queue): nothing is read until the connection is served again.
    var waiting: Bool { get }
    /// Bytes that end this direction once everything before them is delivered
    /// (the answer to a refused request); its input is then no longer read.
    func lastWords() -> [UInt8]?
    /// Called from another thread (the audit queue has room again) to serve the
    /// connection; set when the connection is adopted.
    var wake: (@Sendable () -> Void)? { get set }
    /// The connection was woken: waiting ends if it can.
    func woken()
    /// The direction's input ended, or the connection closed.
    func ended()
}

/// What a tap that never holds, refuses or waits on another thread has to say.
extension SpliceTap {
    var held: Int { 0 }
    var refused: Bool { false }
    func lastWords() -> [UInt8]? { nil }
    func woken() {}
    func ended() {}
}
