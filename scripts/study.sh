#!/usr/bin/env bash
# Quick start, part 1: set up and run the default study (config/config.yaml) on this machine.
# Extra arguments go to snakemake: `bash scripts/study.sh -n` for the plan only, `bash
# scripts/study.sh --configfile config/smoke.yaml` for another study (targets go before
# --configfile, or after `--`). Nothing needs activating: the rules find `codescale` beside
# .venv/bin/python, which runs Snakemake (see the Snakefile).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/snakemake --cores "${CORES:-all}" "$@"
