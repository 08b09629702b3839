#!/usr/bin/env bash
# Create .venv and install codescale with the workflow and test tools. Idempotent: a second run
# only checks. torch is pinned to the CPU build first so nothing pulls a multi-GB CUDA build;
# on a GPU machine install your CUDA torch (and optionally flash-attn) before running this.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -c "import torch" 2>/dev/null || python -m pip install -q torch==2.13.0
python -m pip install -q -e '.[workflow,dev]'
