#!/usr/bin/env bash
# bench-http.sh ratio [SCENARIO...] | keys N [trent bench flags...]
#
# Builds trent, starts it freshly in dev mode (a temporary data dir, an
# ephemeral loopback port, the credentials it prints), measures it and stops
# it again (by its PID):
#
#   ratio     ../shared/perf/ratio.sh against it (PERF_DIR overrides where
#             the harness is): each scenario's req/s as a fraction of this
#             machine's bare net/http ceiling, measured in the same run.
#   keys N    trent bench --keys N: creates N keys with 16 concurrent clients
#             (keys/s), then loads Encrypt spread over them (flags after N go
#             to trent bench, e.g. --spread hot --hot 10000 --duration 20s).
#   create    trent bench --op CreateKey with 16 connections (keys/s, p99).
#   scale N   fills the data dir with N symmetric keys before the server
#             starts (trent bench populate: straight through the store, many
#             keys to a transaction, no audit events; ~10k keys/s), then
#             prints the server's startup time and memory (VmRSS, VmHWM)
#             and runs trent bench over those keys (flags after N, e.g.
#             --keys 100000 --spread cycle, or --keys 10000 --spread hot;
#             without --keys: all N, cycled). DATA_DIR=dir keeps the
#             filled data dir (and its key ids in dir.ids) for later runs.
#
# Used by `make bench-http`, `make bench-keys`, `make bench-create` and
# `make bench-scale`.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,26p' "$0" >&2; exit 2; }
mode=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t trent-bench.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && go build -o "$work/trent" ./cmd/trent)
data=$work/data
if [ "$mode" = scale ]; then
  [ $# -ge 1 ] || { echo "usage: $0 scale N [trent bench flags]" >&2; exit 2; }
  n=$1; shift
  data=${DATA_DIR:-$work/data}
  ids=$data.ids
  [ -d "$data" ] || mkdir -m 700 "$data"
  have=0; [ -f "$ids" ] && have=$(wc -l <"$ids")
  if [ "$have" -lt "$n" ]; then
    "$work/trent" bench populate --data-dir "$data" --keys $((n - have)) --keys-file "$ids"
  fi
else
  mkdir -m 700 "$data"
fi
began=$(date +%s%N)
"$work/trent" serve --dev --data-dir "$data" --listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1000); do
  grep -q 'export AWS_ACCESS_KEY_ID=' "$work/serve.log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.01
done
endpoint=$(sed -n 's/.*serving the AWS KMS API on \(http:[^ ]*\).*/\1/p' "$work/serve.log")
eval "$(grep -o 'export AWS_ACCESS_KEY_ID=.*' "$work/serve.log")"
[ -n "$endpoint" ] && [ -n "${AWS_ACCESS_KEY_ID:-}" ] || { cat "$work/serve.log" >&2; exit 1; }
echo "trent (pid $pid) on $endpoint, data in $data; nproc $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg)"
case $mode in
ratio)
  perf=${PERF_DIR:-$root/../shared/perf}
  [ -x "$perf/ratio.sh" ] || { echo "bench-http.sh: no ratio.sh in $perf (set PERF_DIR)" >&2; exit 1; }
  "$perf/ratio.sh" "$endpoint" "$pid" "$@" ;;
keys)
  [ $# -ge 1 ] || { echo "usage: $0 keys N [trent bench flags]" >&2; exit 2; }
  n=$1; shift
  "$work/trent" bench --endpoint "$endpoint" --keys "$n" --connections 16 "$@" ;;
create)
  "$work/trent" bench --endpoint "$endpoint" --op CreateKey --connections 16 "$@" ;;
scale)
  mem() { grep -E '^Vm(RSS|HWM)' /proc/"$pid"/status | tr -s ' \t' ' ' | tr '\n' ' '; }
  echo "$n keys: serving $(( ($(date +%s%N) - began) / 1000000 )) ms after start; $(mem)"
  case " $* " in *" --keys "*) ;; *) set -- --keys "$n" "$@" ;; esac
  "$work/trent" bench --endpoint "$endpoint" --keys-file "$ids" --connections 16 "$@"
  echo "after the run: $(mem)" ;;
*)
  echo "bench-http.sh: unknown mode $mode (ratio, keys, create or scale)" >&2; exit 2 ;;
esac
echo "data dir at the end: $(du -sh "$data" | cut -f1); load average $(cut -d' ' -f1-3 /proc/loadavg)"
