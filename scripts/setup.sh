#!/usr/bin/env bash
# Create .venv and install codescale with every stage group (extra `all`: data, train, laws), the
# workflow and the test tools. Idempotent: once installed,
# a second run only checks that .venv/.installed is newer than pyproject.toml (a changed
# dependency list reinstalls). torch is pinned to the CPU build first so nothing pulls a
# multi-GB CUDA build; on a GPU machine install your CUDA torch (and optionally flash-attn)
# before running this. Nothing needs the venv activated afterwards: the workflow's rules find
# `codescale` beside the Python that runs Snakemake.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
if [ .venv/.installed -nt pyproject.toml ] && [ -x .venv/bin/codescale ]; then
    exit 0
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[all,workflow,dev]'
touch .venv/.installed
