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
  echo "---- output of the failing run (passing tests elided) ----"
  grep -vE '^ *(=== (RUN|PAUSE|CONT|NAME)|--- PASS)' "$log" | tail -400
fi
passed=$(grep -cE '^ *--- PASS' "$log")
failed=$(grep -cE '^ *--- FAIL' "$log")
skipped=$(grep -cE '^ *--- SKIP' "$log")
echo
echo "$passed passed, $failed failed, $skipped skipped"
exit $rc
