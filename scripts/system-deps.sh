#!/usr/bin/env bash
# Install the distribution packages the stack (and, with --test, the tests) need,
# when they are not already on PATH or named by their *_BIN variable.
# Debian/Ubuntu only; elsewhere it says what to install and exits non-zero.
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

missing=()
need() {  # need VAR package name...
  local var=$1 pkg=$2; shift 2
  if [ -n "${!var:-}" ]; then
    command -v "${!var}" >/dev/null 2>&1 && return 0
    echo "system-deps: $var=${!var} is not an executable" >&2; exit 1
  fi
  for name in "$@"; do
    command -v "$name" >/dev/null 2>&1 && return 0
    [ -x "/usr/bin/$name" ] && return 0
  done
  missing+=("$pkg")
}

need PROMETHEUS_BIN prometheus prometheus
need PROMTOOL_BIN prometheus promtool
need ALERTMANAGER_BIN prometheus-alertmanager alertmanager prometheus-alertmanager
need AMTOOL_BIN prometheus-alertmanager amtool
# `python -m stack backup`: deduplicated, encrypted snapshots of the stack's state.
need RESTIC_BIN restic restic
# The demo fleet's hosts (`make up HOSTS=N`) and the fleet tests run Debian's sshd,
# each on its own loopback address with its own configuration. Only the binary is
# wanted: see the install below, which keeps the machine's own sshd from running.
need SSHD_BIN openssh-server sshd /usr/sbin/sshd
if [ "$want_test" = 1 ]; then
  need NODE_EXPORTER_BIN prometheus-node-exporter node_exporter prometheus-node-exporter
  need REDIS_SERVER_BIN redis-server redis-server
  # The browser tests drive Debian's Chromium through Playwright (never a downloaded build).
  need CHROMIUM_BIN chromium chromium
  # The PostgreSQL tests run the server from PG_BIN, a folder, or else from the
  # newest of Debian's versioned ones (tests/support/postgres.py).
  if [ -n "${PG_BIN:-}" ]; then
    [ -x "$PG_BIN/postgres" ] || { echo "system-deps: PG_BIN=$PG_BIN has no postgres" >&2; exit 1; }
  else
    ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
  fi
fi

# Deduplicate.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')
[ "${#missing[@]}" -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${missing[*]} and this is not a Debian/Ubuntu machine." >&2
  echo "Install Prometheus (prometheus, promtool), Alertmanager (alertmanager, amtool), restic, sshd" >&2
  echo "and, for the tests, node_exporter, redis-server, Chromium and PostgreSQL; or point" >&2
  echo "PROMETHEUS_BIN, ALERTMANAGER_BIN, PROMTOOL_BIN, AMTOOL_BIN, RESTIC_BIN, NODE_EXPORTER_BIN," >&2
  echo "REDIS_SERVER_BIN, CHROMIUM_BIN, SSHD_BIN at them and PG_BIN at PostgreSQL's bin folder." >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "system-deps: need root to install ${missing[*]}: run 'apt-get install ${missing[*]}' as root" >&2
    exit 1
  fi
fi

echo "system-deps: installing ${missing[*]} from the distribution"
# Keep the packages' own services from starting: the stack runs its own
# processes on the same ports.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  made_policy=1
fi
trap '[ "$made_policy" = 1 ] && $sudo rm -f /usr/sbin/policy-rc.d' EXIT
# openssh-server enables the machine's own sshd on port 22; Debian's unit and init
# script do not start it while this file exists, so installing the package gives
# the demo its binary without opening a login service (sshd_config(5), Debian README).
if printf '%s\n' "${missing[@]}" | grep -qx openssh-server && [ ! -e /etc/ssh/sshd_not_to_be_run ]; then
  $sudo mkdir -p /etc/ssh
  $sudo touch /etc/ssh/sshd_not_to_be_run
  echo "system-deps: created /etc/ssh/sshd_not_to_be_run: the machine's own sshd stays off"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system-deps: installed ${missing[*]}"
