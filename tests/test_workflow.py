"""The smoke study end to end through Snakemake, and the caching contract: a complete run is
not rerun, and changing one knob reruns exactly what depends on it."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import polars as pl
import pytest
import yaml
from conftest import REPO, planned_jobs, snakemake

from codescale import config as cs_config
from codescale import study

pytestmark = pytest.mark.workflow


def test_dry_run_shows_the_plan_and_its_cost(tmp_path):
    proc = snakemake(tmp_path, "-n", "--cores", "2", timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    # the cost table: one row per study and a total, in hours of the configured card
    assert "H800-hours" in out and re.search(r"^total\s+32\s", out, re.M)
    jobs = planned_jobs(out)
    runs = study.expand(cs_config.load(REPO / "config/smoke.yaml"))
    # the optimised allocation run waits for the advice: trained only if it is not uniform
    assert jobs["train_run"] == len([run for run in runs if not run.from_advice])
    assert jobs["corpus"] == 1 and jobs["figures"] == 1


def test_smoke_study_produces_every_artifact(smoke_run: Path):
    results = smoke_run / "results"
    runs = study.expand(cs_config.load(REPO / "config/smoke.yaml"))
    advice = json.loads((results / "fits" / "allocation.json").read_text())["advice"]
    if advice["status"] == "uniform":  # its optimised runs would repeat the uniform ones
        runs = [run for run in runs if not run.from_advice]
    for run in runs:
        metrics = json.loads((results / "runs" / run.name / "metrics.json").read_text())
        assert metrics["D"] >= run.tokens
        assert (results / "runs" / run.name / "model.safetensors").stat().st_size > 0
    table = pl.read_parquet(results / "collect" / "runs.parquet")
    assert set(table["run"].unique()) == {r.name for r in runs}
    assert {"val_loss", "bpb", "translation_loss"} <= set(table["metric"].unique())
    fits = json.loads((results / "fits" / "per_language.json").read_text())
    assert set(fits["languages"]) == {"python", "java", "go"}
    assert len(list((results / "figures").glob("*.png"))) >= 6


def test_second_run_does_nothing(smoke_run: Path):
    proc = snakemake(smoke_run, "-n", "--cores", "2", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changing_dedup_threshold_reruns_dedup_and_downstream_only(smoke_run: Path, tmp_path):
    cfg = yaml.safe_load((REPO / "config/smoke.yaml").read_text())
    cfg["dedup"] = {"threshold": 0.8}
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    proc = snakemake(smoke_run, "-n", "--cores", "2", "--configfile", str(changed), timeout=300)
    assert proc.returncode == 0, proc.stderr
    jobs = planned_jobs(proc.stdout + proc.stderr)
    assert jobs.get("dedup_language") == 3
    assert "corpus" not in jobs and "fetch_parallel" not in jobs and "parallel_tasks" not in jobs
    assert jobs.get("split_language") == 3 and jobs.get("figures") == 1


def test_html_report_has_every_figure(smoke_run: Path):
    report = smoke_run / "report.html"
    proc = snakemake(smoke_run, "--report", str(report), timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = report.read_text(errors="replace")
    for name in ("fig2_per_language", "fig4_translation_directions", "table1_synergy", "runs.csv"):
        assert name in html


def test_smoke_plan_lists_every_run(smoke_run: Path):
    with open(smoke_run / "results" / "plan.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    runs = study.expand(cs_config.load(REPO / "config/smoke.yaml"))
    assert [row["run"] for row in rows] == [run.name for run in runs]


@pytest.mark.parametrize("config", ["smoke.yaml", "config.yaml", "paper.yaml"])
def test_plan_target_builds_for_every_config(config, tmp_path):
    """The plan rule passes the config as a function param, so `{src}`-style templates in it
    (parallel.prompt_template) are not taken for wildcards."""
    proc = snakemake(
        tmp_path,
        "-n",
        "--configfile",
        str(REPO / "config" / config),
        targets=("plan",),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert planned_jobs(proc.stdout + proc.stderr) == {"plan": 1}


def test_a_learning_rate_per_size_reaches_each_training_job(tmp_path):
    config = yaml.safe_load((REPO / "config/smoke.yaml").read_text())
    config["train"]["lr"] = {"2K": 0.02, "5K": 0.005}
    path = tmp_path / "lr.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "-n", "-p", "--configfile", str(path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    calls = re.findall(r"codescale\S* train .*", proc.stdout)
    runs = study.expand(cs_config.load(path))
    size = {run.name: run.size for run in runs}  # the size reaches train in the run's mixture
    runs = [run for run in runs if not run.from_advice]  # not the one awaiting its advice
    lrs = set()  # (size, LR) of every call: one pair per size
    for call in calls:
        run = re.search(r"--mixture results/runs/(\S+)/mixture\.json", call).group(1)
        lrs.add((size[run], re.search(r"--lr (\S+)", call).group(1)))
    assert len(calls) == len(runs)
    assert lrs == {("2K", "0.02"), ("5K", "0.005")}


def test_a_run_outside_the_study_is_named_with_the_study_runs(tmp_path):
    target = "results/runs/mono/python/20K_d200K/metrics.json"  # a default-study run
    proc = snakemake(tmp_path, "-n", targets=(target,), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "run 'mono/python/20K_d200K' is not in this study" in out
    assert "smoke.yaml" in out
    listed = re.search(r"its 'mono' runs are: (.*)", out).group(1).split(", ")
    runs = study.expand(cs_config.load(REPO / "config/smoke.yaml"))
    assert listed == [run.name for run in runs if run.name.startswith("mono/")]
    assert "KeyError" not in out


def test_run_checkpoint_and_stable_folders_are_spelled_in_one_helper_each():
    """Issue #14: the results layout of runs lives in common.smk's run_dir and checkpoint_dir
    and train_helpers.smk's stable_dir; no rule or param spells those prefixes again (the
    dry-run commands of the smoke study are unchanged by that: see the commit message)."""
    spelled = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for line in path.read_text().splitlines():
            if re.search(r"(\{RESULTS\}|results)/(runs|checkpoints|stable)/", line):
                spelled.setdefault(path.name, []).append(line.strip())
    assert spelled == {
        "common.smk": ['return f"{RESULTS}/runs/{name}"', 'return f"{RESULTS}/checkpoints/{name}"'],
        "train_helpers.smk": ['return f"{RESULTS}/stable/{family}/{{cell}}/{{size}}"'],
    }
