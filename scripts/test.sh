#!/usr/bin/env bash
# Quick start, part 2: set up and run the test suite (unit tests, the smoke study end to end, the
# cache contract key by key, and the real-Slurm tests, which install Slurm from Debian packages
# when run as root). Nothing is activated: the tests run the workflow as a user does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/snakefmt --check Snakefile workflow/rules
exec .venv/bin/pytest "$@"
