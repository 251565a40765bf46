#!/usr/bin/env bash
# Installs what Trent's test suite needs on a fresh Debian machine, if it is
# missing: the AWS CLI (the end-to-end CLI test drives it), openssl, and
# SoftHSM2 (the PKCS#11 seal's tests make a token in it). Idempotent.
set -euo pipefail

need=()
command -v aws >/dev/null 2>&1 && aws --version >/dev/null 2>&1 || need+=(awscli)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v softhsm2-util >/dev/null 2>&1 || need+=(softhsm2)
# PostgreSQL's programs (initdb, postgres): the PostgreSQL store's tests start
# a throwaway cluster of their own (internal/testenv/pgtest); no service is
# used. runuser (util-linux) runs it unprivileged when the tests run as root.
have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1; }
have_postgres || need+=(postgresql)

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
for cmd in aws openssl softhsm2-util; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "test-deps: $cmd still missing after apt-get install" >&2; exit 1; }
done
have_postgres || { echo "test-deps: initdb still missing after apt-get install postgresql" >&2; exit 1; }
