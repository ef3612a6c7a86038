#!/usr/bin/env bash
# Bring each notebook's cells up to date from its paired source notebooks/NAME.py (jupytext
# py:percent, the file a person edits; outputs of unchanged cells are kept), then execute it in
# place in the smoke profile on the synthetic stand-in (what `pytest --nbval` re-executes and
# compares), printing each one's wall time.
# Usage: bash scripts/execute_notebooks.sh [notebooks/NAME.py|.ipynb ...]  (default: every
# notebooks/*.py, so a new source gets its notebook)
set -euo pipefail
cd "$(dirname "$0")/.."
export EMTLIB_NOTEBOOK_PROFILE=smoke
nbs=("$@")
[ ${#nbs[@]} -gt 0 ] || nbs=(notebooks/*.py)
for nb in "${nbs[@]}"; do
  nb=${nb%.*}.ipynb  # notebooks/NAME.py names the same notebook
  .venv/bin/python -m jupytext --quiet --update --to ipynb "${nb%.ipynb}.py"
  start=$SECONDS
  .venv/bin/python -m papermill --cwd notebooks --no-progress-bar "$nb" "$nb" >/dev/null
  printf '%-45s %4d s\n' "$nb" $((SECONDS - start))
done
