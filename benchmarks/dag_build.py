"""How long `snakemake -n` takes to build each study's DAG (target: the paper's under 20 s).

Prints jobs, wall seconds and milliseconds per job for the smoke, default and paper configs, each
the best of --repeats dry runs in a fresh working directory (so no job is ever up to date), and the
paper DAG's time as a ratio to the smoke DAG's, measured in the same run.

    python benchmarks/dag_build.py [--repeats 3] [--quiet]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 20.0


def dry_run(config: str, quiet: bool) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as workdir:
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "-s",
            str(REPO / "Snakefile"),
            "--directory",
            workdir,
            "--configfile",
            str(REPO / "config" / config),
        ]
        if quiet:
            cmd += ["--quiet", "rules"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"dry run of {config} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    match = re.search(r"^total\s+(\d+)$", proc.stdout + proc.stderr, re.M)
    return elapsed, int(match.group(1)) if match else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quiet", action="store_true", help="dry run with --quiet rules")
    args = parser.parse_args()
    rows = []
    for config in ("smoke.yaml", "config.yaml", "paper.yaml"):
        times = [dry_run(config, args.quiet) for _ in range(args.repeats)]
        best = min(t for t, _ in times)
        rows.append((config, times[0][1], best))
    print(f"{'config':<12} {'jobs':>6} {'seconds':>8} {'ms/job':>7}")
    for config, jobs, seconds in rows:
        print(f"{config:<12} {jobs:>6} {seconds:>8.2f} {1000 * seconds / max(jobs, 1):>7.1f}")
    paper, smoke = rows[2][2], rows[0][2]
    print(
        f"paper / smoke: {paper / smoke:.2f}x; paper DAG {paper:.1f} s "
        f"({'within' if paper < TARGET_S else 'OVER'} the {TARGET_S:.0f} s target)"
    )


if __name__ == "__main__":
    main()
