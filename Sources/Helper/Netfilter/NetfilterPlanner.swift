import IPC

/// Turns the desired container rules and the tables as they are now into
/// `iptables-restore --noflush` transactions that touch only what differs.
/// Per table there is a main transaction, and a clean-up one that deletes chains
/// the main one emptied (nftables refuses to delete a chain in the transaction that
/// drops its last reference).
struct NetfilterPlan {
    var main: [NetfilterLayout.Table: [String]] = [:]
    var cleanup: [NetfilterLayout.Table: [String]] = [:]
    /// Hook jumps the main transaction inserts: undone if a later table fails.
    var insertedHooks: [NetfilterLayout.Table: [String]] = [:]
    var written = 0, removed = 0, unchanged = 0
    /// Dispatch chains rewritten because they differed (a flush, a stray rule).
    var repaired = 0

    /// The restore input for `lines` in `table`.
    static func transaction(_ table: NetfilterLayout.Table, _ lines: [String]) -> String {
        "*\(table.rawValue)\n" + lines.map { $0 + "\n" }.joined() + "COMMIT\n"
    }
}

enum NetfilterPlanner {
    /// `sets`: containers to write (empty rules: remove). With `replaceAll`, every
    /// container chain not in `sets` is removed as well.
    static func plan(
        sets: [ContainerKey: [ContainerRule]], replaceAll: Bool, dnatInInterface: String,
        snapshots: [NetfilterLayout.Table: IptablesSnapshot]
    ) -> NetfilterPlan {
        var plan = NetfilterPlan()
        // Desired lines of every container chain this commit decides about.
        var desired: [String: [String]] = [:]
        var decided = Set<ContainerKey>()
        for (key, rules) in sets {
            decided.insert(key)
            for (parent, lines) in NetfilterLayout.chains(for: ContainerRuleSet(key: key, rules: rules), dnatInInterface: dnatInInterface) {
                desired[NetfilterLayout.childChain(parent, key)] = lines
            }
        }
        for parent in NetfilterLayout.containerParents {
            let snap = snapshots[parent.table] ?? IptablesSnapshot(chains: [:])
            var lines: [String] = []
            var cleanup: [String] = []
            let parentExists = snap.exists(parent.chain)
            if !parentExists { lines.append(":\(parent.chain) - [0:0]") }
            ensureHook(parent, snap, &lines, &plan)

            let existingChildren = snap.chains.keys.filter { $0.hasPrefix(parent.childPrefix!) }
            let childrenHere = Set(existingChildren).union(desired.keys.filter { $0.hasPrefix(parent.childPrefix!) })
            var keep: [String] = []
            for child in childrenHere.sorted() {
                let key = ContainerKey(String(child.dropFirst(parent.childPrefix!.count)))
                let decidedHere = key.map { decided.contains($0) } ?? false
                if let want = desired[child] {
                    keep.append(child)
                    if snap.exists(child), snap.lines(child) == want { plan.unchanged += 1; continue }
                    lines.append(":\(child) - [0:0]")
                    lines += want
                    plan.written += 1
                } else if decidedHere || replaceAll || key == nil {
                    // Not wanted any more: emptied now, deleted by the clean-up transaction.
                    lines.append("-F \(child)")
                    cleanup.append("-X \(child)")
                    plan.removed += 1
                } else {
                    keep.append(child)  // another container, not part of this change
                }
            }
            // The parent's dispatch: one jump per kept child, in name order.
            let wantJumps = keep.map { NetfilterLayout.jump(from: parent.chain, to: $0) }
            let current = snap.lines(parent.chain)
            if replaceAll || !parentExists {
                // Order does not matter (one jump per container): only a missing, extra or
                // duplicated jump makes the dispatch chain wrong.
                if current.count != wantJumps.count || Set(current) != Set(wantJumps) {
                    if parentExists { lines.append(":\(parent.chain) - [0:0]") }
                    lines += wantJumps
                    plan.repaired += parentExists ? 1 : 0
                }
            } else {
                let currentSet = Set(current), wantSet = Set(wantJumps)
                for jump in wantJumps where !currentSet.contains(jump) { lines.append(jump) }
                for line in current where !wantSet.contains(line) {
                    lines.append("-D" + line.dropFirst(2))  // "-A P -j X" → "-D P -j X"
                }
            }
            plan.main[parent.table, default: []] += lines
            plan.cleanup[parent.table, default: []] += cleanup
        }
        return plan
    }

    /// Lines that make `parent` hold exactly `lines` (policy routing's masquerade chain).
    static func planStatic(_ parent: NetfilterLayout.Parent, lines want: [String], snapshot snap: IptablesSnapshot) -> NetfilterPlan {
        var plan = NetfilterPlan()
        var lines: [String] = []
        if !snap.exists(parent.chain) || snap.lines(parent.chain) != want {
            lines.append(":\(parent.chain) - [0:0]")
            lines += want
            plan.written += 1
        } else {
            plan.unchanged += 1
        }
        ensureHook(parent, snap, &lines, &plan)
        plan.main[parent.table] = lines
        return plan
    }

    /// Every jump into an owned chain of `table` (main), every owned chain emptied
    /// (main) and deleted (cleanup: a separate transaction, see `NetfilterPlan`).
    static func removal(_ table: NetfilterLayout.Table, snapshot snap: IptablesSnapshot) -> (main: [String], cleanup: [String]) {
        var main: [String] = [], cleanup: [String] = []
        for parent in NetfilterLayout.parents where parent.table == table {
            for hook in parent.hooks {
                for _ in 0..<snap.jumps(in: hook, to: parent.chain) { main.append("-D \(hook) -j \(parent.chain)") }
            }
        }
        for chain in snap.chains.keys.sorted() where NetfilterLayout.isOwned(chain) {
            main.append("-F \(chain)")
            cleanup.append("-X \(chain)")
        }
        return (main, cleanup)
    }

    /// Exactly one jump from the parent's hook chain into it, inserted first.
    private static func ensureHook(_ parent: NetfilterLayout.Parent, _ snap: IptablesSnapshot, _ lines: inout [String], _ plan: inout NetfilterPlan) {
        let hook = parent.hooks.first { snap.exists($0) } ?? parent.hooks.last!
        let count = snap.jumps(in: hook, to: parent.chain)
        if count == 0 {
            lines.append("-I \(hook) 1 -j \(parent.chain)")
            plan.insertedHooks[parent.table, default: []].append("-D \(hook) -j \(parent.chain)")
        }
        for _ in 1..<max(1, count) { lines.append("-D \(hook) -j \(parent.chain)") }
    }

    /// Lines that put the owned chains `lines` touched back as `snap` had them.
    static func rollback(_ lines: [String], inserted: [String], snapshot snap: IptablesSnapshot) -> [String] {
        var touched = Set<String>()
        for line in lines {
            let parts = line.split(separator: " ")
            if line.hasPrefix(":") { touched.insert(String(parts[0].dropFirst())) }
            else if parts.count > 1 { touched.insert(String(parts[1])) }
        }
        var out = inserted
        for chain in touched.sorted() where NetfilterLayout.isOwned(chain) {
            if snap.exists(chain) {
                out.append(":\(chain) - [0:0]")
                out += snap.lines(chain)
            } else {
                out.append("-F \(chain)")
            }
        }
        return out
    }
}
