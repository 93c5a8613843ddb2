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
/// Used only on its loop's thread.
struct SpliceDirection {
    /// A new pipe's size: Linux's default, so that many idle connections stay
    /// within the agent account's pipe quota (fs/pipe-user-pages-soft).
    static let initialCapacity = 65536
    /// What a pipe grows to once a transfer fills it: 16 times fewer wake-ups
    /// and splice calls per byte. Unprivileged, up to fs/pipe-max-size (1 MiB
    /// by default); refused over the quota, then the pipe keeps its size.
    static let bulkCapacity = 1 << 20

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

    /// `pipe`: [read end, write end], owned from here on.
    init(source: Int32, destination: Int32, pipe: (Int32, Int32)) {
        self.source = source
        self.destination = destination
        self.pipeRead = pipe.0
        self.pipeWrite = pipe.1
    }

    enum Failure: Error { case errno(Int32) }

    /// Moves what can move now without blocking.
    mutating func pump() throws(Failure) {
        while true {
            var moved = false
            if !endOfInput, inPipe < capacity {
                let n = bh_splice(source, pipeWrite, capacity - inPipe)
                if n > 0 {
                    inPipe += n; bytes += n; moved = true
                    if inPipe == capacity { grow() }
                } else if n == 0 {
                    endOfInput = true; moved = true
                } else if errno != EAGAIN, errno != EINTR {
                    throw .errno(errno)
                }
            }
            if inPipe > 0 {
                let n = bh_splice(pipeRead, destination, inPipe)
                if n > 0 {
                    inPipe -= n; moved = true
                } else if n < 0, errno != EAGAIN, errno != EINTR {
                    throw .errno(errno)
                }
            }
            if endOfInput, inPipe == 0, !finished {
                finished = true
                moved = true
                _ = shutdown(destination, Int32(SHUT_WR))
            }
            guard moved else { return }
        }
    }

    /// Once, when a transfer first fills the pipe.
    private mutating func grow() {
        guard !grown else { return }
        grown = true
        let size = bh_pipe_resize(pipeWrite, Int32(Self.bulkCapacity))
        if size > capacity { capacity = Int(size) }
    }

    /// Readiness this direction waits for on its source and its destination.
    var wantsInput: Bool { !endOfInput && inPipe < capacity }
    var wantsOutput: Bool { inPipe > 0 }

    func closePipe() {
        close(pipeRead)
        close(pipeWrite)
    }
}
