import Config
import IPC

/// Renders the i2p plugin's chains as `iptables-restore` / `ip6tables-restore
/// --noflush` input, from the helper's own config (ports, fake pool) and typed
/// endpoints only. Lines are written the way `iptables-save` prints them, so a chain
/// that already holds exactly them is left alone (its drop counters keep counting).
struct I2PRuleRenderer {
    struct Chain {
        var table: String
        var name: String
        /// `(hook, match)`: the jumps into it, which must head their built-in chain in this order.
        var jumps: [(hook: String, match: String)]
    }

    /// The input for one restore call (nil: nothing to change), and what it does.
    struct Plan {
        var input: String?
        var written = 0, unchanged = 0, removed = 0
    }

    static let wildcard = I2PLayout.hostInterfaceWildcard
    static let v4: [Chain] = [
        Chain(table: "raw", name: "BULKHEAD-I2P-SRC", jumps: [("PREROUTING", "-i \(wildcard)")]),
        Chain(table: "nat", name: "BULKHEAD-I2P-NAT", jumps: [("PREROUTING", "-i \(wildcard)")]),
        Chain(table: "filter", name: "BULKHEAD-I2P-IN", jumps: [("INPUT", "-i \(wildcard)")]),
        Chain(table: "filter", name: "BULKHEAD-I2P-FWD", jumps: [("FORWARD", "-i \(wildcard)"), ("FORWARD", "-o \(wildcard)")]),
    ]
    static let v6: [Chain] = [
        Chain(table: "filter", name: "BULKHEAD-I2P-IN6", jumps: [("INPUT", "-i \(wildcard)")]),
        Chain(table: "filter", name: "BULKHEAD-I2P-FWD6", jumps: [("FORWARD", "-i \(wildcard)"), ("FORWARD", "-o \(wildcard)")]),
    ]

    let transparentPort: UInt16
    let dnsPort: UInt16
    let pool: IPv4Subnet

    /// The lines chain `name` must hold for `endpoints`.
    func body(_ name: String, _ endpoints: [I2PEndpoint]) -> [String] {
        let (p, d) = (transparentPort, dnsPort)
        let lines: [String]
        switch name {
        case "BULKHEAD-I2P-SRC":
            // Anti-spoofing: a container (CAP_NET_RAW by default) sends only from its own address, on its own link.
            lines = endpoints.map { "-s \($0.address)/32 -i \(I2PLayout.hostInterface($0.key)) -j RETURN" } + Self.logAndDrop("src")
        case "BULKHEAD-I2P-NAT":
            // The final ACCEPT ends nat PREROUTING here: no later DNAT (Docker's published ports) rewrites a container's packet.
            // DNS only to each link's own gateway, never to the host's other addresses. (addrtype's
            // --limit-iface-in cannot say it: the gateway's one local route names only the first link.)
            lines = ["-d \(pool) -p tcp -j REDIRECT --to-ports \(p)"]
                + endpoints.flatMap { e in
                    ["udp", "tcp"].map { "-d \(e.gateway)/32 -i \(I2PLayout.hostInterface(e.key)) -p \($0) -m \($0) --dport 53 -j REDIRECT --to-ports \(d)" }
                }
                + ["-j ACCEPT"]
        case "BULKHEAD-I2P-IN":
            // Only what the NAT chain redirected (ctstate DNAT), and replies: never a host port directly.
            lines = ["-m conntrack --ctstate ESTABLISHED -j ACCEPT",
                     "-p tcp -m tcp --dport \(p) -m conntrack --ctstate DNAT -j ACCEPT",
                     "-p udp -m udp --dport \(d) -m conntrack --ctstate DNAT -j ACCEPT",
                     "-p tcp -m tcp --dport \(d) -m conntrack --ctstate DNAT -j ACCEPT"] + Self.logAndDrop("in")
        case "BULKHEAD-I2P-FWD": lines = Self.logAndDrop("fwd")
        case "BULKHEAD-I2P-IN6": lines = Self.logAndDrop("in6")
        default: lines = Self.logAndDrop("fwd6")
        }
        return lines.map { "-A \(name) \($0)" }
    }

