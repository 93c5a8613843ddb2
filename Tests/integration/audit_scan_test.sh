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

# Reports: SARIF valid against the OASIS 2.1.0 schema, fingerprints without the secret,
# a baseline that silences known findings, rules turned off, the exit status chosen.
"$BIN/bulkhead-agent" audit scan --quiet --report-format sarif --report-path "$W/scan.sarif" "$corpus" >/dev/null; code=$?
check_eq "a SARIF report: exit status 1 for findings" 1 "$code"
schema_errors=$(/usr/bin/python3 - "$here/fixtures/sarif-schema-2.1.0.json" "$W/scan.sarif" <<'PY'
import json, sys, jsonschema
schema, log = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
v = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
errors = list(v.iter_errors(log))
bad = json.loads(json.dumps(log)); bad["runs"][0]["results"][0]["level"] = "fatal"
print(f"{len(errors)} results={len(log['runs'][0]['results'])} broken_copy_rejected={not v.is_valid(bad)}")
PY
)
check_eq "the SARIF report validates against the 2.1.0 schema (and a broken copy does not)" \
  "0 results=$(wc -l <"$W/findings.jsonl") broken_copy_rejected=True" "$schema_errors"
"$BIN/bulkhead-agent" audit scan --quiet --report-format csv --report-path "$W/scan.csv" "$corpus" >/dev/null
"$BIN/bulkhead-agent" audit scan --quiet --report-format json --report-path "$W/scan.json" "$corpus" >/dev/null
check_eq "CSV: a header and one row per finding" "$(($(wc -l <"$W/findings.jsonl") + 1))" "$(wc -l <"$W/scan.csv")"
fp_leaks=0
while IFS= read -r line; do
  token=$(grep -oE '(AKIA[A-Z2-7]{16}|ghp_[A-Za-z0-9]{36}|glpat-[A-Za-z0-9]{20}|npm_[A-Za-z0-9]{36}|sk_live_[A-Za-z0-9]{24})' <<<"$line" | head -1)
  [ -n "$token" ] && cat "$W/scan.sarif" "$W/scan.csv" "$W/scan.json" | grep -qF "$token" && fp_leaks=$((fp_leaks + 1))
done <"$corpus"
check_eq "no plain secret in the json, sarif or csv report" 0 "$fp_leaks"
check_eq "fingerprints are stable between runs" "$(grep -o 'bh1:[0-9a-f]*' "$W/scan.json" | sort | md5sum)" \
  "$("$BIN/bulkhead-agent" audit scan --quiet --report-format json --report-path - "$corpus" | grep -o 'bh1:[0-9a-f]*' | sort | md5sum)"
for fmt in sarif csv json; do
  out=$("$BIN/bulkhead-agent" audit scan --quiet --baseline "$W/scan.$fmt" "$corpus"); code=$?
  check_eq "a $fmt baseline silences every known finding (exit 0, no output)" "0:" "$code:$out"
done
# The same file later, with one more secret: the baseline was written for this path.
cp "$corpus" "$W/app.log"
"$BIN/bulkhead-agent" audit scan --quiet --report-format sarif --report-path "$W/app.sarif" "$W/app.log" >/dev/null
printf 'new secret ghp_%s\n' "$(head -c 300 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 36)" >>"$W/app.log"
out=$("$BIN/bulkhead-agent" audit scan --quiet --baseline "$W/app.sarif" "$W/app.log"); code=$?
check_eq "with a baseline, only the new secret is reported" "1:1:github-token" "$code:$(wc -l <<<"$out"):$(cut -f3 <<<"$out")"
"$BIN/bulkhead-agent" audit scan --quiet --baseline "$W/app.sarif" --exit-code 7 "$W/app.log" >/dev/null
check_eq "--exit-code sets the status for findings" 7 "$?"
"$BIN/bulkhead-agent" audit scan --quiet --exit-code 0 "$corpus" >/dev/null
check_eq "--exit-code 0 never fails on findings" 0 "$?"
out=$("$BIN/bulkhead-agent" audit scan --quiet --disable-rule github-token --baseline "$W/app.sarif" "$W/app.log"); code=$?
check_eq "--disable-rule turns the rule off" "0:" "$code:$out"
msg=$("$BIN/bulkhead-agent" audit scan --disable-rule no-such-rule "$corpus" 2>&1); code=$?
check_eq "an unknown --disable-rule is exit status 2" 2 "$code"
check_contains "and the error names it" "no rule named no-such-rule" "$msg"
echo 'not a report' >"$W/junk.txt"
msg=$("$BIN/bulkhead-agent" audit scan --baseline "$W/junk.txt" "$corpus" 2>&1); code=$?
check_eq "a baseline that is not a report is exit status 2" "2" "$code"
check_contains "and the error says what a baseline must be" "not a report of audit scan" "$msg"
echo previous >"$W/keep.json"
printf 'x' | "$BIN/bulkhead-agent" audit scan --quiet --report-format json --report-path "$W/keep.json" "$W/missing-input" 2>/dev/null
check_eq "a failed scan leaves an existing report as it was" previous "$(cat "$W/keep.json")"
check_eq "and leaves no temporary file" 0 "$(find "$W" -name '.keep.json.tmp-*' | wc -l)"

summary
