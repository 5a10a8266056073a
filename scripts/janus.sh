#!/usr/bin/env bash
# Makes sure Debian's Janus WebRTC server is installed, without leaving a janus daemon running:
# tests and `make run` start their own Janus with a private configuration. Idempotent.
# Prints the path of the janus binary on stdout (everything else goes to stderr).
set -euo pipefail
log() { printf '[janus] %s\n' "$*" >&2; }

find_janus() { command -v janus 2>/dev/null || { [ -x /usr/bin/janus ] && echo /usr/bin/janus; }; }

if ! find_janus >/dev/null; then
  log "installing Debian's janus package"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d stops the package from starting its daemon through the init scripts.
  guard=/usr/sbin/policy-rc.d
  had_guard=0
  [ -e "$guard" ] && had_guard=1
  if ((!had_guard)); then
    printf '#!/bin/sh\nexit 101\n' > "$guard" && chmod +x "$guard"
    trap 'rm -f "$guard"' EXIT
  fi
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends janus >&2
  if ((!had_guard)); then rm -f "$guard"; trap - EXIT; fi
fi

# Whatever the packaging did, no system-wide janus service may stay enabled or running.
# (`systemctl disable` also works without a running systemd: it only removes the links.)
if command -v systemctl >/dev/null 2>&1 && [ -e /lib/systemd/system/janus.service ] \
  && [ -e /etc/systemd/system/multi-user.target.wants/janus.service ]; then
  log "disabling the janus system service"
  systemctl disable janus.service >/dev/null 2>&1 || true
fi
if [ -d /run/systemd/system ]; then
  systemctl stop janus.service >/dev/null 2>&1 || true
fi
# The system daemon, if its init script started it anyway: it writes /run/janus.pid. Only that
# process is stopped; Janus instances that tests or `make run` started are left alone.
pidfile=/run/janus.pid
if [ -r "$pidfile" ]; then
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = janus ]; then
    log "stopping the system janus daemon (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
fi

janus_bin=$(find_janus) || { log "janus not found after install"; exit 1; }
# `janus --version` prints the version and exits with 1, so check what it printed.
version=$("$janus_bin" --version 2>&1 || true)
[[ $version == *"Janus version"* ]] || { log "$janus_bin does not run: $version"; exit 1; }
echo "$janus_bin"
