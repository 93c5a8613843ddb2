import CSplice
#if canImport(Glibc)
import Glibc
#endif

/// One direction of a spliced connection: bytes move from `source` into a pipe
/// and from the pipe into `destination`, all inside the kernel.
/// - Backpressure: it reads only while the pipe has room, and the pipe drains
///   only as fast as `destination` takes bytes.
/// - Half-close: end of input, once the pipe is empty, becomes
///   shutdown(SHUT_WR) on `destination`; the other direction keeps flowing.
/// - With a tap (the audit proxy): the tap sees bytes peeked from `source` before
///   they move, or lets runs of them move unseen, and decides how many of them
///   may be delivered (see `SpliceTap`).
/// Used only on its loop's thread.
struct SpliceDirection {
    /// A new pipe's size: Linux's default, so that many idle connections stay
    /// within the agent account's pipe quota (fs/pipe-user-pages-soft).
    static let initialCapacity = 65536
    /// What a pipe grows to once a transfer fills it: 16 times fewer wake-ups
    /// and splice calls per byte. Unprivileged, up to fs/pipe-max-size (1 MiB
    /// by default); refused over the quota, then the pipe keeps its size.
    static let bulkCapacity = 1 << 20
    /// What a client refused by the allow-list may still send (its request's
    /// body) before its connection is closed.
    static let maxDropped = 1 << 20

    let source: Int32
    let destination: Int32
    private let pipeRead: Int32
    private let pipeWrite: Int32
    private var capacity = Self.initialCapacity
    private var grown = false
    private(set) var inPipe = 0
    private(set) var bytes = 0
    private(set) var endOfInput = false
    /// Every byte was delivered and `destination` was shut for writing.
    private(set) var finished = false

    private let tap: (any SpliceTap)?
    /// Bytes the tap took that are still in `source` (the pipe had no room).
    private var takenAhead = 0
    /// Bytes (in the pipe or ahead) that may be delivered, from the next one on.
    private var releasable = 0
    /// After a refusal or the end of input: what is not releasable is dropped.
    private var dropping = false
    private var dropped = 0
    private var lastWords: [UInt8]?
    /// The tap's last words were delivered (the connection then lingers briefly).
    private(set) var spokeLastWords = false
    private var tapEnded = false

    /// `pipe`: [read end, write end], owned from here on.
    init(source: Int32, destination: Int32, pipe: (Int32, Int32), tap: (any SpliceTap)? = nil) {
        self.source = source
        self.destination = destination
        self.pipeRead = pipe.0
        self.pipeWrite = pipe.1
        self.tap = tap
    }

    enum Failure: Error {
        case errno(Int32)
        /// A refused client went on sending past `maxDropped`.
        case tooMuchAfterRefusal
    }

