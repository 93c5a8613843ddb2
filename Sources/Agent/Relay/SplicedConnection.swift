import CSplice
#if canImport(Glibc)
import Glibc
#endif

/// A client socket and its upstream, joined by two `SpliceDirection`s (with the
/// audit proxy's taps, if any). Used only on its loop's thread.
final class SplicedConnection {
    private(set) var toUpstream: SpliceDirection
    private(set) var toClient: SpliceDirection
    private let taps: [any SpliceTap]
    let finished: @Sendable (Relay.Totals) -> Void
    /// The epoll interest each socket is registered with now (nil: not registered).
    var clientInterest: UInt32?
    var upstreamInterest: UInt32?
    /// The socket's peer is gone (epoll reported a hang-up or an error on it).
    /// Its buffered input is still delivered; nothing more can be written to it.
    private(set) var clientHungUp = false
    private(set) var upstreamHungUp = false
    /// Once the client got a tap's last words (a refusal): when it is closed
    /// even if the client keeps its side open.
    private(set) var lingerUntil: ContinuousClock.Instant?

    var client: Int32 { toUpstream.source }
    var upstream: Int32 { toClient.source }

    init(client: Int32, upstream: Int32, pipes: ((Int32, Int32), (Int32, Int32)), taps: Relay.Taps?,
         finished: @escaping @Sendable (Relay.Totals) -> Void) {
        toUpstream = SpliceDirection(source: client, destination: upstream, pipe: pipes.0, tap: taps?.request)
        toClient = SpliceDirection(source: upstream, destination: client, pipe: pipes.1, tap: taps?.response)
        self.taps = taps.map { [$0.request, $0.response] } ?? []
        self.finished = finished
    }

    /// Lets the taps ask (from any thread) for the connection to be served again.
    func setWake(_ wake: @escaping @Sendable () -> Void) {
        for tap in taps { tap.wake = wake }
    }

    func woken() {
        for tap in taps { tap.woken() }
    }

    /// Moves what can move in both directions. With taps, again until neither
    /// can: a tap's news (a hijack's answer, a refusal) may free the other
    /// direction. Without, once: each direction already moved all it could.
    func pump(scratch: UnsafeMutableRawBufferPointer) throws(SpliceDirection.Failure) {
        while true {
            let up = try toUpstream.pump(scratch: scratch)
            let down = try toClient.pump(scratch: scratch)
            if taps.isEmpty || (!up && !down) { break }
        }
        if toClient.spokeLastWords, lingerUntil == nil { lingerUntil = .now + APIRefusal.linger }
    }

    func hungUp(upstream: Bool) {
        if upstream { upstreamHungUp = true } else { clientHungUp = true }
    }

    /// Both directions finished; or a side hung up and everything it sent has
    /// been delivered (then the other side is closed, as a copying relay closes
    /// the partner of a channel that went inactive); or its linger ran out.
    var isDone: Bool {
        (toUpstream.finished && toClient.finished) || (clientHungUp && toUpstream.finished) || (upstreamHungUp && toClient.finished)
            || lingerUntil.map { $0 <= .now } ?? false
    }

    /// What each socket must be watched for; nil once it needs no watching:
    /// needed by neither direction, or hung up. A hung-up socket is still read,
    /// whenever its direction's pipe has room: its peer is gone, so a read never
    /// waits, it returns the buffered bytes and then end of input. Unwatched, its
    /// hang-up (which epoll reports for as long as it lasts) cannot spin the loop.
    var clientWants: UInt32? { clientHungUp ? nil : Self.interest(reading: toUpstream, writing: toClient) }
    var upstreamWants: UInt32? { upstreamHungUp ? nil : Self.interest(reading: toClient, writing: toUpstream) }

    private static func interest(reading: SpliceDirection, writing: SpliceDirection) -> UInt32? {
        if reading.endOfInput, writing.finished { return nil }
        return (reading.wantsInput ? UInt32(BH_EPOLLIN) : 0) | (writing.wantsOutput ? UInt32(BH_EPOLLOUT) : 0)
    }

    var totals: Relay.Totals { Relay.Totals(fromClient: toUpstream.bytes, toClient: toClient.bytes) }

    func closeAll() {
        toUpstream.endTap()
        toClient.endTap()
        toUpstream.closePipe()
        toClient.closePipe()
        close(client)
        close(upstream)
    }
}
