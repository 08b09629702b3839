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
    # data: 101 jobs at one part (the shards are not here: corpus_part, corpus, tokenizer; 7
    # languages x 8 per-part or per-language stages; 21 tokenize_part and 21 tokenize_shard),
    # then parallel data, fits, figures
    assert other <= 120
    # the data plan of the corpus that is there (the small shard set: one part)
    assert re.search(r"data plan: 0\.0\d MiB of corpus input in 1 parts", dry_run), dry_run[-3000:]
    assert re.search(r"split_train\s+7\s+\d+ MiB", dry_run), dry_run[-3000:]
    # the DAG agrees: mixture, training and evaluation of a run are one group job
    assert dry_run.count("Group job run") >= 495 - 1  # the optimised run waits for its allocation


def test_codescale_plan_prints_the_paper_scale_data_plan() -> None:
    """Without the corpus, the plan takes the cap x 7 languages (2.55 TiB) in 2 GiB parts."""
    proc = subprocess.run(
        [sys.executable, "-m", "codescale.cli", "plan", "--config",
         str(REPO / "config/paper.yaml")], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "data plan: 2.55 TiB of corpus input in 1304 parts" in proc.stdout
    # a (language, part) job books one part (2 GiB of text, 717 MiB of parquet), whatever the
    # corpus size
    assert re.search(r"split_train\s+9128\s+717 MiB", proc.stdout), proc.stdout[-3000:]
