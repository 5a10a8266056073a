#!/usr/bin/env bash
# Generates Python code (messages, gRPC stubs, and their type stubs: mypy-protobuf's for the gRPC
# clients, grpc.aio's included) from protos/ into contracts/.
# `--check` regenerates into a scratch folder and fails if the committed code differs.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
out=.
if [ "${1:-}" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mapfile -t protos < <(cd protos && find contracts -name '*.proto' | sort)
"$VENV/bin/python" -m grpc_tools.protoc -Iprotos \
  --plugin=protoc-gen-mypy_grpc="$VENV/bin/protoc-gen-mypy_grpc" \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  --mypy_grpc_out="$out" --mypy_grpc_opt=quiet \
  "${protos[@]}"
# Generated packages need __init__.py files to be importable and type-checked.
for proto in "${protos[@]}"; do
  dir=$(dirname "$proto")
  while [ "$dir" != "contracts" ] && [ "$dir" != "." ]; do
    touch "$out/$dir/__init__.py"
    dir=$(dirname "$dir")
  done
done
# grpc_tools writes *_pb2_grpc.py(i) for every file, empty ones too: keep only those with services.
find "$out/contracts" -name '*_pb2_grpc.py' -print0 | while IFS= read -r -d '' f; do
  grep -q "class .*Stub" "$f" || rm -f "$f" "${f}i"
done
if [ "${1:-}" = "--check" ]; then
  stale=0
  while IFS= read -r -d '' f; do
    rel=${f#"$out"/}
    if ! cmp -s "$f" "$rel"; then echo "stale generated code: $rel (run make protos)"; stale=1; fi
  done < <(find "$out/contracts" -type f \( -name '*_pb2*.py' -o -name '*_pb2*.pyi' \) -print0)
  while IFS= read -r f; do
    [ -e "$out/$f" ] || { echo "generated file without a proto: $f"; stale=1; }
  done < <(find contracts -type f \( -name '*_pb2*.py' -o -name '*_pb2*.pyi' \) -not -path '*/tests/*')
  exit $stale
fi
