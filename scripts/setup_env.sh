#!/usr/bin/env bash
# Creates .venv (if missing) and installs senmvae with its test extras into it.
# PyTorch is pinned to 2.13.0: on a CPU-only machine pip takes the CPU build. For a CUDA
# build, install it first into .venv from the PyTorch index (see README), then run this.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "creating virtual environment in .venv"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.senmvae-installed
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet "torch==2.13.0"
    .venv/bin/python -m pip install --quiet -e ".[test]"
    echo "$want" > "$stamp"
fi