    /// Moves what can move now without blocking; whether anything moved.
    @discardableResult
    mutating func pump(scratch: UnsafeMutableRawBufferPointer) throws(Failure) -> Bool {
        var any = false
        while true {
            var moved = false
            // Also after the source ended: the answer to a refused request is owed all the same.
            if let tap, lastWords == nil, !finished, takenAhead == 0, inPipe == 0, let words = tap.lastWords() {
                lastWords = words
                endOfInput = true
            }
            if wantsInput {
                moved = try fill(scratch: scratch) || moved
            }
            let deliverNow = tap == nil ? inPipe : min(inPipe, releasable)
            if deliverNow > 0 {
                let n = bh_splice(pipeRead, destination, deliverNow)
                if n > 0 {
                    inPipe -= n; moved = true
                    if tap != nil { releasable -= n }
                } else if n < 0, errno != EAGAIN, errno != EINTR {
                    throw .errno(errno)
                }
            } else if dropping, inPipe > 0 {
                let n = read(pipeRead, scratch.baseAddress, min(inPipe, scratch.count))
                if n > 0 { inPipe -= n; moved = true }
            }
            if let words = lastWords, !spokeLastWords, inPipe == 0 {
                let n = words.withUnsafeBytes { send(destination, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                if n > 0 {
                    lastWords = Array(words.dropFirst(n)); moved = true
                    spokeLastWords = lastWords!.isEmpty
                } else if n < 0, errno != EAGAIN, errno != EINTR {
                    throw .errno(errno)
                }
            }
            if endOfInput, inPipe == 0, !finished, lastWords == nil || spokeLastWords {
                finished = true
                moved = true
                _ = shutdown(destination, Int32(SHUT_WR))
            }
            guard moved else { return any }
            any = true
        }
    }

    /// Moves input into the pipe: bytes the tap took and the bytes it lets pass
    /// unseen after them (one splice: a chunk's size line and its data), or
    /// (after peeking them for the tap) the next ones.
    private mutating func fill(scratch: UnsafeMutableRawBufferPointer) throws(Failure) -> Bool {
        let room = capacity - inPipe
        var want = room
        if let tap, !dropping {
            let unseen = tap.skippable
            guard takenAhead > 0 || unseen > 0 else { return try peek(scratch: scratch, room: room, tap: tap) }
            want = min(room, takenAhead + min(unseen, room))
        }
        let n = bh_splice(source, pipeWrite, want)
        if n > 0 {
            inPipe += n; bytes += n
            if inPipe == capacity { grow() }
            if let tap, !dropping {
                let fromTaken = min(n, takenAhead)
                takenAhead -= fromTaken
                if n > fromTaken {
                    releasable += n - fromTaken
                    tap.skipped(n - fromTaken)
                }
            } else if dropping, tap != nil {
                dropped += n
                if dropped > Self.maxDropped { throw .tooMuchAfterRefusal }
            }
            return true
        }
        if n == 0 {
            inputEnded()
            return true
        }
        if errno != EAGAIN, errno != EINTR { throw .errno(errno) }
        return false
    }

    /// Shows the tap the next bytes without taking them from the socket.
    private mutating func peek(scratch: UnsafeMutableRawBufferPointer, room: Int, tap: any SpliceTap) throws(Failure) -> Bool {
        let n = recv(source, scratch.baseAddress, min(room, scratch.count, tap.peekLimit), Int32(MSG_PEEK | MSG_DONTWAIT))
        if n == 0 {
            inputEnded()
            return true
        }
        if n < 0 {
            if errno != EAGAIN, errno != EINTR { throw .errno(errno) }
            return false
        }
        let heldBefore = tap.held
        let taken = tap.see(UnsafeRawBufferPointer(rebasing: scratch[..<n]))
        takenAhead += taken
        if tap.refused {
            // What it held, and took before refusing, stays behind: dropped.
            releasable += max(0, taken + heldBefore - tap.held)
            dropping = true
            dropped = 0
        } else {
            releasable += taken + heldBefore - tap.held
        }
        return taken > 0 || dropping
    }

    /// End of input: what the tap still held (a head that never ended) is dropped.
    private mutating func inputEnded() {
        endOfInput = true
        if tap != nil { dropping = true }
        endTap()
    }

    /// Tells the tap, once, that its bytes ended.
    mutating func endTap() {
        guard let tap, !tapEnded else { return }
        tapEnded = true
        tap.ended()
    }

    /// Once, when a transfer first fills the pipe.
    private mutating func grow() {
        guard !grown else { return }
        grown = true
        let size = bh_pipe_resize(pipeWrite, Int32(Self.bulkCapacity))
        if size > capacity { capacity = Int(size) }
    }

    /// Readiness this direction waits for on its source and its destination.
    /// A waiting tap stops only the peeking: what it took, or lets pass unseen, still moves.
    var wantsInput: Bool {
        guard !endOfInput, inPipe < capacity else { return false }
        guard let tap, !dropping else { return true }
        return takenAhead > 0 || tap.skippable > 0 || !tap.waiting
    }
    var wantsOutput: Bool { (tap == nil ? inPipe : min(inPipe, releasable)) > 0 || (lastWords != nil && !spokeLastWords) }

    func closePipe() {
        close(pipeRead)
        close(pipeWrite)
    }
}
