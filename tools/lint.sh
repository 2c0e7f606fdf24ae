#!/usr/bin/env bash
# Lint checks of .pre-commit-config.yaml, offline, with the checkers that
# tools/setup_env.sh installs into .venv (same versions): flake8, isort, yapf.
#   bash tools/lint.sh          # check only; exit 1 on any finding
#   FIX=1 bash tools/lint.sh    # rewrite files with isort and yapf first
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BIN="${VENV:-$ROOT/.venv}/bin"
PATHS=(hourglass_plugin tools tests configs setup.py)

if [[ -n "${FIX:-}" ]]; then
  "$BIN/isort" -q "${PATHS[@]}"
  "$BIN/yapf" -i -r "${PATHS[@]}"
fi
status=0
echo "[lint] flake8"
"$BIN/flake8" "${PATHS[@]}" || status=1
echo "[lint] isort --check-only"
"$BIN/isort" --check-only --diff -q "${PATHS[@]}" || status=1
echo "[lint] yapf --diff"
"$BIN/yapf" --diff -r "${PATHS[@]}" || status=1
if [[ $status -ne 0 ]]; then
  echo "[lint] FAILED: fix the findings above (FIX=1 bash tools/lint.sh rewrites imports and formatting)" >&2
else
  echo "[lint] clean"
fi
exit $status
