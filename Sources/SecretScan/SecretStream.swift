import CVectorscan

/// Scans one byte stream (say, one container's stdout) chunk by chunk, as it
/// arrives: a secret split across writes, frames or chunks is still found, and
/// the stream is never buffered whole, only a tail of `RuleSet.maxMatchLength`
/// bytes. Each chunk is scanned together with that tail and a guard of padding
/// (see `RuleSet` for why), and matches are kept by (rule, start), so a secret
/// that the next chunk extends is reported once, whole. Not thread-safe: one per stream.
public final class SecretStream {
    private let ruleSet: RuleSet
    private let scratch: OpaquePointer
    /// The last bytes scanned; `tail[0]` is at stream offset `scanned - tail.count`.
    private var tail: [UInt8] = []
    private var scanned: UInt64 = 0
    /// tail + chunk + guard, rebuilt per chunk (capacity reused).
    private var window: [UInt8] = []
    /// Per rule, the latest match: held until it cannot grow any more.
    private var pending: [Int: (start: UInt64, text: [UInt8])] = [:]
    private var raw: [(rule: Int, from: UInt64, to: UInt64)] = []
    /// Per rule, the byte set of its `extendLeft`, if any.
    private let extendLeft: [Set<UInt8>?]

    /// Newlines after the data: every rule treats them as a boundary, and they keep
    /// real bytes out of the scanner's blind spot at the end of a buffer.
    static let guardLength = 128

    public init(ruleSet: RuleSet) {
        self.ruleSet = ruleSet
        extendLeft = ruleSet.rules.map { $0.extendLeft.map { Set($0.utf8) } }
        var copy: OpaquePointer?
        precondition(hs_clone_scratch(ruleSet.prototypeScratch, &copy) == HS_SUCCESS && copy != nil, "vectorscan: out of memory")
        scratch = copy!
    }

    deinit { hs_free_scratch(scratch) }

    /// Scans the next bytes of the stream; returns the findings that are complete.
    public func scan(_ data: UnsafeRawBufferPointer) -> [Finding] {
        guard !data.isEmpty else { return [] }
        window.removeAll(keepingCapacity: true)
        window.append(contentsOf: tail)
        window.append(contentsOf: data)
        window.append(contentsOf: repeatElement(UInt8(ascii: "\n"), count: Self.guardLength))
        let base = scanned - UInt64(tail.count)
        raw.removeAll(keepingCapacity: true)
        let context = Unmanaged.passUnretained(self).toOpaque()
        window.withUnsafeBytes { buffer in
            _ = hs_scan(ruleSet.database, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(buffer.count), 0, scratch, { id, from, to, _, ctx in
                Unmanaged<SecretStream>.fromOpaque(ctx!).takeUnretainedValue().raw.append((Int(id), from, to))
                return 0
            }, context)
        }
        let end = scanned + UInt64(data.count)
        var findings: [Finding] = []
        for (rule, relativeFrom, relativeTo) in raw {
            // New matches only: ending in this chunk, or on the first guard byte (a
            // boundary the next chunk may move). Older ones were seen last time.
            let to = base + relativeTo
            guard to > scanned, to <= end + 1 else { continue }
            var from = base + relativeFrom
            if let set = extendLeft[rule] {
                // No start-of-match: walk left from the end, past the trailing boundary.
                from = to
                if from > base, !set.contains(window[Int(from - base) - 1]) { from -= 1 }
                let last = from
                while from > base, last - from < 256, set.contains(window[Int(from - base) - 1]) { from -= 1 }
            }
            let text = Array(window[Int(from - base)..<Int(min(to, end) - base)])
            if let held = pending[rule], held.start != from, let f = finding(rule, held) { findings.append(f) }
            pending[rule] = (from, text)
        }
        // A held match more than a tail behind can no longer grow.
        for (rule, held) in pending where end - held.start > UInt64(RuleSet.maxMatchLength) {
            if let f = finding(rule, held) { findings.append(f) }
            pending[rule] = nil
        }
        remember(data)
        return findings.sorted { $0.offset < $1.offset }
    }

    /// Everything still held, at the end of the stream.
    public func finish() -> [Finding] {
        let findings = pending.sorted { $0.value.start < $1.value.start }.compactMap { finding($0.key, $0.value) }
        pending.removeAll()
        return findings
    }

    private func finding(_ rule: Int, _ held: (start: UInt64, text: [UInt8])) -> Finding? {
        FindingFilter.finding(rule: ruleSet.rules[rule], match: held.text, offset: held.start)
    }

    private func remember(_ data: UnsafeRawBufferPointer) {
        let keep = RuleSet.maxMatchLength
        if data.count >= keep {
            tail = Array(data[(data.count - keep)...])
        } else {
            tail.append(contentsOf: data)
            if tail.count > keep { tail.removeFirst(tail.count - keep) }
        }
        scanned += UInt64(data.count)
    }
}
