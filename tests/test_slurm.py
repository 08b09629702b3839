"""Training jobs on a real single-node Slurm (Debian's slurmctld + slurmd + munge, fake GPUs).

Every job goes through `snakemake --profile profiles/slurm` and the pinned executor plugin, as a
user's would: the data half (one module-scoped run: every data rule's input-sized resources), a
2-rank DDP training job (CPU ranks over gloo, started by the rule's own `srun --ntasks-per-node`),
SIGTERM to a 2-rank job mid-run, and a run that needs 3+ jobs of a 2-minute partition. The weights
of every interrupted run must equal the uninterrupted run's.

Skipped, with the reason, where Slurm cannot be installed or started (not root, no apt). Every
snakemake call runs under a hard timeout: with a broken status command the plugin waits forever.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from safetensors.torch import load_file

from codescale.config import section_defaults
from codescale.plan import SETTINGS_SECTIONS as SECTIONS

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

SLURM_ARGS = [
    "--profile",
    str(REPO / "profiles" / "slurm"),
    # No accounting database here: sacct fails, so ask squeue (MinJobAge=600 in slurm-local.sh).
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--jobs",
    "4",
]
SHORT = "mono/python/5K_d40K"  # 78 steps: DDP vs one process, before chaos amplifies fp noise
LONG = "mono/python/5K_d3.2M"  # 1.5-4 minutes of training on 2 ranks (machine load)
GRACE_S = 20


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


def study_config(path: Path, checkpoint_every: int = 20, **settings) -> Path:
    """The smoke study's data with two per-language runs, trained by 2 CPU ranks per job."""
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    cfg["studies"] = {
        "per_language": {"sizes": ["5K"], "tokens": [40_000, 3_200_000], "languages": ["python"]}
    }
    cfg["train"] = {**cfg["train"], "lr": 0.01, "checkpoint_every": checkpoint_every}
    cfg["cluster"] = {"gpus": False}
    cfg["slurm"] = {"train_partition": "cpu", "cpu_partition": "cpu", "stop_grace_s": GRACE_S}
    cfg["plan"] = {
        "cpu_tasks": 2,
        "overhead_min": 0.75,  # sbatch to the first step: Snakemake, torch, process groups
        "cpu_gflops": 0.2,  # generous time limits unless a test says otherwise
    }
    for key, value in settings.items():  # each into its own section (cluster, plan, slurm)
        section = next(s for s in SECTIONS if key in section_defaults(s))
        cfg[section][key] = value
    path.write_text(yaml.safe_dump(cfg))
    return path


def snakemake_cmd(workdir: Path, configfile: Path, *args: str, timeout: int, slurm=True):
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
        *args,
        "--configfile",
        str(configfile),
        *(SLURM_ARGS + ["--slurm-logdir", str(workdir / "slurm-logs")] if slurm else ["-c2"]),
    ]


def run_snakemake(workdir: Path, configfile: Path, *args: str, timeout: int = 900, slurm=True):
    cmd = snakemake_cmd(workdir, configfile, *args, timeout=timeout, slurm=slurm)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)
    logs = "\n".join(
        f"== {p}\n{p.read_text()[-2000:]}" for p in sorted((workdir / "logs").rglob("*.log"))
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:] + logs[-5000:]
    return proc


def job_logs(workdir: Path, kind: str = "") -> list[Path]:
    """Slurm's logs of the jobs submitted from `workdir` (one per job id), of `kind` only
    (e.g. "group_run": the runs' jobs)."""
    return sorted(p for p in (workdir / "slurm-logs").rglob("*.log") if kind in str(p))


