#!/usr/bin/env bash
# Check the Prometheus alert rules and run their unit tests, offline:
#   promtool check rules deploy/prometheus/alerts.yml
#   promtool test rules  deploy/prometheus/alerts.test.yml
#
#   bash scripts/check_alerts.sh
#
# promtool: $PROMTOOL if set, else a copy cached in .cache/promtool/, else taken out of Debian's
# `prometheus` package with `apt-get download` + `dpkg-deb -x` (the package is never installed,
# so no daemon starts), else `promtool` from PATH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CACHE="$ROOT/.cache/promtool"
log() { echo "check_alerts: $*" >&2; }

# Downloaded tools live in .cache/, which ignores itself so they are never committed.
ensure_cache() {
  mkdir -p "$ROOT/.cache"
  [[ -f "$ROOT/.cache/.gitignore" ]] || printf '*\n' >"$ROOT/.cache/.gitignore"
}

fetch_promtool() {
  command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || return 1
  ensure_cache
  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/promtool.XXXXXX")"
  chmod 755 "$work"  # let apt's unprivileged downloader write here
  log "fetching promtool from Debian's prometheus package (apt-get download, not installed)"
  if ! (cd "$work" && apt-get download -q prometheus >/dev/null 2>&1); then
    log "apt-get download failed; running apt-get update once and retrying"
    apt-get update -q >/dev/null 2>&1 || true
    (cd "$work" && apt-get download -q prometheus >/dev/null) || { rm -rf "$work"; return 1; }
  fi
  local deb
  deb="$(ls "$work"/prometheus_*.deb)"
  dpkg-deb -x "$deb" "$work/root"
  mkdir -p "$CACHE/bin"
  install -m 0755 "$work/root/usr/bin/promtool" "$CACHE/bin/promtool"
  basename "$deb" >"$CACHE/SOURCE"
  rm -rf "$work"
}

if [[ -n "${PROMTOOL:-}" ]]; then
  :
elif [[ -x "$CACHE/bin/promtool" ]]; then
  PROMTOOL="$CACHE/bin/promtool"
elif fetch_promtool; then
  PROMTOOL="$CACHE/bin/promtool"
elif command -v promtool >/dev/null 2>&1; then
  PROMTOOL="$(command -v promtool)"
else
  log "no promtool: could not get Debian's prometheus package and none on PATH"
  exit 2
fi
log "using $PROMTOOL ($("$PROMTOOL" --version 2>&1 | head -1))"

cd deploy/prometheus
failed=0
run() {
  local label="$1"
  shift
  local out
  if out="$("$PROMTOOL" "$@" 2>&1)"; then
    echo "ok   $label"
  else
    echo "FAIL $label"
    failed=1
  fi
  sed 's/^/    /' <<<"$out"
}
run "promtool check rules alerts.yml" check rules alerts.yml
run "promtool test rules alerts.test.yml" test rules alerts.test.yml
exit "$failed"
