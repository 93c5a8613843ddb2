#!/usr/bin/env bash
# make bench (audit engine): the secret scanner against detect-secrets (PyPI) in the
# same run, and recall/precision on a labelled corpus. Medians of 3 runs.
# detect-secrets is ~4 orders of magnitude slower, so it scans a slice of the
# same log; both throughputs are per byte of the same content.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=${BULKHEAD_BIN_DIR:?}
W=$(mktemp -d /tmp/bulkhead-audit-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
LOG_MIB=${BENCH_LOG_MIB:-1024}
SLICE_MIB=${BENCH_DS_MIB:-2}
python3 -m detect_secrets --version >/dev/null 2>&1 || python3 -m pip install -q detect-secrets
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "generating a ${LOG_MIB} MiB log (one synthetic secret per ~64 KiB) and a labelled corpus" >&2
python3 "$here/make_secret_corpus.py" log "$W/app.log" "$LOG_MIB"
head -c $((SLICE_MIB << 20)) "$W/app.log" >"$W/slice.log"
python3 "$here/make_secret_corpus.py" labelled "$W/corpus"

ours=(); theirs=()
for _ in 1 2 3; do
  # exit status 1 means "findings": expected here
  ours+=("$( { "$BIN/bulkhead-agent" audit scan "$W/app.log" 2>&1 >/dev/null || true; } | sed -n 's/.*(\([0-9.]*\) MB\/s).*/\1/p')")
  t0=$(date +%s.%N); (cd "$W" && python3 -m detect_secrets scan slice.log >/dev/null); t1=$(date +%s.%N)
  theirs+=("$(awk -v b=$((SLICE_MIB << 20)) -v a="$t0" -v z="$t1" 'BEGIN {printf "%.3f", b / (z - a) / 1e6}')")
done
o=$(printf '%s\n' "${ours[@]}" | median); d=$(printf '%s\n' "${theirs[@]}" | median)

"$BIN/bulkhead-agent" audit scan --quiet --format json "$W/corpus/corpus.txt" >"$W/ours.jsonl" || true
(cd "$W/corpus" && python3 -m detect_secrets scan corpus.txt >"$W/ds.json")
python3 - "$W" "$o" "$d" "$LOG_MIB" "$SLICE_MIB" <<'PY'
import json, sys
w, ours, theirs, log_mib, slice_mib = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
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
print(f"\nAudit engine bench: median of 3; ours on a {log_mib} MiB log, detect-secrets on its first {slice_mib} MiB")
print(f"{'metric':34} {'bulkhead':>12} {'detect-secrets':>15} {'ratio':>10}")
print(f"{'scan throughput MB/s (1 core)':34} {ours:12.1f} {theirs:15.3f} {ours / theirs:9.0f}x")
print(f"{'recall on labelled secrets':34} {ours_hit:>7}/{len(positives):<4} {ds_hit:>10}/{len(positives):<4}")
print(f"{'findings on negative lines':34} {ours_fp:>7}/{len(negatives):<4} {ds_fp:>10}/{len(negatives):<4}")
PY
