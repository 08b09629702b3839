"""WSD cooldown branches (issue 11): one stable run, one short cooldown per token budget.

Trainer part (real `codescale train` on CPU, the 5K model on real Python from test_train's
fixture, seconds): the batches a branch trains on are the first D_k tokens of a fresh run; the
cooldown resumed from the stable run's branch checkpoint ends bitwise equal to an uninterrupted
WSD run of D_k; a branch checkpoint of another trajectory or step is refused.
Workflow part: `codescale plan` and the dry run (`snakemake -n`) show the saving (tokens and
GPU-hours, about max(D) + f sum(D) instead of sum(D)), and the job DAG has one stable job per
(cell, size) feeding the cooldowns, under the same run names downstream.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, planned_jobs, snakemake
from safetensors.torch import load_file
from test_slurm import data_ready, slurm  # noqa: F401  (fixtures: the local Slurm, its data)
from test_train import SEQ, _src, _train_args, corpus  # noqa: F401  (corpus: a fixture)

import codescale.train.run as train_run
from codescale import cli, plan, study
from codescale import config as cs_config
from codescale.cli import main
from codescale.io import write_json
from codescale.train.hparams import decay_start, steps_for
from codescale.train.mixture import build_plan
from codescale.train.module import StepBatches
from codescale.train.sampler import MixtureSampler

BATCH = 8  # sequences: 256 tokens per step
BUDGETS = (4096, 8192, 12288)  # 16, 32, 48 steps
COOLDOWN = 0.25  # branch steps 12, 24, 36
WARMUP = "1024"  # tokens: 4 steps, the same for every budget
WSD = ("--schedule", "wsd", "--decay-fraction", str(COOLDOWN), "--warmup-tokens", WARMUP,
       "--lr", "0.02", "--log-every", "4", "--checkpoint-every", "10")  # fmt: skip


def _plan(root: Path, train_prefix: str, name: str, tokens: int) -> str:
    """A mixture.json for run `name` (the data order ignores `tokens`)."""
    path = root / name.replace("/", "_") / "mixture.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    plan = build_plan(name, [_src(train_prefix)], tokens=tokens, seed=3, seq_len=SEQ, size="5K")
    write_json(path, plan)
    return str(path)


def _args(data: dict, mixture: str, out: Path, ckpt: Path, *extra: str) -> list[str]:
    return _train_args({**data, "mixture": mixture}, out, ckpt, *WSD, *extra)


class Recorder(StepBatches):
    """StepBatches that logs every batch the trainer reads: (label of the run, step, tokens)."""

    label: object = None
    seen: list[tuple[object, int, np.ndarray]] = []

    def __getitem__(self, step: int):
        item = super().__getitem__(step)
        Recorder.seen.append((Recorder.label, step, item["tokens"].numpy().copy()))
        return item


@pytest.fixture(scope="module")
def branches(corpus: dict, tmp_path_factory) -> dict:  # noqa: F811
    """The stable run, its three cooldowns and three uninterrupted WSD runs, batches recorded."""
    root = tmp_path_factory.mktemp("wsd")
    mp = pytest.MonkeyPatch()
    mp.setattr(train_run, "StepBatches", Recorder)
    Recorder.seen = []
    names = {d: f"mono/python/5K_d{d}" for d in BUDGETS}
    stable_mix = _plan(root, corpus["train"], "mono/python/5K_stable", max(BUDGETS))
    branch_dirs = {d: root / "branches" / f"d{d}" for d in BUDGETS}
    stable = _args(corpus, stable_mix, root / "stable", root / "stable_ckpt")
    stable += ["--branch", *(f"{d}={branch_dirs[d]}" for d in BUDGETS)]
    try:
        Recorder.label = "stable"
        assert main(stable) == 0
        for d in BUDGETS:
            mix = _plan(root, corpus["train"], names[d], d)
            Recorder.label = ("ref", d)
            assert main(_args(corpus, mix, root / "ref" / str(d), root / "ref_ckpt" / str(d))) == 0
            Recorder.label = ("cool", d)
            cooldown = _args(corpus, mix, root / "cool" / str(d), root / "cool_ckpt" / str(d))
            assert main([*cooldown, "--init-from", str(branch_dirs[d])]) == 0
    finally:
        mp.undo()
    by_label: dict[object, list[tuple[int, np.ndarray]]] = {}
    for label, step, toks in Recorder.seen:
        by_label.setdefault(label, []).append((step, toks))
    return {"root": root, "names": names, "branch_dirs": branch_dirs, "seen": by_label,
            "stable_mix": stable_mix}  # fmt: skip


def _steps(tokens: int) -> tuple[int, int]:
    """(steps, branch step) of a run of `tokens` here."""
    steps = steps_for(tokens, BATCH, SEQ)
    return steps, decay_start(steps, COOLDOWN)


def test_stable_run_checkpoints_each_branch_point_and_publishes_them(branches: dict) -> None:
    root = branches["root"]
    metrics = json.loads((root / "stable" / "metrics.json").read_text())
    assert metrics["stable"] is True
    assert [b["step"] for b in metrics["branches"]] == [12, 24, 36]
    assert metrics["steps"] == 36 and metrics["tokens"] == 36 * BATCH * SEQ
    for d, b in zip(BUDGETS, metrics["branches"], strict=True):
        assert b["tokens"] == d and b["tokens_at_branch"] == pytest.approx((1 - COOLDOWN) * d)
    assert not (root / "stable" / "model.safetensors").exists()
    # the branch dirs are gone from the checkpoint dir (moved), nothing else is left there
    assert list((root / "stable_ckpt").iterdir()) == []
    # every step before the largest branch point ran at the constant peak LR after warmup
    assert metrics["train"]["warmup_steps"] == 4 and metrics["train"]["steps"] == 48


def test_branch_trains_on_a_fresh_runs_first_d_tokens(branches: dict) -> None:
    """The batches the stable run (before the branch step) and the cooldown (after it) read are
    those an uninterrupted run of D_k reads, and together exactly the first D_k tokens of the
    mixture's stream (the stable run's own sampler, whose plan says D_max)."""
    seen = branches["seen"]
    for d in BUDGETS:
        steps, branch = _steps(d)
        fresh = seen[("ref", d)]
        assert [s for s, _ in fresh] == list(range(steps))
        cooldown = seen[("cool", d)]
        assert [s for s, _ in cooldown] == list(range(branch, steps))
        stable = [t for s, t in seen["stable"] if s < branch]
        assert len(stable) == branch
        branch_tokens = np.concatenate([*stable, *(t for _, t in cooldown)])
        assert np.array_equal(branch_tokens, np.concatenate([t for _, t in fresh]))
        stream = MixtureSampler(json.loads(Path(branches["stable_mix"]).read_text()), SEQ)
        first = stream.sequences(0, steps * BATCH).tokens
        assert np.array_equal(branch_tokens, first)
        assert first[:, 1:].size == steps * BATCH * SEQ >= d  # D_k tokens, rounded up to a step
    assert [s for s, _ in seen["stable"]] == list(range(_steps(max(BUDGETS))[1]))


def test_cooldown_from_the_branch_equals_an_uninterrupted_wsd_run(branches: dict) -> None:
    root = branches["root"]
    for d in BUDGETS:
        steps, branch = _steps(d)
        ref = json.loads((root / "ref" / str(d) / "metrics.json").read_text())
        got = json.loads((root / "cool" / str(d) / "metrics.json").read_text())
        assert got["branch"]["step"] == branch and ref["branch"] is None
        assert got["branch"]["tokens"] == branch * BATCH * SEQ
        assert got["resumed_from_step"] is None and got["steps"] == ref["steps"] == steps
        assert got["segments"] == 1 and got["stops"] == []  # this run's own job
        assert got["D"] == ref["D"] and got["final_train_loss"] == ref["final_train_loss"]
        assert got["val_loss"] == ref["val_loss"]
        a = load_file(str(root / "ref" / str(d) / "model.safetensors"))
        b = load_file(str(root / "cool" / str(d) / "model.safetensors"))
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), (d, key)
        config = json.loads((root / "cool" / str(d) / "config.json").read_text())
        assert config["run"] == branches["names"][d] and config["train"]["schedule"] == "wsd"


def test_a_branch_of_another_trajectory_or_step_is_refused(
    branches: dict,
    corpus: dict,  # noqa: F811
    tmp_path: Path,
    capsys,
) -> None:
    d = BUDGETS[1]
    mix = _plan(tmp_path, corpus["train"], branches["names"][d], d)
    other_lr = _args(corpus, mix, tmp_path / "a", tmp_path / "a_ckpt")
    other_lr[other_lr.index("0.02")] = "0.03"
    assert main([*other_lr, "--init-from", str(branches["branch_dirs"][d])]) == 2
    err = capsys.readouterr().err
    assert "another trajectory" in err, err
    # the d=4096 branch (step 12) is not this run's branch point (step 24)
    wrong = _args(corpus, mix, tmp_path / "b", tmp_path / "b_ckpt")
    assert main([*wrong, "--init-from", str(branches["branch_dirs"][4096])]) == 2
    assert "is at step" in capsys.readouterr().err
    cosine = [a if a != "wsd" else "cosine" for a in wrong]
    assert main([*cosine, "--init-from", str(branches["branch_dirs"][4096])]) == 2
    assert "need --schedule wsd" in capsys.readouterr().err


@pytest.mark.slow  # 3 x 2 FSDP ranks as real processes: ~1 min on a loaded 2-core box
def test_fsdp_sharded_branch_equals_an_uninterrupted_fsdp_wsd_run(
    corpus: dict,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Two FSDP ranks: the branch checkpoints are sharded directories (DCP files behind the
    last.ckpt link) moved onto the declared outputs, and the cooldown resumed from one of them
    ends with the weights of an uninterrupted 2-rank FSDP WSD run of that budget."""
    from test_train_distributed import _launch, _logs, _wait_all

    fsdp = ("--strategy", "fsdp", "--micro-batch-size", "2")
    d = BUDGETS[1]
    stable_mix = _plan(tmp_path, corpus["train"], "mono/python/5K_stable", d)
    branch = tmp_path / "branches" / f"d{d}"
    small = tmp_path / "branches" / f"d{BUDGETS[0]}"
    stable = _args(corpus, stable_mix, tmp_path / "stable", tmp_path / "stable_ckpt", *fsdp)
    stable += ["--branch", f"{BUDGETS[0]}={small}", f"{d}={branch}"]
    procs = _launch(stable, tmp_path / "l0")
    assert _wait_all(procs) == [0, 0], _logs(procs)
    last = branch / "last.ckpt"
    assert last.is_symlink() and last.is_dir() and last.resolve().parent == branch
    assert sum(f.name.endswith(".distcp") for f in last.iterdir()) == 2
    assert not list((tmp_path / "stable_ckpt").iterdir())
    mix = _plan(tmp_path, corpus["train"], f"mono/python/5K_d{d}", d)
    runs = {}
    for name, extra in (("ref", ()), ("cool", ("--init-from", str(branch)))):
        args = _args(corpus, mix, tmp_path / name, tmp_path / f"{name}_ckpt", *fsdp, *extra)
        procs = _launch(args, tmp_path / f"l_{name}")
        assert _wait_all(procs) == [0, 0], _logs(procs)
        runs[name] = load_file(str(tmp_path / name / "model.safetensors"))
    got = json.loads((tmp_path / "cool" / "metrics.json").read_text())
    assert got["branch"]["step"] == _steps(d)[1] and got["strategy"] == "fsdp"
    assert runs["ref"].keys() == runs["cool"].keys()
    for key in runs["ref"]:
        assert torch.equal(runs["ref"][key], runs["cool"][key]), key


