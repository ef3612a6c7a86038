#!/usr/bin/env bash
# Set up the environment (scripts/setup.sh, idempotent) and open the notebooks in JupyterLab
# with the `emtlib` kernel. Extra arguments go to `jupyter lab` (e.g. --port 8890 --no-browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
args=(--notebook-dir notebooks)
# JupyterLab refuses to run as root unless told: containers and fresh cloud machines are root
[ "$(id -u)" = 0 ] && args+=(--allow-root)
exec .venv/bin/jupyter lab "${args[@]}" "$@"
