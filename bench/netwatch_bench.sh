#!/usr/bin/env bash
# make bench (netwatch): the helper's batched netfilter commits against the original
# daemon's way (one `iptables` exec per rule), measured in the same run, interleaved,
# medians only. Everything happens in throwaway network namespaces (ip netns add):
# the host's tables are never touched, and no packet is sent.
#
#   (a) batch     1000 synthetic containers (netwatch_wire.container_rules(i, 2): 2 DNAT,
#                 2 FORWARD and 1 MARK rule each = 5000 rules) applied through the real,
#                 sandboxed bulkhead-helper (--ipc-fd, bench/netwatch_wire.py playing the
#                 agent) as ONE replaceAll commit, in a fresh netns.
#   (b) per-rule  the same 5000 rules, one `iptables -w` exec each, in the built-in
#                 chains as the original daemon wrote them (nat PREROUTING DNAT, filter
#                 FORWARD ACCEPT, mangle PREROUTING MARK), in another fresh netns. The
#                 loop runs inside the netns (no `ip netns exec` per rule, as the original
#                 ran inside its container's netns) and is capped (BENCH_NETWATCH_CAP, 120 s).
#   (c) one container changed with the 1000 present: an incremental commit (median of 9).
#   (d) a full verification pass with nothing to change: replaceAll (median of 5).
# Bounded: fixed counts; every helper call and the per-rule loop have time limits.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BULKHEAD_BIN_DIR:?set BULKHEAD_BIN_DIR to the directory with the release bulkhead-helper}
N=${BENCH_NETWATCH_CONTAINERS:-1000}
ROUNDS=${BENCH_NETWATCH_ROUNDS:-3}
CAP=${BENCH_NETWATCH_CAP:-120}
[ "$(id -u)" -eq 0 ] || { echo "netwatch bench: run as root (network namespaces, iptables)" >&2; exit 1; }
W=$(mktemp -d /tmp/bulkhead-netwatch-bench.XXXXXX)
chmod 755 "$W"
PREFIX=bh-nwb-$$
cleanup() {
  local ns
  # The helpers end when their IPC socket closes; anything left is killed by pid.
  for p in $(cat "$W"/pids 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
  for ns in $(ip netns list | awk -v p="$PREFIX-" 'index($1, p) == 1 { print $1 }'); do ip netns del "$ns" || true; done
  rm -rf "$W"
}
trap cleanup EXIT

cat >"$W/bench.yaml" <<YAML
router:
  enabled: false
netwatch:
  runtime_api: /run/bulkhead-bench-no-runtime.sock
  iptables_mangle_mark_published_ports: "2"
YAML
chmod 644 "$W/bench.yaml"

# The original daemon's loop: one iptables exec per line of the rules file, inside the
# netns; stops at the cap. Prints "RULES_DONE SECONDS".
cat >"$W/per_rule.sh" <<'SH'
#!/usr/bin/env bash
rules=$1 cap=$2 done=0
start=${EPOCHREALTIME/./}
limit=$((start + cap * 1000000))
while read -r -a args; do
  iptables -w "${args[@]}" || { echo "iptables failed on: ${args[*]}" >&2; exit 1; }
  done=$((done + 1))
  [ "${EPOCHREALTIME/./}" -lt "$limit" ] || break
done <"$rules"
end=${EPOCHREALTIME/./}
echo "$done $(( (end - start) / 1000 ))"
SH
chmod 755 "$W/per_rule.sh"

python3 - "$here" "$BIN/bulkhead-helper" "$W" "$PREFIX" "$N" "$ROUNDS" "$CAP" <<'PY'
import statistics, subprocess, sys, time
here, helper_bin, work, prefix = sys.argv[1:5]
n, rounds, cap = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
sys.path.insert(0, here)
import netwatch_wire as nw

def sh(*args, timeout=60):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, timeout=timeout).stdout

def rule_lines(ns):
    """-A lines of all three tables in the netns."""
    return [l for t in ("nat", "filter", "mangle") for l in sh("ip", "netns", "exec", ns, "iptables-save", "-t", t).splitlines() if l.startswith("-A ")]

sets = [nw.container_rules(i, 2) for i in range(n)]
total_rules = sum(len(r) for _, r in sets)

# The same rules, as the original daemon's iptables commands (built-in chains).
with open(f"{work}/rules.txt", "w") as f:
    for _, rules in sets:
        for r in rules:
            if r[0] == "dnat":
                _, p, port, to, tport = r
                f.write(f"-t nat -A PREROUTING -p tcp -m tcp --dport {port} -j DNAT --to-destination {to}:{tport}\n")
            elif r[0] == "fwd":
                _, p, to, port = r
                f.write(f"-t filter -A FORWARD -d {to}/32 -p tcp -m tcp --dport {port} -j ACCEPT\n")
            else:
                _, p, frm, port, mark = r
                f.write(f"-t mangle -A PREROUTING -s {frm}/32 -p tcp -m tcp --sport {port} -j MARK --set-mark {mark}\n")

def new_ns(name):
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")