    /// Rate-limited (6/min, burst 5: iptables' default burst, which iptables-save omits).
    private static func logAndDrop(_ what: String) -> [String] {
        ["-m limit --limit 6/min -j LOG --log-prefix \"bulkhead-i2p drop \(what): \"", "-j DROP"]
    }

    /// `chains` (one family) as `saved` shows them → `present`: each holding exactly its
    /// body and its jumps heading their hooks; otherwise: chains and jumps gone.
    func plan(_ chains: [Chain], endpoints: [I2PEndpoint], present: Bool, saved: String) -> Plan {
        present ? Self.render(chains, saved: saved) { own, snapshot, plan in
            var lines: [String] = []
            for chain in own {
                let body = body(chain.name, endpoints)
                if snapshot.exists(chain.name), snapshot.lines(chain.name) == body { plan.unchanged += 1; continue }
                lines += [":\(chain.name) - [0:0]"] + body  // the declaration flushes an existing chain
                plan.written += 1
            }
            return lines + headJumps(own, snapshot)
        } : Self.removal(chains, saved: saved)
    }

    /// Deletes `chains` (one family) and every jump into them (`plan` with `present`
    /// false; `cleanup`, which has no config to render bodies from, needs only this).
    static func removal(_ chains: [Chain], saved: String) -> Plan {
        render(chains, saved: saved) { own, snapshot, plan in
            var lines: [String] = []
            for (hook, jump) in jumpLines(own) {
                lines += snapshot.lines(hook).filter { $0 == jump }.map { "-D" + $0.dropFirst(2) }
            }
            for chain in own where snapshot.exists(chain.name) {
                lines += ["-F \(chain.name)", "-X \(chain.name)"]
                plan.removed += 1
            }
            return lines
        }
    }

    /// One restore input with a section per table of `chains` that `tableLines` has lines for.
    private static func render(_ chains: [Chain], saved: String,
                               _ tableLines: ([Chain], IptablesSnapshot, inout Plan) -> [String]) -> Plan {
        var plan = Plan()
        var sections = ""
        for table in Set(chains.map(\.table)).sorted() {
            let snapshot = IptablesSnapshot.table(table, in: saved)
            let lines = tableLines(chains.filter { $0.table == table }, snapshot, &plan)
            if !lines.isEmpty { sections += "*\(table)\n" + lines.map { $0 + "\n" }.joined() + "COMMIT\n" }
        }
        plan.input = sections.isEmpty ? nil : sections
        return plan
    }

    /// `(hook, "-A HOOK match -j CHAIN")` for every jump, in order.
    private static func jumpLines(_ chains: [Chain]) -> [(String, String)] {
        chains.flatMap { chain in chain.jumps.map { ($0.hook, "-A \($0.hook) \($0.match) -j \(chain.name)") } }
    }

    /// Jumps are inserted first in their hook, once: when a hook does not start with
    /// exactly them (missing, duplicated, or pushed down by someone else's insert),
    /// every copy is deleted and they are inserted again at position 1.
    private func headJumps(_ chains: [Chain], _ snapshot: IptablesSnapshot) -> [String] {
        let all = Self.jumpLines(chains)
        var out: [String] = []
        for hook in Set(all.map(\.0)).sorted() {
            let wanted = all.filter { $0.0 == hook }.map(\.1)
            let current = snapshot.lines(hook)
            let copies = current.filter(wanted.contains)
            if Array(current.prefix(wanted.count)) == wanted, copies.count == wanted.count { continue }
            out += copies.map { "-D" + $0.dropFirst(2) }
            out += wanted.reversed().map { "-I \(hook) 1" + $0.dropFirst(2 + 1 + hook.count) }
        }
        return out
    }
}