# --- the plan and the workflow -------------------------------------------------------------------


def _paper(schedule: str) -> dict:
    cfg = cs_config.load(REPO / "config" / "paper.yaml")
    cfg["train"]["schedule"] = schedule
    return cfg


def test_plan_trains_the_largest_branch_point_plus_every_cooldown() -> None:
    """Paper grid, per-language study: per (language, size) (1 - f) max(D) + f sum(D) tokens
    instead of sum(D) (0.8 x 64B + 0.2 x 126B = 76.4B of 126B: 61%), GPU-hours likewise; each
    cooldown is a GPU job on its stable run's GPUs with the same global batch."""
    cfg = _paper("wsd")
    cfg["studies"] = {"per_language": cfg["studies"]["per_language"]}
    runs = study.expand(cfg)
    budgets = sorted(cfg["studies"]["per_language"]["tokens"])
    cells = len(runs) // len(budgets)
    rows = plan.plan_study(cfg, runs)
    cosine = plan.plan_study({**cfg, "train": {**cfg["train"], "schedule": "cosine"}}, runs)
    kinds = [r["kind"] for r in rows]
    assert kinds.count("stable") == cells and kinds.count("cooldown") == len(runs)
    assert {r["run"] for r in rows if r["kind"] == "cooldown"} == {r.name for r in runs}
    trained = sum(r["trained_tokens"] for r in rows)
    expected = cells * (0.8 * max(budgets) + 0.2 * sum(budgets))
    assert trained == pytest.approx(expected, rel=1e-9)
    separate = sum(r["tokens"] for r in cosine)
    assert separate == cells * sum(budgets)
    assert trained / separate == pytest.approx(76.4 / 126, rel=1e-9)
    hours = sum(r["gpu_hours"] for r in rows) / sum(r["gpu_hours"] for r in cosine)
    assert 0.55 < hours < 0.67  # the head and attention terms of the FLOPs are per token too
    total = plan.summarise(rows)[-1]
    assert total["runs"] == len(runs) and total["tokens"] == pytest.approx(trained)
    assert total["jobs"] == sum(r["segments"] for r in rows)
    stable_of = {r["run"]: r for r in rows if r["kind"] == "stable"}
    for row in rows:
        if row["kind"] != "cooldown":
            continue
        stable = stable_of[row["stable"]]
        assert row["gpus"] == stable["gpus"] >= 1 and row["batch_size"] == stable["batch_size"]
        assert row["strategy"] in ("ddp", "fsdp") and row["runtime"] < stable["runtime"]
    saving = plan.format_branch_saving(rows, "H800")
    assert re.search(r"\(61% of the tokens, 6\d% of the hours\)", saving), saving


