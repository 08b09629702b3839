"""The paper-scale study as a user first sees it: `snakemake -n --profile profiles/slurm
--configfile config/paper.yaml`, before any GPU time is spent. `corpus.paths` points at a small
shard set of The Stack v2's layout (the user's own corpus in a real study): a missing corpus is a
missing input, as it should be."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO

from codescale import config, plan, study

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> str:
    workdir = tmp_path_factory.mktemp("paper")
    corpus = workdir / "corpus.yaml"
    corpus.write_text("corpus:\n  paths: [tests/data/layouts/the-stack-v2/*.parquet]\n")
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--configfile",
        str(REPO / "config" / "paper.yaml"),
        str(corpus),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout + proc.stderr


def test_dry_run_shows_each_runs_layout_and_segments(dry_run: str) -> None:
    cfg = config.load(REPO / "config" / "paper.yaml")
    rows = plan.plan_study(cfg, study.expand(cfg))
    header = "size D runs GPUs nodes strategy batch micro accum act.ckpt GB/GPU segments min/job"
    assert header in " ".join(dry_run.split())
    for row in rows:  # every (size, D) line of the layout table, as the planner has it
        tokens = re.escape(f"{row['tokens']:.3g}")
        line = (
            rf"^{re.escape(row['size'])}\s+{tokens}\s+\d+\s+"
            rf"{row['gpus']}\s+{row['nodes']}\s+{row['strategy']}\s+{row['batch_size']}\s+"
            rf"{row['micro_batch']}\s+{row['grad_accum']}\s+\w+\s+[\d.]+\s+{row['segments']}\s+"
            rf"{row['job_runtime']}\s"
        )
        assert re.search(line, dry_run, re.M), line


def test_dry_run_reports_about_one_slurm_submission_per_run(dry_run: str) -> None:
    match = re.search(r"Slurm submissions: (\d+) run jobs .* at most (\d+) other jobs", dry_run)
    assert match, dry_run[-3000:]
    runs, other = int(match.group(1)), int(match.group(2))
    assert runs == 512  # 495 runs, 17 of them in 2-4 segments
    assert other <= 60  # data (7 languages x stages), parallel data, fits, figures
    # the DAG agrees: mixture, training and evaluation of a run are one group job
    assert dry_run.count("Group job run") >= 495 - 1  # the optimised run waits for its allocation
