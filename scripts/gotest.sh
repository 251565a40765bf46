#!/usr/bin/env bash
# Runs `go test -v` with the given arguments, prints the per-package result
# lines and any failure, and closes with one plain summary line
# ("N passed, N failed, N skipped") counted over tests and subtests.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
go test -v "$@" >"$log" 2>&1
rc=$?
grep -E '^(ok |FAIL|panic:)|^ *--- FAIL' "$log"
if [ $rc -ne 0 ]; then
  # Each failed test's own lines first: go test -v marks whose output
  # follows with "=== RUN/CONT/NAME <test>", and a chatty passing test
  # running beside it must not push its failure out of the tail below.
  echo "---- output of each failed test ----"
  awk '
    NR == FNR { if (match($0, /^ *--- FAIL: [^ ]+/)) { n = substr($0, RSTART, RLENGTH); sub(/^ *--- FAIL: /, "", n); failed[n] = 1 }; next }
    /^=== (RUN|CONT|NAME|PAUSE) / { cur = $3; next }
    cur in failed && count[cur]++ < 300 { print }
  ' "$log" "$log"
  echo "---- the end of the run (passing tests elided) ----"
  grep -vE '^ *(=== (RUN|PAUSE|CONT|NAME)|--- PASS)' "$log" | tail -200
fi
passed=$(grep -cE '^ *--- PASS' "$log")
failed=$(grep -cE '^ *--- FAIL' "$log")
skipped=$(grep -cE '^ *--- SKIP' "$log")
echo
echo "$passed passed, $failed failed, $skipped skipped"
exit $rc
