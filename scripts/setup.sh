#!/usr/bin/env bash
# Create .venv and install emtlib with everything it needs. Idempotent: a second run with
# unchanged requirements returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.emtlib-requirements.sha1
want=$(cat requirements.txt pyproject.toml | sha1sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # torch first and alone: anything that needs torch installed before it pulls a CUDA build.
  .venv/bin/python -m pip install -q "$(grep -E '^torch==' requirements.txt)" uv
  # the rest through uv (the same resolution as pip, in a third of the time); the installed
  # torch satisfies its pin and stays. --compile-bytecode: uv, unlike pip, writes no .pyc by
  # default, and with PYTHONDONTWRITEBYTECODE set (as on CI) every new process (each notebook
  # kernel) would otherwise compile scipy, pandas, transformers... from source: ~4 s each
  uv=(.venv/bin/python -m uv pip install --python .venv/bin/python -q --compile-bytecode)
  [ -n "${PIP_FIND_LINKS:-}" ] && uv+=(--find-links "$PIP_FIND_LINKS")
  "${uv[@]}" -r requirements.txt
  "${uv[@]}" --no-deps -e .
  echo "$want" > "$stamp"
fi
# the notebooks' kernel: this environment, registered under the name their metadata gives
if [ ! -f .venv/share/jupyter/kernels/emtlib/kernel.json ]; then
  .venv/bin/python -m ipykernel install --sys-prefix --name emtlib \
    --display-name "Python (emtlib)" >/dev/null
fi
