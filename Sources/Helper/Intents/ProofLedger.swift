#if canImport(Glibc)
import Glibc
#endif

/// Each accepted connection proves its user once: a proof fd (by its socket
/// inode) already used is refused, so an agent cannot keep one connection and mint
/// new connections to that user's daemon from it. Bounded: the oldest are forgotten
/// (socket inode numbers only repeat after the kernel's 32-bit counter wraps).
struct ProofLedger {
    private var used: Set<UInt64> = []
    private var order: [UInt64] = []
    private var next = 0
    let capacity: Int

    init(capacity: Int = 65536) { self.capacity = capacity }

    /// Records `fd`'s socket inode; false if it was already used.
    mutating func spend(_ fd: Int32) -> Bool {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return false }
        let inode = UInt64(st.st_ino)
        guard used.insert(inode).inserted else { return false }
        if order.count < capacity {
            order.append(inode)
        } else {
            used.remove(order[next])
            order[next] = inode
            next = (next + 1) % capacity
        }
        return true
    }
}
