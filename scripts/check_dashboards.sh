#!/usr/bin/env bash
# Dashboards are code: every deploy/grafana/*.dashboard.py must regenerate to exactly the
# committed .json beside it (else: stale, regenerate and commit), and every panel must have a
# title and, except rows, at least one query.
#
#   VENV=.venv bash scripts/check_dashboards.sh
#
# Regenerate after a change:
#   $VENV/bin/generate-dashboard -o deploy/grafana/NAME.json deploy/grafana/NAME.dashboard.py
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${VENV:-$ROOT/.venv}"
GRAFANALIB_PIN="grafanalib==0.7.1"

if [[ ! -x "$VENV/bin/generate-dashboard" ]]; then
  echo "check_dashboards: installing $GRAFANALIB_PIN into $VENV" >&2
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "$GRAFANALIB_PIN"
fi

shopt -s nullglob
sources=(deploy/grafana/*.dashboard.py)
if [[ ${#sources[@]} -eq 0 ]]; then
  echo "check_dashboards: no deploy/grafana/*.dashboard.py" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

failed=0
for src in "${sources[@]}"; do
  name="$(basename "$src" .dashboard.py)"
  committed="deploy/grafana/$name.json"
  fresh="$tmp/$name.json"
  if ! "$VENV/bin/generate-dashboard" -o "$fresh" "$src"; then
    echo "FAIL $name: generate-dashboard failed"
    failed=1
    continue
  fi
  if [[ ! -f "$committed" ]]; then
    echo "FAIL $name: $committed is missing; run: $VENV/bin/generate-dashboard -o $committed $src"
    failed=1
    continue
  fi
  if ! diff -u "$committed" "$fresh" >"$tmp/$name.diff"; then
    echo "FAIL $name: $committed is stale; run: $VENV/bin/generate-dashboard -o $committed $src"
    head -40 "$tmp/$name.diff" | sed 's/^/    /'
    failed=1
    continue
  fi
  if ! "$VENV/bin/python" - "$committed" <<'PY'
import json
import sys

path = sys.argv[1]
board = json.load(open(path))
problems = []
if not board.get("title"):
    problems.append("the dashboard has no title")
if not board.get("uid"):
    problems.append("the dashboard has no uid")


def walk(panels):
    for panel in panels:
        yield panel
        yield from walk(panel.get("panels") or [])


panels = list(walk(board.get("panels") or []))
if not any(p.get("type") != "row" for p in panels):
    problems.append("the dashboard has no panels")
ids = [p.get("id") for p in panels]
if len(ids) != len(set(ids)):
    problems.append("panel ids are not unique")
titles = set()
for p in panels:
    title = (p.get("title") or "").strip()
    where = f"panel id={p.get('id')} ({p.get('type')})"
    if not title:
        problems.append(f"{where} has no title")
    if p.get("type") == "row":
        continue
    if title in titles:
        problems.append(f"{where} repeats the title {title!r}")
    titles.add(title)
    targets = p.get("targets") or []
    if not targets:
        problems.append(f"{where} {title!r} has no targets")
    for t in targets:
        if not (t.get("expr") or "").strip():
            problems.append(f"{where} {title!r} has a target without a query")
for line in problems:
    print(f"    {line}")
n = sum(1 for p in panels if p.get("type") != "row")
rows = sum(1 for p in panels if p.get("type") == "row")
if not problems:
    print(f"ok   {board['title']}: {rows} rows, {n} panels, all titled with queries")
sys.exit(1 if problems else 0)
PY
  then
    echo "FAIL $name: panels without a title or targets (above)"
    failed=1
  fi
done

exit "$failed"
