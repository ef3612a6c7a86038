#!/usr/bin/env bash
# Execute the stored notebooks in place, in the smoke profile on the synthetic stand-in (what
# `pytest --nbval` re-executes and compares), printing each one's wall time.
# Usage: bash scripts/execute_notebooks.sh [notebooks/NAME.ipynb ...]
set -euo pipefail
cd "$(dirname "$0")/.."
export EMTLIB_NOTEBOOK_PROFILE=smoke
nbs=("$@")
[ ${#nbs[@]} -gt 0 ] || nbs=(notebooks/*.ipynb)
for nb in "${nbs[@]}"; do
  start=$SECONDS
  .venv/bin/python -m papermill --cwd notebooks --no-progress-bar "$nb" "$nb" >/dev/null
  printf '%-45s %4d s\n' "$nb" $((SECONDS - start))
done