def start_helper(ns):
    h = nw.Helper(helper_bin, f"{work}/bench.yaml", ns)
    with open(f"{work}/pids", "a") as f:
        f.write(f"{h.proc.pid}\n")
    h.sock.settimeout(120)
    h.hello()
    return h

def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out

batch, per_rule, single, verify = [], [], [], []
capped = []
for rnd in range(1, rounds + 1):
    # (a) the helper: one replaceAll commit of everything, fresh netns.
    ns = f"{prefix}-batch{rnd}"
    new_ns(ns)
    h = start_helper(ns)
    t, summary = timed(lambda: h.apply(sets, nw.REPLACE_ALL))
    batch.append(t)
    lines = rule_lines(ns)
    want = total_rules + 3 * n + 3  # rules, one jump per container chain, three hook jumps
    if len(lines) != want:
        sys.exit(f"netwatch bench: batch round {rnd}: {len(lines)} rule lines in the netns, expected {want} ({summary})")
    print(f"round {rnd}/{rounds}: batch {t:.3f}s ({summary})", file=sys.stderr)
    if rnd == 1:
        # (c) one container changes (its DNAT port toggles), 1000 present: incremental commit.
        k = n // 2
        key, base = sets[k]
        current = list(base)
        for j in range(9):
            alt = [("dnat", nw.TCP, 30000 + j, base[0][3], 80)] + list(base[1:]) if j % 2 == 0 else list(base)
            t, s = timed(lambda: h.apply([(key, alt)], nw.CHANGES))
            if "read_tables=false" not in s:
                sys.exit(f"netwatch bench: the single change was not incremental: {s}")
            single.append(t)
            current = alt
        dnat = [l for l in rule_lines(ns) if l.startswith(f"-A BHN-{key} ")]
        if len(dnat) != 2 or f"--dport {current[0][2]} -j DNAT --to-destination {base[0][3]}:80" not in dnat[0]:
            sys.exit(f"netwatch bench: the changed container's DNAT chain is wrong: {dnat}")
        # (d) full verification, nothing to change.
        full = list(sets)
        full[k] = (key, current)
        for _ in range(5):
            t, s = timed(lambda: h.apply(full, nw.REPLACE_ALL))
            if "written=0 removed=0" not in s:
                sys.exit(f"netwatch bench: the verification pass changed something: {s}")
            verify.append(t)
        print(f"round {rnd}/{rounds}: single change median {statistics.median(single) * 1000:.1f} ms, verify median {statistics.median(verify) * 1000:.0f} ms ({s})", file=sys.stderr)
    h.close()
    sh("ip", "netns", "del", ns)

    # (b) the original daemon's way: one iptables exec per rule, fresh netns, capped.
    ns = f"{prefix}-perrule{rnd}"
    new_ns(ns)
    out = sh("ip", "netns", "exec", ns, f"{work}/per_rule.sh", f"{work}/rules.txt", str(cap), timeout=cap + 60)
    done, ms = (int(x) for x in out.split())
    if done < total_rules:
        print(f"round {rnd}/{rounds}: per-rule loop CAPPED at {cap}s after {done}/{total_rules} rules; "
              f"its time below is extrapolated linearly (a lower bound: each exec gets slower as the table grows)", file=sys.stderr)
        capped.append(rnd)
        per_rule.append(ms / 1000 * total_rules / max(done, 1))
    else:
        got = len(rule_lines(ns))
        if got != total_rules:
            sys.exit(f"netwatch bench: per-rule round {rnd}: {got} rules in the netns, expected {total_rules}")
        per_rule.append(ms / 1000)
    print(f"round {rnd}/{rounds}: per-rule {per_rule[-1]:.2f}s", file=sys.stderr)
    sh("ip", "netns", "del", ns)

b, p = statistics.median(batch), statistics.median(per_rule)
c, d = statistics.median(single) * 1000, statistics.median(verify) * 1000
ok = lambda cond: "ok" if cond else "NOT MET"
print(f"\nNetwatch bench: {n} synthetic containers x {total_rules // n} rules = {total_rules} rules, in throwaway netns; "
      f"{rounds} rounds interleaved, medians")
print(f"{'metric':44} {'value':>12}   expectation")
print(f"{'(a) batch: helper, one replaceAll commit':44} {b:>10.3f} s   < 1 s: {ok(b < 1)}")
print(f"{'(b) per-rule: one iptables exec per rule':44} {('>=' if capped else '') + format(p, '.2f'):>10} s   "
      f"({p / total_rules * 1000:.2f} ms per rule{'; capped, extrapolated' if capped else ''})")
print(f"{'    per-rule / batch':44} {('>=' if capped else '') + format(p / b, '.1f'):>11}x   >= 20x: {ok(p / b >= 20)}")
print(f"{f'(c) one container changed, {n} present':44} {c:>9.1f} ms   < 50 ms: {ok(c < 50)} (incremental commit, median of {len(single)})")
print(f"{'(d) full verify pass, nothing to change':44} {d:>9.1f} ms   (replaceAll, tables read, median of {len(verify)})")
print(f"  batch rounds: {' '.join(f'{x:.3f}' for x in batch)} s; per-rule rounds: {' '.join(f'{x:.2f}' for x in per_rule)} s")
PY
