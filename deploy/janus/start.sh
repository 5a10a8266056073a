#!/bin/sh
# headstore-janus-start: copies Janus' configuration from $JANUS_TEMPLATES (the ConfigMap `janus`,
# read-only) to $JANUS_CONFIG_DIR (an in-memory emptyDir), fills in the @JANUS_...@ placeholders
# from the environment, and runs janus in the foreground (as PID 1: SIGTERM stops it).
#   required: JANUS_ADMIN_SECRET, JANUS_ROOM_ADMIN_KEY, JANUS_API_SECRET, JANUS_EVENTS_PASSWORD
#             (Secret headstore-secrets; the last is its CALLS_JANUS_EVENTS_PASSWORD)
#   optional: JANUS_NAT_1_1_MAPPING, JANUS_ADMIN_ACL (ConfigMap headstore-config); a line whose
#             placeholder is empty is left out, so Janus uses its default.
# Extra arguments go to janus (e.g. --debug-level=5).
set -eu

src="${JANUS_TEMPLATES:-/etc/headstore-janus}"
dst="${JANUS_CONFIG_DIR:-/run/janus}"
REQUIRED="JANUS_ADMIN_SECRET JANUS_ROOM_ADMIN_KEY JANUS_API_SECRET JANUS_EVENTS_PASSWORD"
OPTIONAL="JANUS_NAT_1_1_MAPPING JANUS_ADMIN_ACL"

fail() { echo "headstore-janus-start: $*" >&2; exit 64; }

# Values are written inside "..." in libconfig files: allow only characters that need no quoting
# there nor in sed (no quote, backslash, |, & or newline).
check() {
  case "$2" in
    *[!A-Za-z0-9._~+/=,:-]*) fail "$1 may contain only letters, digits and ._~+/=,:-" ;;
  esac
}

[ -d "$src" ] || fail "no configuration folder $src"
mkdir -p "$dst"
cp "$src"/*.jcfg "$dst"/

script=""
for name in $REQUIRED; do
  eval "value=\${$name:-}"
  [ -n "$value" ] || fail "$name is not set"
  check "$name" "$value"
  script="$script s|@$name@|$value|g;"
done
for name in $OPTIONAL; do
  eval "value=\${$name:-}"
  check "$name" "$value"
  if [ -n "$value" ]; then
    script="$script s|@$name@|$value|g;"
  else
    script="$script /@$name@/d;"
  fi
done
for file in "$dst"/*.jcfg; do
  sed -i -e "$script" "$file"
  # Anything still unfilled is a typo in the ConfigMap: better to stop than to run with it.
  if grep -n '@JANUS_[A-Z0-9_]*@' "$file" >&2; then
    fail "unknown placeholder in $(basename "$file")"
  fi
done
chmod 0600 "$dst"/*.jcfg

exec janus --configs-folder="$dst" --disable-colors "$@"
