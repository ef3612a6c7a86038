#!/usr/bin/env bash
# Refresh the stored notebooks: train the records of PROFILE (default demo) that are missing, then
# re-execute every notebook from the records alone.
#
#   1. train   `emtlib sweep --grid paper` trains every notebook's missing runs into
#              results/PROFILE on EXECUTOR (default: processes, two local workers; resumable: an
#              interrupted refresh keeps every finished record and starts again from there);
#              then each notebook runs once with `-p synthetic True -p profile PROFILE
#              -p results_dir results/PROFILE` into a scratch copy, which trains what no grid
#              holds (notebook 10's checkpointed model);
#   2. replay  each notebook is executed in place with the same parameters and EMTLIB_CACHE_ONLY=1,
#              so its stored outputs come from the records only (what `pytest --nbval` replays).
#
# Usage: [PROFILE=demo|smoke] [EXECUTOR=processes|local|ray|slurm] [WORKERS=2] \
#          bash scripts/refresh_notebooks.sh [notebooks/NAME.py ...]
#        (default: every notebook)
# Each notebook's source of truth is notebooks/NAME.py (jupytext py:percent); it is synced first.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
profile=${PROFILE:-demo}
params=(-p synthetic True -p profile "$profile" -p results_dir "results/$profile")
nbs=("$@")
[ ${#nbs[@]} -gt 0 ] || nbs=(notebooks/*.py)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
total=$SECONDS
grids=()
for nb in "${nbs[@]}"; do
  n=$(basename "$nb" | cut -c1-2)
  case $n in 01|02|04|05|06|07|08|09) grids+=("$n") ;; esac  # the notebooks with a grid
done
[ ${#nbs[@]} -eq 11 ] && grids=(paper)  # every notebook: their union, shared runs once
for g in "${grids[@]}"; do
  EMTLIB_CACHE_ONLY=0 "$PY" -m emtlib sweep --grid "$g" --synthetic --profile "$profile" \
    --results-dir "results/$profile" --executor "${EXECUTOR:-processes}" --workers "${WORKERS:-2}"
done
printf 'sweep %d s\n' $((SECONDS - total))
# every training pass before any replay: a pass may rewrite a record another notebook reads
# (notebook 10 retrains a run the ablations hold, to keep its weights)
for nb in "${nbs[@]}"; do
  src=${nb%.*}.py
  nb=${nb%.*}.ipynb
  "$PY" -m jupytext --quiet --update --to ipynb "$src"
  start=$SECONDS
  if ! EMTLIB_CACHE_ONLY=0 "$PY" -m papermill --cwd notebooks --no-progress-bar --log-output \
      "$nb" "$scratch/$(basename "$nb")" "${params[@]}" >"$scratch/log" 2>&1; then
    tail -n 30 "$scratch/log"
    echo "training through $nb failed (records finished so far are kept)" >&2
    exit 1
  fi
  printf '%-42s train  %5d s\n' "$nb" $((SECONDS - start))
done
for nb in "${nbs[@]}"; do
  nb=${nb%.*}.ipynb
  start=$SECONDS
  if ! EMTLIB_CACHE_ONLY=1 "$PY" -m papermill --cwd notebooks --no-progress-bar "$nb" "$nb" \
      "${params[@]}" >"$scratch/log" 2>&1; then
    tail -n 30 "$scratch/log"
    echo "replaying $nb from its records failed" >&2
    exit 1
  fi
  printf '%-42s replay %5d s\n' "$nb" $((SECONDS - start))
done
printf 'total %d s\n' $((SECONDS - total))
