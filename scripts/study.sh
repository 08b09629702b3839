#!/usr/bin/env bash
# Quick start, part 1: set up and run the default study (config/config.yaml) on this machine.
# Extra arguments go to snakemake, e.g. `bash scripts/study.sh -n` for the plan only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/snakemake --cores "${CORES:-all}" "$@"
