#!/usr/bin/env bash
# Installs what Trent's test suite needs on a fresh Debian machine, if it is
# missing: the AWS CLI (the end-to-end CLI test drives it), openssl,
# SoftHSM2 (the PKCS#11 seal's tests make a token in it), and the clients
# of docs/clients.md's recipes. Idempotent.
set -euo pipefail

need=()
command -v aws >/dev/null 2>&1 && aws --version >/dev/null 2>&1 || need+=(awscli)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v softhsm2-util >/dev/null 2>&1 || need+=(softhsm2)
# wrk replays the scripts trent bench --wrk-script writes (cmd/trent's test).
command -v wrk >/dev/null 2>&1 || need+=(wrk)
# PostgreSQL's programs (initdb, postgres): the PostgreSQL store's tests start
# a throwaway cluster of their own (internal/testenv/pgtest); no service is
# used. runuser (util-linux) runs it unprivileged when the tests run as root.
have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1; }
have_postgres || need+=(postgresql)

# The client recipes of docs/clients.md (internal/e2e/recipes_*_test.go).
# boto3: the python3 on PATH may already have it; else Debian's package
# (for /usr/bin/python3).
python3 -c 'import boto3' >/dev/null 2>&1 || /usr/bin/python3 -c 'import boto3' >/dev/null 2>&1 || need+=(python3-boto3)
# The JavaScript SDK and the AWS Encryption SDK, from npm at the versions in
# the committed lock file, into the recipes' cache (about 10 s). A failure
# is reported, not fatal: the tests then fail, naming what is missing.
recipes_cache="${TRENT_RECIPES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trent-recipes}"
recipes_src="$(cd "$(dirname "$0")/.." && pwd)/internal/e2e/testdata/recipes"
if ! cmp -s "$recipes_src/node/package-lock.json" "$recipes_cache/node/package-lock.json" ||
   [ ! -d "$recipes_cache/node/node_modules/@aws-crypto/client-node" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "test-deps: npm ci of the recipes' packages into $recipes_cache/node" >&2
    mkdir -p "$recipes_cache/node"
    cp "$recipes_src/node/package.json" "$recipes_src/node/package-lock.json" "$recipes_cache/node/"
    (cd "$recipes_cache/node" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null) ||
      echo "test-deps: npm ci failed; the JavaScript recipe tests will fail" >&2
  else
    echo "test-deps: npm not found; the JavaScript recipe tests will fail" >&2
  fi
fi
# The Go SDK recipe is a module of its own; fetch what it builds with.
(cd "$recipes_src/gosdk" && GOWORK=off go mod download) ||
  echo "test-deps: go mod download for the Go SDK recipe failed" >&2
# sops, built from the Go module proxy (Debian bookworm has no package): a
# few minutes on two cores, once per machine; TRENT_RECIPES_SOPS=0 skips the
# build, and then the sops recipe test skips (or fails under make test).
sops_version=v3.13.3
if [ "${TRENT_RECIPES_SOPS:-1}" != 0 ] && [ ! -x "$recipes_cache/bin/sops-$sops_version" ]; then
  echo "test-deps: building sops $sops_version into $recipes_cache/bin" >&2
  mkdir -p "$recipes_cache/bin"
  GOBIN="$recipes_cache/bin" GOWORK=off go install "github.com/getsops/sops/v3/cmd/sops@$sops_version" &&
    cp "$recipes_cache/bin/sops" "$recipes_cache/bin/sops-$sops_version" ||
    echo "test-deps: building sops failed; the sops recipe test will fail" >&2
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "test-deps: installing ${need[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "test-deps: need root (or sudo) to apt-get install ${need[*]}; install them and run again" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: apt-get not found; install ${need[*]} by hand and run again" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
for cmd in aws openssl softhsm2-util wrk; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "test-deps: $cmd still missing after apt-get install" >&2; exit 1; }
done
have_postgres || { echo "test-deps: initdb still missing after apt-get install postgresql" >&2; exit 1; }