def test_plan_cli_prints_the_saving(tmp_path: Path, capsys) -> None:
    path = tmp_path / "paper-wsd.yaml"
    path.write_text(yaml.safe_dump(_paper("wsd")))
    assert cli.main(["plan", "--config", str(path), "--card", "H800"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("WSD branches:"))
    # the whole paper config: per-language (6 budgets) and pairing (its own budgets) branch
    assert re.search(r"\d+ stable runs \+ \d+ cooldowns", line)
    ratio = int(re.search(r"\((\d+)% of the tokens", line).group(1))
    assert 55 <= ratio <= 70
    assert re.search(r"^0\.1B\s+6\.4e\+10\s+\d+\s+\d+.*\sstable$", out, re.M)
    path.write_text(yaml.safe_dump(_paper("cosine")))
    assert cli.main(["plan", "--config", str(path), "--card", "H800"]) == 0
    assert "WSD branches" not in capsys.readouterr().out


@pytest.mark.workflow
def test_dry_run_has_stable_and_cooldown_jobs_under_the_same_run_names(tmp_path: Path) -> None:
    """The smoke study with wsd (plus a GPU-sized model): one stable job per (cell, size) with
    several budgets, every run still one train_run (its cooldown, reading its branch
    checkpoint) and one evaluate_run under its usual name; the printed plan shows the saving;
    the jobs' resources are their plan rows' (GPU jobs for the GPU size)."""
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    cfg["train"]["schedule"] = "wsd"
    cfg["studies"]["per_language"]["sizes"] = ["2K", "0.1B"]
    cfg["cluster"] = {"gpus": True}
    cfg["slurm"] = {"train_partition": "gpu", "cpu_partition": "cpu"}
    path = tmp_path / "wsd.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path / "work", "-n", "--configfile", str(path), timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    runs = study.expand(cs_config.load(path))
    jobs = planned_jobs(proc.stdout)
    assert jobs["train_stable_mono"] == 3 * 2  # languages x sizes
    assert jobs["train_stable_pairing"] == 3  # formats x one size
    # every run but the optimised allocation one, which waits for the advice (not uniform)
    listed = [r.name for r in runs if not r.from_advice]
    assert jobs["train_run"] == jobs["evaluate_run"] == jobs["mixture"] == len(listed)
    trained = set(re.findall(r"rule train_run:\n(?:\s+\w+:.*\n)*?\s+wildcards: run=(\S+)", out))
    assert trained == set(listed)
    line = next(x for x in out.splitlines() if x.startswith("WSD branches:"))
    assert "9 stable runs + 24 cooldowns" in line
    # Slurm: the stable runs are run jobs too (one per segment), counted with the runs
    assert re.search(rf"Slurm submissions: {len(runs) + 9} run jobs", out), out[-3000:]
    # a cooldown reads its branch checkpoint and starts from it; the stable run writes it
    job = _job(out, "train_run", "mono/python/0.1B_d16K")
    assert "results/branches/mono/python/0.1B_d16K" in job["input"]
    stable = _job(out, "train_stable_mono", "cell=python, size=0.1B")
    assert "results/branches/mono/python/0.1B_d16K" in stable["output"]
    for j in (job, stable):  # GPU jobs on the train partition, the plan's layout
        assert "gpu=1" in j["resources"] and "slurm_partition=gpu" in j["resources"]
    small = _job(out, "train_stable_mono", "cell=go, size=2K")
    assert "gpu=0" in small["resources"] and "slurm_partition=cpu" in small["resources"]


def _job(out: str, rule: str, wildcards: str) -> dict[str, str]:
    """The fields (input, output, resources, ...) of the dry-run job of `rule` whose wildcards
    line contains `wildcards`."""
    for block in re.split(r"\n(?=\s*rule \w+:)", out):
        if re.match(rf"\s*rule {rule}:", block) and re.search(
            rf"wildcards: .*{re.escape(wildcards)}(,|$)", block, re.M
        ):
            return dict(re.findall(r"^\s+(\w+): (.*)$", block, re.M))
    raise AssertionError(f"no {rule} job with {wildcards} in the dry run")


@pytest.mark.slurm
@pytest.mark.slow  # the data half, then 3 Slurm jobs of 2 ranks: a few minutes
def test_stable_run_and_cooldowns_are_slurm_jobs_with_the_planned_layout(
    data_ready: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """On the real local Slurm (tests/test_slurm.py's fixtures): with wsd the stable run is one
    2-rank job of its own, with the time limit its plan row books, and each budget's cooldown
    the run's usual group job (mixture, training from the branch, evaluation) on 2 ranks."""
    from test_slurm import copy_workdir, job_logs, run_snakemake, study_config, time_limits_min

    workdir = copy_workdir(data_ready, tmp_path)
    path = study_config(workdir / "study.yaml")
    cfg = yaml.safe_load(path.read_text())
    cfg["train"]["schedule"] = "wsd"
    cfg["studies"]["per_language"]["tokens"] = [40_000, 80_000]
    path.write_text(yaml.safe_dump(cfg))
    run_snakemake(workdir, path, "evaluate", timeout=1200)
    (stable_log,) = job_logs(workdir, "train_stable_mono")
    assert len(job_logs(workdir, "group_run")) == 2  # the two cooldowns' run jobs
    resolved = cs_config.load(path)
    rows = {r["run"]: r for r in plan.plan_study(resolved, study.expand(resolved))}
    stable = rows["mono/python/5K_stable"]
    assert time_limits_min(workdir, "train_stable_mono") == [
        stable["runtime"] + stable["eval_runtime"]
    ]
    log = (workdir / "logs/train/mono/python/5K_stable.log").read_text()
    assert "GLOBAL_RANK: 0" in log and "GLOBAL_RANK: 1" in log, stable_log.read_text()[-2000:]
    for tokens, name in ((40_000, "5K_d40K"), (80_000, "5K_d80K")):
        metrics = json.loads(
            (workdir / f"results/runs/mono/python/{name}/metrics.json").read_text()
        )
        row = rows[f"mono/python/{name}"]
        assert metrics["world_size"] == row["tasks"] == 2 and metrics["strategy"] == "ddp"
        steps = steps_for(tokens, row["batch_size"], cfg["train"]["seq_len"])
        assert metrics["branch"]["step"] == decay_start(steps, 0.2) and metrics["steps"] == steps
        assert (workdir / f"results/eval/mono/python/{name}.json").exists()
    assert not (workdir / "results/branches/mono/python").exists() or not list(
        (workdir / "results/branches/mono/python").iterdir()
    )  # temporary: deleted once both cooldowns are done
