"""The optimised allocation run retrains only when the proportions it trains on change.

A refit (`--forcerun fit`, or any fit setting) rewrites allocation.json; at paper scale retraining
the 1.5B x 400B check run for nothing books ~4,400 GPU-hours. The run's mixture takes the
proportions as a param at the sampler's resolution, from a checkpoint rule, so Snakemake compares
the numbers, not the file's time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import planned_jobs, snakemake

pytestmark = pytest.mark.workflow

OPTIMISED = "allocation/optimised"


def copy_of(smoke_run: Path, tmp_path: Path) -> Path:
    """The completed smoke checkout elsewhere, with the `../shared` it reads beside it."""
    workdir = tmp_path / "codescale"
    shutil.copytree(smoke_run, workdir, symlinks=True)
    shared = smoke_run.parent / "shared"
    if shared.exists():
        (tmp_path / "shared").symlink_to(shared.resolve(), target_is_directory=True)
    return workdir


def optimised_run(workdir: Path) -> Path:
    (run,) = (workdir / "results" / "runs" / OPTIMISED).iterdir()
    return run


def test_refit_with_unchanged_proportions_retrains_nothing(smoke_run: Path, tmp_path: Path):
    workdir = copy_of(smoke_run, tmp_path)
    weights = optimised_run(workdir) / "model.safetensors"
    before = weights.stat().st_mtime_ns
    allocation = workdir / "results" / "fits" / "allocation.json"
    allocated = json.loads(allocation.read_text())["proportions"]
    proc = snakemake(workdir, "--cores", "2", "--forcerun", "fit", timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    out = proc.stdout + proc.stderr
    assert "rule fit:" in out and "checkpoint allocate:" in out  # refitted and reallocated
    assert json.loads(allocation.read_text())["proportions"] == allocated
    assert "rule train_run:" not in out and "rule mixture:" not in out, out[-4000:]
    assert weights.stat().st_mtime_ns == before


def test_changed_proportions_retrain_the_optimised_run(smoke_run: Path, tmp_path: Path):
    workdir = copy_of(smoke_run, tmp_path)
    allocation = workdir / "results" / "fits" / "allocation.json"
    data = json.loads(allocation.read_text())
    langs = sorted(data["proportions"])
    data["proportions"] = {lang: (2.0 if i == 0 else 1.0) for i, lang in enumerate(langs)}
    total = sum(data["proportions"].values())
    data["proportions"] = {k: v / total for k, v in data["proportions"].items()}
    allocation.write_text(json.dumps(data))
    proc = snakemake(workdir, "-n", "--cores", "2", timeout=300)
    assert proc.returncode == 0, proc.stderr
    jobs = planned_jobs(proc.stdout + proc.stderr)
    assert jobs.get("train_run") == 1 and jobs.get("mixture") == 1, jobs
    assert "allocate" not in jobs  # allocation.json is newer than the fits: only its numbers count