def time_limits_min(workdir: Path, kind: str) -> list[int]:
    """TimeLimit of the jobs of `kind` this workdir submitted (scontrol keeps ended jobs for
    MinJobAge)."""
    limits = []
    for log in job_logs(workdir, kind):
        out = subprocess.run(
            ["scontrol", "show", "job", "-o", log.stem], capture_output=True, text=True
        ).stdout
        h, m, s = re.search(r"TimeLimit=(?:(\d+)-)?(\d+):(\d+):(\d+)", out).groups()[1:]
        limits.append(int(h) * 60 + int(m) + (int(s) > 0))
    return limits


def weights(workdir: Path, run: str) -> dict:
    return load_file(str(workdir / "results" / "runs" / run / "model.safetensors"))


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def copy_workdir(src: Path, dest: Path) -> Path:
    """A copy of a prepared workdir at the same depth (a sibling under pytest's base temp): the
    corpus params hold the checkout's path relative to the workdir, so a copy one level deeper
    would rerun the whole data half."""
    assert dest.parent == src.parent, (src, dest)
    shutil.copytree(
        src, dest, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns("slurm-logs")
    )
    return dest


@pytest.fixture(scope="module")
def data_ready(slurm, tmp_path_factory) -> Path:
    """The data half, run locally (the data jobs' Slurm path has its own test)."""
    workdir = tmp_path_factory.mktemp("slurm-data")
    cfg = study_config(workdir / "study.yaml")
    run_snakemake(workdir, cfg, "tokenize", timeout=1200, slurm=False)
    return workdir


def test_a_data_job_gets_memory_and_time_from_its_input(data_ready: Path, tmp_path: Path):
    workdir = copy_workdir(data_ready, tmp_path)
    cfg = study_config(workdir / "study.yaml")
    target = "results/dedup/python/p00000.sig.parquet"
    run_snakemake(workdir, cfg, target, "--forcerun", "dedup_signatures", "--allowed-rules",
                  "dedup_signatures")  # fmt: skip
    (log,) = job_logs(workdir)
    out = subprocess.run(
        ["scontrol", "show", "job", "-o", log.stem], capture_output=True, text=True
    ).stdout
    inputs = ("results/corpus/p00000/python.parquet", "results/corpus/selection.json")
    input_mb = sum((workdir / f).stat().st_size for f in inputs) / 2**20
    mem = int(re.search(r"mem=(\d+)M", out).group(1))
    assert mem == pytest.approx(1000 + 0.2 * input_mb, abs=2), out  # codescale.plan DATA_SCALING
    assert "TimeLimit=00:10:00" in out, out  # 10 minutes + input MB / 10 per minute


@pytest.fixture(scope="module")
def uninterrupted(data_ready, tmp_path_factory) -> Path:
    """Both runs, each one 2-rank job, never interrupted: the reference weights."""
    workdir = copy_workdir(data_ready, tmp_path_factory.mktemp("slurm-ref"))
    cfg = study_config(workdir / "study.yaml")
    run_snakemake(workdir, cfg, "train", timeout=1200)
    return workdir


