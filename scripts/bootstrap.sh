#!/usr/bin/env bash
# Brings a fresh Debian machine to the point where Headstore runs and its tests pass:
# system packages, running PostgreSQL, RabbitMQ and Redis, and the project's virtualenv.
# Safe to run again: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
log() { printf '[bootstrap] %s\n' "$*"; }

need_apt=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || need_apt+=(rabbitmq-server)
# The gateway's rate limits are tested on Redis too (RATE_LIMIT_STORAGE_URI in production).
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
"$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v make >/dev/null 2>&1 || need_apt+=(make)
# The real-media tests make network namespaces with `ip netns`.
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need_apt+=(iproute2)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d stops the packages from starting daemons through init scripts during install;
  # this script starts them itself, the same way on every machine.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

wait_for() {  # wait_for <what> <seconds> <command...>
  local what=$1 deadline=$(( $(date +%s) + $2 )); shift 2
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) > deadline )); then log "$what did not come up"; return 1; fi
    sleep 0.5
  done
}

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for PostgreSQL 60 pg_isready -q -h 127.0.0.1 -p 5432
  # A fresh cluster wants a password over TCP: trust local connections, as CI machines do.
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  log "starting RabbitMQ"
  rabbitmq-server -detached
  wait_for RabbitMQ 120 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672'
  wait_for RabbitMQ 60 rabbitmqctl -q await_startup
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  log "starting Redis"
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no
  wait_for Redis 30 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379'
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  log "installing Python packages"
  "$VENV/bin/pip" install -q --upgrade pip 'setuptools<81' wheel
  "$VENV/bin/pip" install -q -e '.[dev]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
log "ready"
