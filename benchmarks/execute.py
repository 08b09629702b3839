"""Sandboxed executions per second per language, and the harness check on every task.

    nice python benchmarks/execute.py [--tasks N] [--workers 2] [--languages ...] [--json OUT]

Runs each language's canonical PolyHumanEval solution of the first N tasks (all 164 by default)
through the full path `codescale execute` uses for a model's completion (assemble the program,
start a fresh bubblewrap sandbox, compile, run the tests, judge), `--workers` sandboxes at a
time, and prints a Markdown row per language: executions, wall seconds, executions per second,
mean seconds per execution, passed, and the failing task ids with their reasons. A language whose
toolchain is missing is listed as skipped. Data: ../shared/data/parallel (or --parallel-dir).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections import Counter
from pathlib import Path

from codescale import LANGUAGES
from codescale.execute.harness import toolchain
from codescale.execute.problems import load_problems
from codescale.execute.run import run_programs
from codescale.execute.sandbox import Limits, Sandbox

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "parallel"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parallel-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--tasks", type=int, default=164)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = ap.parse_args()
    problems = load_problems(args.parallel_dir)[: args.tasks]
    sandbox, limits = Sandbox(), Limits()
    rows = []
    print(
        f"{platform.machine()}, {os.cpu_count()} CPU cores, load average "
        f"{os.getloadavg()[0]:.1f}; {len(problems)} tasks, {args.workers} workers"
    )
    print("| language | executions | wall s | exec/s | s/exec | passed | failing (reason) |")
    print("|---|---|---|---|---|---|---|")
    for lang in args.languages:
        tc = toolchain(lang)
        if isinstance(tc, str):
            rows.append({"language": lang, "skipped": tc})
            print(f"| {lang} | skipped: {tc} | | | | | |")
            continue
        jobs = [(p, lang, p.solutions[lang]) for p in problems]
        start = time.monotonic()
        verdicts = run_programs(jobs, sandbox, limits, args.workers)
        wall = time.monotonic() - start
        failing = {p.task_id: v.reason for p, v in zip(problems, verdicts, strict=True)
                   if not v.passed}  # fmt: skip
        row = {
            "language": lang,
            "executions": len(jobs),
            "wall_s": round(wall, 1),
            "exec_per_s": round(len(jobs) / wall, 2),
            "s_per_exec": round(sum(v.wall_s for v in verdicts) / len(jobs), 2),
            "passed": len(jobs) - len(failing),
            "failing": failing,
            "reasons": dict(Counter(v.reason for v in verdicts)),
        }
        rows.append(row)
        fails = ", ".join(f"{t.split('/')[1]} ({r})" for t, r in failing.items()) or "none"
        print(
            f"| {lang} | {row['executions']} | {row['wall_s']} | {row['exec_per_s']} |"
            f" {row['s_per_exec']} | {row['passed']}/{len(jobs)} | {fails} |",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
