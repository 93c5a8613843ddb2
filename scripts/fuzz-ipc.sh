#!/usr/bin/env bash
# fuzz-ipc.sh SECONDS — build the IPCFuzz libFuzzer binary in its own scratch path
# (.build-fuzz) and fuzz the IPC decoders for SECONDS. The corpus persists in
# .build-fuzz/corpus; seeds are regenerated from real encodings on every run.
# Exits non-zero if the fuzzer found a crash (a broken round trip traps), a hang or an OOM.
set -euo pipefail

NAME=fuzz-ipc
SECONDS_TO_RUN=${1:?usage: fuzz-ipc.sh SECONDS}
SWIFT=${SWIFT:-swift}
SCRATCH=.build-fuzz
log() { printf '[%s] %s\n' "$NAME" "$*"; }

# release: libFuzzer's own main is linked (a debug build links the module's main);
# -parse-as-library: the harness has no top-level code; the define drops the replay main.
BUILD=(-c release --product IPCFuzz --scratch-path "$SCRATCH" --sanitize fuzzer
       -Xswiftc -parse-as-library -Xswiftc -DBULKHEAD_LIBFUZZER)
nice -n 10 "$SWIFT" build "${BUILD[@]}"
BIN=$("$SWIFT" build "${BUILD[@]}" --show-bin-path)/IPCFuzz

CORPUS=$SCRATCH/corpus SEEDS=$SCRATCH/seeds ARTIFACTS=$SCRATCH/artifacts LOG=$SCRATCH/fuzz.log
rm -rf "$SEEDS"
mkdir -p "$CORPUS" "$ARTIFACTS"

log "fuzzing for $SECONDS_TO_RUN s (full output: $LOG)"
status=0
# Swift's backtracer would take the trap signal before libFuzzer, which then saves no input.
# -max_len: the selector byte plus the largest request frame (4096), and a little over it.
SWIFT_BACKTRACE=enable=no BULKHEAD_FUZZ_SEEDS=$SEEDS nice -n 10 "$BIN" "$CORPUS" "$SEEDS" \
  -max_total_time="$SECONDS_TO_RUN" -max_len=4160 -rss_limit_mb=1024 -timeout=10 \
  -print_final_stats=1 -artifact_prefix="$ARTIFACTS/" >"$LOG" 2>&1 || status=$?

stat() { sed -n "s/^stat::$1: *//p" "$LOG"; }
if [ "$status" -ne 0 ]; then
  tail -n 40 "$LOG"
  log "FAILED (exit $status) after $(stat number_of_executed_units) executions; input saved in $ARTIFACTS/:"
  ls -t "$ARTIFACTS" | head -n 3 | sed "s|^|  $ARTIFACTS/|"
  log "replay: $BIN <input>"
  exit 1
fi
log "ok: $(stat number_of_executed_units) executions in $SECONDS_TO_RUN s, $(stat average_exec_per_sec) exec/s, $(grep -o 'corp: [0-9]*' "$LOG" | tail -n 1 | cut -d' ' -f2) corpus inputs, peak RSS $(stat peak_rss_mb) MB, no crash"
