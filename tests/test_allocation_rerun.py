"""The optimised allocation run: trained only when the advice differs from uniform, and retrained
only when the proportions it trains on change.

A refit (`--forcerun fit`, or any fit setting) rewrites allocation.json; at paper scale retraining
the 1.5B x 400B check run for nothing books ~4,400 GPU-hours. The run's mixture takes the
proportions as a param at the sampler's resolution, from a checkpoint rule, so Snakemake compares
the numbers, not the file's time. Advice "uniform" would make the optimised runs repeat the uniform
runs weight for weight (same mixture, same seeds), so they are not trained at all; the smoke
study's law declines to advise (3 languages, 2K parameters), which is that case.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
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


def test_uniform_advice_trains_no_optimised_run(smoke_run: Path) -> None:
    allocation = json.loads((smoke_run / "results/fits/allocation.json").read_text())
    assert allocation["advice"]["status"] == "uniform", allocation["advice"]
    # (its run folder may exist from an earlier version's run: CODESCALE_SMOKE_RUN)
    runs = pl.read_parquet(smoke_run / "results/collect/runs.parquet")["run"].unique().to_list()
    assert any(r.startswith("allocation/uniform/") for r in runs)
    assert not any(r.startswith(OPTIMISED) for r in runs)
    md = (smoke_run / "results/tables/allocation_measured.md").read_text()
    assert "the advised mixture is the uniform one" in md and "were not trained" in md
    assert "no optimised allocation is claimed" in md


def test_refit_with_unchanged_proportions_retrains_nothing(smoke_run: Path, tmp_path: Path):
    workdir = copy_of(smoke_run, tmp_path)
    allocation = workdir / "results" / "fits" / "allocation.json"
    allocated = json.loads(allocation.read_text())["proportions"]
    proc = snakemake(workdir, "--cores", "2", "--forcerun", "fit", timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    out = proc.stdout + proc.stderr
    assert "rule fit:" in out and "checkpoint allocate:" in out  # refitted and reallocated
    assert json.loads(allocation.read_text())["proportions"] == allocated
    assert "rule train_run:" not in out and "rule mixture:" not in out, out[-4000:]


def test_other_advice_trains_the_optimised_run_once(smoke_run: Path, tmp_path: Path):
    """Non-uniform proportions: the optimised run is planned, trained on them, and collected; a
    rewrite of allocation.json with the same proportions then retrains nothing."""
    workdir = copy_of(smoke_run, tmp_path)
    allocation = workdir / "results" / "fits" / "allocation.json"
    data = json.loads(allocation.read_text())
    langs = sorted(data["proportions"])
    data["proportions"] = {lang: (0.5 if i == 0 else 0.5 / (len(langs) - 1))
                           for i, lang in enumerate(langs)}  # fmt: skip
    data["advice"]["status"] = "optimised"
    allocation.write_text(json.dumps(data))
    proc = snakemake(workdir, "-n", "--cores", "2", timeout=300)
    assert proc.returncode == 0, proc.stderr
    jobs = planned_jobs(proc.stdout + proc.stderr)
    assert jobs.get("train_run") == 1 and jobs.get("mixture") == 1, jobs
    assert "allocate" not in jobs  # allocation.json is newer than the fits: only its numbers count
    proc = snakemake(workdir, "--cores", "2", timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    (run,) = (workdir / "results" / "runs" / OPTIMISED).iterdir()
    plan = json.loads((run / "mixture.json").read_text())
    assert plan["spec"]["weights"][langs[0]] == pytest.approx(0.5, abs=1e-4)
    collected = pl.read_parquet(workdir / "results/collect/runs.parquet")["run"].unique()
    assert f"{OPTIMISED}/{run.name}" in collected.to_list()
    data["fitted_at"] = "a refit"  # same proportions, new file
    allocation.write_text(json.dumps(data))
    proc = snakemake(workdir, "-n", "--cores", "2", timeout=300)
    assert proc.returncode == 0, proc.stderr
    jobs = planned_jobs(proc.stdout + proc.stderr)
    assert "train_run" not in jobs and "mixture" not in jobs, jobs
