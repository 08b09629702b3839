"""The workflow on a real single-node Slurm (Debian's slurmctld + slurmd + munge, fake GPUs).

Skipped, with the reason, where Slurm cannot be installed or started (not root, no apt). Every
snakemake call runs under a hard timeout: with a broken status command the plugin waits forever.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml
from conftest import REPO

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

SLURM_ARGS = [
    "--profile",
    str(REPO / "profiles" / "slurm"),
    # No accounting database here: sacct fails, so ask squeue (MinJobAge=600 in slurm-local.sh).
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--default-resources",
    "mem_mb=1000",
    "runtime=30",
    "cpus_per_task=1",
    "--jobs",
    "4",
]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("a local Slurm needs root (it installs Debian packages and writes /etc/slurm)")
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        pytest.skip("no apt-get to install Slurm from, and no Slurm installed")
    state = tmp_path_factory.mktemp("slurm-state")
    script = REPO / "scripts" / "slurm-local.sh"
    proc = subprocess.run(
        ["bash", str(script), "start", str(state)], capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        pytest.skip(f"could not start a local Slurm: {proc.stderr.strip()[-500:]}")
    yield state
    subprocess.run(["bash", str(script), "stop", str(state)], timeout=60)


def study_config(tmp_path: Path, **overrides) -> Path:
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    cfg["slurm"] = {"train_partition": "gpu", "cpu_partition": "cpu", "gpus": False}
    for key, value in overrides.items():
        cfg[key] = value
    path = tmp_path / "slurm-smoke.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def snakemake_cmd(workdir: Path, configfile: Path, *args: str, timeout: int) -> list[str]:
    return [
        "timeout",
        "-k",
        "30",
        str(timeout),
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        *SLURM_ARGS,
        "--slurm-logdir",
        str(workdir / "slurm-logs"),
        *args,
    ]


def run_snakemake(workdir: Path, configfile: Path, *args: str, timeout: int = 2400):
    cmd = snakemake_cmd(workdir, configfile, *args, timeout=timeout)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)


def slurm_job_logs(workdir: Path, rule: str) -> list[Path]:
    return sorted((workdir / "slurm-logs" / f"rule_{rule}").rglob("*.log"))


def test_smoke_study_runs_through_slurm_and_matches_a_local_run(slurm, smoke_run, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    proc = run_snakemake(workdir, study_config(tmp_path))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    out = proc.stdout + proc.stderr
    # Every job went through sbatch: one Slurm log (named by job id) per job of each rule.
    n_runs = len(list((workdir / "results" / "runs").rglob("metrics.json")))
    assert n_runs > 0
    assert len(slurm_job_logs(workdir, "train_run")) == n_runs
    assert len(slurm_job_logs(workdir, "corpus")) == 1
    assert "SLURM jobid" in out or "SLURM run ID" in out or "jobid" in out.lower()
    # Same results as the local executor (deterministic CPU training).
    ours = pl.read_parquet(workdir / "results/collect/runs.parquet").sort(
        ["run", "metric", "lang", "src_lang", "tgt_lang"], nulls_last=True
    )
    local = pl.read_parquet(smoke_run / "results/collect/runs.parquet").sort(
        ["run", "metric", "lang", "src_lang", "tgt_lang"], nulls_last=True
    )
    assert ours.height == local.height
    assert ours["run"].to_list() == local["run"].to_list()
    diff = (ours["value"] - local["value"]).abs().max()
    assert diff < 1e-4, f"Slurm and local results differ by {diff}"


def test_killed_training_job_is_resubmitted_and_resumes(slurm, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    cfg = study_config(
        tmp_path,
        studies={"per_language": {"sizes": ["5K"], "tokens": [2_000_000], "languages": ["python"]}},
        train={"seq_len": 64, "batch_size": 8, "checkpoint_every": 20, "max_val_tokens": 1024},
    )
    run = "mono/python/5K_d2M"
    target = f"results/runs/{run}/metrics.json"
    # The data half first, so the kill lands in training.
    prep = run_snakemake(workdir, cfg, f"results/runs/{run}/mixture.json", timeout=900)
    assert prep.returncode == 0, (prep.stdout + prep.stderr)[-4000:]
    cmd = snakemake_cmd(workdir, cfg, target, timeout=1200)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ckpt_dir = workdir / "results" / "checkpoints" / run
    deadline = time.time() + 600
    while time.time() < deadline and not any(ckpt_dir.glob("*.ckpt")):
        assert proc.poll() is None, proc.stdout.read()[-4000:]
        time.sleep(2)
    assert any(ckpt_dir.glob("*.ckpt")), "no checkpoint appeared"
    jobs = subprocess.run(
        ["squeue", "-h", "-o", "%i %k"], capture_output=True, text=True
    ).stdout.split("\n")
    train_jobs = [line.split()[0] for line in jobs if "train_run" in line]
    assert train_jobs, f"no running training job in squeue: {jobs}"
    subprocess.run(["scancel", "--signal=KILL", "--full", train_jobs[0]], check=True)
    out, _ = proc.communicate(timeout=1300)
    assert proc.returncode == 0, out[-6000:]
    metrics = json.loads((workdir / target).read_text())
    assert metrics["resumed_from_step"] and metrics["resumed_from_step"] > 0, metrics
    assert len(slurm_job_logs(workdir, "train_run")) == 2  # the killed job and its resubmission
