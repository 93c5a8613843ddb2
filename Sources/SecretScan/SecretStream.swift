import CVectorscan

/// Scans one byte stream (say, one container's stdout) in vectorscan streaming
/// mode: a secret split across writes, frames or chunks is still found, and the
/// whole stream is never buffered, only a tail of `RuleSet.maxMatchLength` bytes
/// to read the matched text back for redaction. Not thread-safe: one per stream.
public final class SecretStream {
    private let ruleSet: RuleSet
    private var stream: OpaquePointer?
    private let scratch: OpaquePointer
    /// The last bytes scanned; `tail[0]` is at stream offset `tailStart`.
    private var tail: [UInt8] = []
    private var tailStart: UInt64 = 0
    private var scanned: UInt64 = 0
    /// Per rule, the latest match: held until it cannot grow any more, so a match
    /// extended by the next write is reported once, whole.
    private var pending: [Int: (start: UInt64, text: [UInt8])] = [:]
    private var raw: [(rule: Int, from: UInt64, to: UInt64)] = []
    /// Per rule, the byte set of its `extendLeft`, if any.
    private let extendLeft: [Set<UInt8>?]

    public init(ruleSet: RuleSet) {
        self.ruleSet = ruleSet
        extendLeft = ruleSet.rules.map { $0.extendLeft.map { Set($0.utf8) } }
        var copy: OpaquePointer?
        precondition(hs_clone_scratch(ruleSet.prototypeScratch, &copy) == HS_SUCCESS && copy != nil, "vectorscan: out of memory")
        scratch = copy!
        var s: OpaquePointer?
        precondition(hs_open_stream(ruleSet.database, 0, &s) == HS_SUCCESS && s != nil, "vectorscan: cannot open a stream")
        stream = s
    }

    deinit {
        if let stream { hs_close_stream(stream, scratch, nil, nil) }
        hs_free_scratch(scratch)
    }

    /// Scans the next bytes of the stream; returns the findings that are complete.
    public func scan(_ data: UnsafeRawBufferPointer) -> [Finding] {
        guard let stream, !data.isEmpty else { return [] }
        raw.removeAll(keepingCapacity: true)
        let context = Unmanaged.passUnretained(self).toOpaque()
        _ = hs_scan_stream(stream, data.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(data.count), 0, scratch, { id, from, to, _, ctx in
            Unmanaged<SecretStream>.fromOpaque(ctx!).takeUnretainedValue().raw.append((Int(id), from, to))
            return 0
        }, context)
        let findings = absorb(data)
        remember(data)
        return findings
    }

    /// Everything still held, at the end of the stream (matches anchored at end of data too).
    public func finish() -> [Finding] {
        guard let stream else { return [] }
        raw.removeAll(keepingCapacity: true)
        let context = Unmanaged.passUnretained(self).toOpaque()
        hs_close_stream(stream, scratch, { id, from, to, _, ctx in
            Unmanaged<SecretStream>.fromOpaque(ctx!).takeUnretainedValue().raw.append((Int(id), from, to))
            return 0
        }, context)
        self.stream = nil
        var findings = absorb(UnsafeRawBufferPointer(start: nil, count: 0))
        for (rule, held) in pending.sorted(by: { $0.value.start < $1.value.start }) {
            if let f = FindingFilter.finding(rule: ruleSet.rules[rule], match: held.text, offset: held.start) { findings.append(f) }
        }
        pending.removeAll()
        return findings
    }

    /// Turns this call's raw matches into held or completed findings.
    private func absorb(_ data: UnsafeRawBufferPointer) -> [Finding] {
        var done: [Finding] = []
        for (rule, matchedFrom, to) in raw {
            var from = matchedFrom
            if let set = extendLeft[rule] {
                while from > tailStart, matchedFrom - from < 64, set.contains(byte(at: from - 1, current: data)) { from -= 1 }
            }
            let text = bytes(from: from, to: to, current: data)
            if let held = pending[rule], held.start != from,
               let f = FindingFilter.finding(rule: ruleSet.rules[rule], match: held.text, offset: held.start) {
                done.append(f)
            }
            pending[rule] = (from, text)
        }
        // A held match more than a tail behind the scan position can no longer grow.
        let horizon = scanned + UInt64(data.count)
        for (rule, held) in pending where horizon - held.start > UInt64(RuleSet.maxMatchLength) {
            if let f = FindingFilter.finding(rule: ruleSet.rules[rule], match: held.text, offset: held.start) { done.append(f) }
            pending[rule] = nil
        }
        return done.sorted { $0.offset < $1.offset }
    }

    private func byte(at i: UInt64, current data: UnsafeRawBufferPointer) -> UInt8 {
        i >= scanned ? data[Int(i - scanned)] : tail[Int(i - tailStart)]
    }

    /// The matched bytes, from the tail and the chunk being scanned.
    private func bytes(from: UInt64, to: UInt64, current data: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Int(min(to - from, UInt64(RuleSet.maxMatchLength))))
        var i = max(from, tailStart)
        while i < to {
            out.append(byte(at: i, current: data))
            i += 1
        }
        return out
    }

    private func remember(_ data: UnsafeRawBufferPointer) {
        let keep = RuleSet.maxMatchLength
        if data.count >= keep {
            tail = Array(data[(data.count - keep)...])
        } else {
            tail.append(contentsOf: data)
            if tail.count > 2 * keep { tail.removeFirst(tail.count - keep) }
        }
        scanned += UInt64(data.count)
        tailStart = scanned - UInt64(tail.count)
    }
}
