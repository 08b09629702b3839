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
from test_train import SEQ, _src, _train_args, corpus  # noqa: F401  (corpus: a fixture)

import codescale.train.run as train_run
from codescale import cli, plan, study
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
    write_json(path, build_plan(name, [_src(train_prefix)], tokens=tokens, seed=3, seq_len=SEQ))
    return str(path)


def _args(corpus: dict, mixture: str, out: Path, ckpt: Path, *extra: str) -> list[str]:
    return _train_args({**corpus, "mixture": mixture}, out, ckpt, *WSD, *extra)


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
    branches: dict, corpus: dict, tmp_path: Path, capsys  # noqa: F811
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