def test_two_rank_ddp_job_starts_both_ranks_and_equals_one_process(
    uninterrupted: Path, data_ready: Path, tmp_path: Path
) -> None:
    metrics = json.loads((uninterrupted / f"results/runs/{SHORT}/metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["strategy"] == "ddp"
    log = (uninterrupted / f"logs/train/{SHORT}.log").read_text()
    assert "GLOBAL_RANK: 0" in log and "GLOBAL_RANK: 1" in log
    # one group job (mixture + train + evaluate) per run, each submitted once
    assert len(job_logs(uninterrupted, "group_run")) == 2
    # the same global batch in one local process (no Slurm, no DDP)
    local = copy_workdir(data_ready, tmp_path)
    cfg = study_config(local / "study.yaml", cpu_tasks=1)
    run_snakemake(local, cfg, f"results/runs/{SHORT}/metrics.json", slurm=False)
    one = json.loads((local / f"results/runs/{SHORT}/metrics.json").read_text())
    assert one["world_size"] == 1 and one["micro_batch_size"] == 2 * metrics["micro_batch_size"]
    diff = max_diff(weights(uninterrupted, SHORT), weights(local, SHORT))
    # fp summation order alone moves weights by ~1e-4..1e-3 here; half the batch per step: ~0.5
    assert diff < 5e-3, f"2-rank DDP and one process differ by {diff}"


def test_sigterm_to_a_two_rank_job_checkpoints_in_grace_and_resumes_exactly(
    uninterrupted: Path, data_ready: Path, tmp_path: Path
) -> None:
    workdir = copy_workdir(data_ready, tmp_path)
    # no periodic checkpoints: the only one is the stop's (the weights do not depend on it)
    cfg = study_config(workdir / "study.yaml", checkpoint_every=10**6)
    target = f"results/runs/{LONG}/metrics.json"
    cmd = snakemake_cmd(workdir, cfg, target, timeout=1200)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    train_log = workdir / f"logs/train/{LONG}.log"
    deadline = time.time() + 600
    while time.time() < deadline and not re.search(r"step (\d{3,})/", _read(train_log)):
        assert proc.poll() is None, proc.stdout.read()[-4000:]
        time.sleep(1)
    jobs = [p.stem for p in job_logs(workdir, "group_run")]
    assert len(jobs) == 1, jobs
    ckpt_dir = workdir / "results" / "checkpoints" / LONG
    signalled = time.time()
    subprocess.run(["scancel", "--signal=TERM", jobs[0]], check=True)  # to the job's steps
    newest = 0.0
    while time.time() < signalled + GRACE_S + 10 and newest < signalled:
        newest = max((p.stat().st_mtime for p in ckpt_dir.rglob("*")), default=0.0)
        time.sleep(0.5)
    assert signalled <= newest < signalled + GRACE_S, "no checkpoint within the grace time"
    out, _ = proc.communicate(timeout=1300)
    assert proc.returncode == 0, out[-6000:]
    metrics = json.loads((workdir / target).read_text())
    assert metrics["resumed_from_step"] and metrics["resumed_from_step"] > 0, metrics
    assert [s["reason"] for s in metrics["stops"]] and "SIGTERM" in str(metrics["stops"])
    assert len(job_logs(workdir, "group_run")) == 2  # the signalled job and its resubmission
    assert max_diff(weights(workdir, LONG), weights(uninterrupted, LONG)) == 0.0


def test_a_run_longer_than_the_partition_limit_finishes_in_segments(
    uninterrupted: Path, data_ready: Path, tmp_path: Path
) -> None:
    workdir = copy_workdir(data_ready, tmp_path)
    # the "short" partition of slurm-local.sh: MaxTime 2 minutes
    # A stop 75 s before each job's end leaves ~15-40 s of training per job after start-up: the
    # plan says 3 jobs; how many it takes depends on the machine's speed (retries for many more).
    cfg = study_config(
        workdir / "study.yaml",
        train_partition="short",
        cpu_partition="short",
        max_runtime_h=2 / 60,
        safety_factor=1.0,
        stop_grace_s=75,
        overhead_min=0.25,
        retries=20,
        cpu_gflops=2.0,  # the plan's estimate: 3 jobs of at most 2 minutes
    )
    target = f"results/runs/{LONG}/metrics.json"
    dry = run_snakemake(workdir, cfg, target, "-n")
    row = next(r for r in map(str.split, dry.stderr.splitlines()) if r[:2] == ["5K", "3.2e+06"])
    assert row[11:14] == ["3", "2", "22"], row  # segments, minutes per job, retries
    run_snakemake(workdir, cfg, target, timeout=1500)
    limits = time_limits_min(workdir, "group_run")
    assert len(limits) >= 2 and max(limits) <= 2, limits  # resubmitted, never above the limit
    metrics = json.loads((workdir / target).read_text())
    assert metrics["segments"] == len(limits)
    assert max_diff(weights(workdir, LONG), weights(uninterrupted, LONG)) == 0.0


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""
