"""Shared fixtures: the smoke study, run once per session through Snakemake for real."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
VENV_BIN = os.path.dirname(sys.executable)


def path_without_venv() -> str:
    """PATH as a shell that activated nothing has it: the venv's bin dir (where `codescale`
    lives) left out, so a run proves that rules find the project's command by themselves."""
    return os.pathsep.join(
        p
        for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        if p and os.path.realpath(p) != os.path.realpath(VENV_BIN)
    )


def snakemake(
    workdir: Path,
    *args: str,
    targets: tuple[str, ...] = (),
    timeout: int = 1500,
    snakefile: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run the workflow in `workdir` (results/ and logs/ land there) under a hard timeout.

    Targets go before `--configfile` (which takes every following word as a file); a later
    `--configfile` in `args` overrides the smoke config.

    A workdir that is a checkout (the smoke run's: see `checkout_copy`) runs its own Snakefile,
    as a user in a clone does; any other runs this repository's. No venv is activated."""
    if snakefile is None:
        own = workdir / "Snakefile"
        snakefile = own if own.exists() else REPO / "Snakefile"
    cmd = [
        *SNAKEMAKE,
        *targets,
        "-s",
        str(snakefile),
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config" / "smoke.yaml"),
        *args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PATH": path_without_venv()}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def checkout_copy(dest: Path) -> Path:
    """A copy of this checkout's files (tracked and untracked-but-not-ignored, mtimes kept) at
    `dest`, with `dest/../shared` pointing at the repository's `../shared` (the default
    `parallel.path` is relative to the checkout). Returns `dest`."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
            capture_output=True,
            check=True,
        ).stdout.decode()
        files = [f for f in listed.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: everything but outputs
        skip = {".git", ".venv", "results", "logs", "resources", ".snakemake"}
        files = [
            str(p.relative_to(REPO))
            for p in REPO.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(REPO).parts)
        ]
    for rel in files:
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    shared = REPO.parent / "shared"
    if shared.exists() and not (dest.parent / "shared").exists():
        (dest.parent / "shared").symlink_to(shared.resolve(), target_is_directory=True)
    return dest


def planned_jobs(output: str) -> dict[str, int]:
    """Rule -> job count from a dry run's 'Job stats' table."""
    table = output.split("Job stats:")[1] if "Job stats:" in output else ""
    jobs = {}
    for line in table.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if match and match.group(1) != "total":
            jobs[match.group(1)] = int(match.group(2))
    return jobs


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """The whole smoke DAG (and the plan), local executor, 2 cores, run the way a user runs it:
    in a copy of the checkout, with no venv activated and the venv's bin dir not on PATH.
    Returns the working directory (the checkout copy, with results/ and logs/).

    CODESCALE_SMOKE_RUN=<a checkout where the smoke study ran> starts from that run's outputs
    (results/, logs/, resources/, .snakemake/); Snakemake then reruns whatever the current code
    changes, so the results are never stale. CI sets it to the clone in which it has just run
    the README's first command on the smoke config."""
    workdir = checkout_copy(tmp_path_factory.mktemp("smoke") / "codescale")
    reuse = os.environ.get("CODESCALE_SMOKE_RUN")
    for name in ("results", "logs", "resources", ".snakemake") if reuse else ():
        if (Path(reuse) / name).exists():
            shutil.copytree(Path(reuse) / name, workdir / name, symlinks=True)
    proc = snakemake(workdir, "--cores", "2", targets=("all", "plan"))
    if proc.returncode != 0:
        logs = "\n".join(
            f"== {p}\n{p.read_text()[-3000:]}" for p in sorted((workdir / "logs").rglob("*.log"))
        )
        pytest.fail(f"smoke study failed:\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}\n{logs}")
    return workdir


def pytest_collection_modifyitems(config, items):
    """The real-Slurm tests last: once Slurm is installed and its controller stopped, every
    Snakemake start waits ~9 s for the Slurm plugin's `scontrol show config`."""
    items.sort(key=lambda item: item.get_closest_marker("slurm") is not None)
