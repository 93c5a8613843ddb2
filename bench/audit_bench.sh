#!/usr/bin/env bash
# make bench (audit engine): the secret scanner against detect-secrets and trufflehog3
# (both from PyPI, pinned, in their own venv: scripts/bench-python.sh; both run offline)
# in the same run, and recall/false positives on a labelled corpus. Medians of 3 runs.
# The Python tools are orders of magnitude slower, so they scan a slice of the same log;
# all throughputs are per byte of the same content.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/proc-lib.sh
source "$here/../scripts/proc-lib.sh"   # as_user, pid_alive, wait_for, wait_sock...
BIN=${BULKHEAD_BIN_DIR:?}
W=$(mktemp -d /tmp/bulkhead-audit-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
LOG_MIB=${BENCH_LOG_MIB:-1024}
SLICE_MIB=${BENCH_DS_MIB:-2}
PYBIN=$("$here/../scripts/bench-python.sh")

echo "generating a ${LOG_MIB} MiB log (one synthetic secret per ~64 KiB) and a labelled corpus" >&2
python3 "$here/make_secret_corpus.py" log "$W/app.log" "$LOG_MIB"
head -c $((SLICE_MIB << 20)) "$W/app.log" >"$W/slice.log"
python3 "$here/make_secret_corpus.py" labelled "$W/corpus"

mkdir -p "$W/slice" "$W/corpus-dir"
cp "$W/slice.log" "$W/slice/app.log"
rate() { awk -v b=$((SLICE_MIB << 20)) -v a="$1" -v z="$2" 'BEGIN {printf "%.3f", b / (z - a) / 1e6}'; }
ours=(); theirs=(); th=()
for _ in 1 2 3; do
  # exit status 1 means "findings": expected here
  ours+=("$( { "$BIN/bulkhead-agent" audit scan "$W/app.log" 2>&1 >/dev/null || true; } | sed -n 's/.*(\([0-9.]*\) MB\/s).*/\1/p')")
  t0=$(date +%s.%N); (cd "$W" && "$PYBIN/detect-secrets" scan slice.log >/dev/null); t1=$(date +%s.%N)
  theirs+=("$(rate "$t0" "$t1")")
  t0=$(date +%s.%N); "$PYBIN/trufflehog3" -z --no-history -f JSON -o "$W/th-slice.json" "$W/slice" 2>/dev/null; t1=$(date +%s.%N)
  th+=("$(rate "$t0" "$t1")")
done
o=$(printf '%s\n' "${ours[@]}" | median); d=$(printf '%s\n' "${theirs[@]}" | median); t=$(printf '%s\n' "${th[@]}" | median)

"$BIN/bulkhead-agent" audit scan --quiet --format json "$W/corpus/corpus.txt" >"$W/ours.jsonl" || true
(cd "$W/corpus" && "$PYBIN/detect-secrets" scan corpus.txt >"$W/ds.json")
cp "$W/corpus/corpus.txt" "$W/corpus-dir/corpus.txt"
"$PYBIN/trufflehog3" -z --no-history -f JSON -o "$W/th.json" "$W/corpus-dir" 2>/dev/null
python3 - "$W" "$o" "$d" "$LOG_MIB" "$SLICE_MIB" "$t" <<'PY'
import json, sys
w, ours, theirs, log_mib, slice_mib, th = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], float(sys.argv[6])
labels = {int(l.split("\t")[0]): l.split("\t")[1].strip() for l in open(f"{w}/corpus/labels.tsv")}
positives = {n for n, r in labels.items() if r != "-"}
negatives = set(labels) - positives
ours_lines = {}
for l in open(f"{w}/ours.jsonl"):
    f = json.loads(l); ours_lines.setdefault(f["line"], set()).add(f["pattern"])
ours_hit = sum(1 for n in positives if labels[n] in ours_lines.get(n, set()))
ours_fp = sum(1 for n in ours_lines if n in negatives)
ds = json.load(open(f"{w}/ds.json"))["results"].get("corpus.txt", [])
ds_lines = {r["line_number"] for r in ds}
ds_hit = len(ds_lines & positives); ds_fp = len(ds_lines & negatives)
# Their findings count on the line, whatever rule (theirs are named differently); ours must
# also name the labelled rule.
th_lines = {int(i["line"]) for i in json.load(open(f"{w}/th.json"))}
th_hit = len(th_lines & positives); th_fp = len(th_lines & negatives)
classes = sorted({r for r in labels.values() if r != "-"})
print(f"\nAudit engine bench: median of 3; ours on a {log_mib} MiB log, the others on its first {slice_mib} MiB;")
print(f"labelled corpus: {len(positives)} secret lines of {len(classes)} formats, {len(negatives)} look-alike lines")
print(f"{'metric':30} {'bulkhead':>11} {'detect-secrets':>15} {'trufflehog3':>12}")
print(f"{'scan throughput MB/s':30} {ours:11.1f} {theirs:15.3f} {th:12.3f}")
print(f"{'  bulkhead / them':30} {'':11} {ours / theirs:14.0f}x {ours / th:11.0f}x")
print(f"{'recall (secret lines found)':30} {ours_hit:>6}/{len(positives):<4} {ds_hit:>10}/{len(positives):<4} {th_hit:>7}/{len(positives):<4}")
print(f"{'false positives (look-alikes)':30} {ours_fp:>6}/{len(negatives):<4} {ds_fp:>10}/{len(negatives):<4} {th_fp:>7}/{len(negatives):<4}")
missed_by = lambda lines: sorted({labels[n] for n in positives if n not in lines})
print(f"formats with a line detect-secrets missed: {', '.join(missed_by(ds_lines)) or 'none'}")
print(f"formats with a line trufflehog3 missed:    {', '.join(missed_by(th_lines)) or 'none'}")
PY
