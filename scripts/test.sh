#!/usr/bin/env bash
# Quick start, part 2: set up and run the test suite (unit tests, the smoke study end to end, and
# the real-Slurm tests, which install Slurm from Debian packages when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check src tests benchmarks
exec pytest "$@"
