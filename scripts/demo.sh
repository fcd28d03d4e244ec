#!/usr/bin/env bash
# Sets up .venv if needed, then runs the demo; extra arguments go to `senmvae demo`
# (e.g. --data ../shared/data/polyu, --budget MINUTES, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/senmvae demo "$@"
