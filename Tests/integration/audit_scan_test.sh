#!/usr/bin/env bash
# `bulkhead-agent audit scan`: the audit engine from the command line. Exit codes,
# formats, extra rules, a rule that does not compile, and no plain secret ever printed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
BIN=${BULKHEAD_BIN_DIR:?set BULKHEAD_BIN_DIR to the build directory}
W=$(mktemp -d /tmp/bulkhead-audit-scan-test.XXXXXX)
trap 'rm -rf "$W"' EXIT

python3 "$here/../../bench/make_secret_corpus.py" labelled "$W/corpus"
corpus=$W/corpus/corpus.txt
out=$("$BIN/bulkhead-agent" audit scan --format json "$corpus" 2>"$W/err"); code=$?
check_eq "findings give exit status 1" 1 "$code"
check_contains "a throughput summary on stderr" "MB/s" "$(cat "$W/err")"
# Every labelled secret is found on its line, and nothing on the negative lines.
printf '%s\n' "$out" >"$W/findings.jsonl"
result=$(python3 - "$W/corpus/labels.tsv" "$W/findings.jsonl" <<'PY'
import json, sys
labels = {int(l.split("\t")[0]): l.split("\t")[1].strip() for l in open(sys.argv[1])}
found = {}
for line in open(sys.argv[2]):
    f = json.loads(line); found.setdefault(f["line"], set()).add(f["pattern"])
missed = [n for n, r in labels.items() if r != "-" and r not in found.get(n, set())]
false = [n for n in found if labels[n] == "-"]
print(f"missed={len(missed)} false={len(false)}")
PY
)
check_eq "recall 100%, no finding on negative lines" "missed=0 false=0" "$result"

# No plain secret in the output: take each positive line's secret-looking token and grep for it.
leaks=0
while IFS= read -r line; do
  token=$(grep -oE '(AKIA[A-Z2-7]{16}|ghp_[A-Za-z0-9]{36}|glpat-[A-Za-z0-9]{20}|npm_[A-Za-z0-9]{36}|sk_live_[A-Za-z0-9]{24})' <<<"$line" | head -1)
  [ -n "$token" ] && grep -qF "$token" <<<"$out" && leaks=$((leaks + 1))
done <"$corpus"
check_eq "no plain secret appears in the findings" 0 "$leaks"

printf 'nothing to see here\n' >"$W/clean.txt"
"$BIN/bulkhead-agent" audit scan --quiet "$W/clean.txt" >/dev/null; check_eq "a clean file gives exit status 0" 0 "$?"
printf 'token ghp_%s\n' "$(head -c 200 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 36)" | "$BIN/bulkhead-agent" audit scan --quiet - >"$W/stdin.out"
check_contains "stdin is scanned, text format names the rule" "github-token" "$(cat "$W/stdin.out")"

cat >"$W/rules.yaml" <<'YAML'
- id: acme-internal-token
  description: ACME internal token
  severity: high
  pattern: "acme_tok_[0-9a-f]{24}"
  keywords: [acme_tok_]
YAML
printf 'auth acme_tok_0123456789abcdef01234567 ok\n' >"$W/custom.txt"
check_contains "an extra rules file is applied" "acme-internal-token" "$("$BIN/bulkhead-agent" audit scan --quiet --rules "$W/rules.yaml" "$W/custom.txt")"
printf -- '- id: broken-rule\n  pattern: "(unclosed"\n' >"$W/bad.yaml"
msg=$("$BIN/bulkhead-agent" audit scan --rules "$W/bad.yaml" "$W/clean.txt" 2>&1); code=$?
check_eq "a rule that does not compile is exit status 2" 2 "$code"
check_contains "and the error names the rule" 'rule "broken-rule" does not compile' "$msg"
check_contains "audit rules prints the built-in rules as YAML" "id: aws-access-key" "$("$BIN/bulkhead-agent" audit rules)"

summary
