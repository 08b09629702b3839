"""Training end to end on real code: loss goes down, kill -9 + resume is exact, NaN stops the run.

The corpus is real Python (the standard library's own .py files on this machine), tokenized with a
byte-level BPE trained here with HF `tokenizers`, written with the project's write_shard.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from codescale.cli import main
from codescale.data.shards import Shard, write_shard
from codescale.io import write_json
from codescale.model import presets
from codescale.model.llama import ModelConfig, Transformer
from codescale.train.mixture import build_plan
from codescale.train.run import validation_loss

VOCAB = 384
SEQ = 32
SPECIALS = ["<|endoftext|>", "<|pad|>", "<|lang:python|>"]


def _stdlib_sources(limit_bytes: int) -> list[str]:
    """Real Python source: stdlib modules in a fixed order, up to limit_bytes in total."""
    root = Path(sysconfig.get_paths()["stdlib"])
    texts, total = [], 0
    for path in sorted(root.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")[:6000]
        texts.append(text)
        total += len(text)
        if total >= limit_bytes:
            break
    return texts


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Train/validation shards (different stdlib files) and a mixture plan over the train shard."""
    root = tmp_path_factory.mktemp("corpus")
    texts = _stdlib_sources(400_000)
    val_texts, train_texts = texts[:6], texts[6:]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(train_texts, trainer=trainer)
    assert tok.get_vocab_size() <= VOCAB

    def docs(items: list[str]) -> list[list[int]]:
        return [[2, *tok.encode(t).ids, 0] for t in items]

    out = {}
    for split, items in (("train", train_texts), ("validation", val_texts)):
        prefix = root / "python" / split
        prefix.parent.mkdir(parents=True, exist_ok=True)
        write_shard(prefix, docs(items), VOCAB, sum(len(t.encode()) for t in items), lang="python")
        out[split] = str(prefix)
    plan = build_plan(
        "test/python", [_src(out["train"])], tokens=12_000, seed=3, seq_len=SEQ, size="5K"
    )
    write_json(root / "mixture.json", plan)
    out["mixture"] = str(root / "mixture.json")
    out["root"] = str(root)
    return out


def _src(prefix: str) -> dict:
    return {"name": "python", "prefix": prefix, "weight": 1.0, "unique_tokens": None}


def _train_args(corpus: dict[str, str], out: Path, ckpt: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--mixture", corpus["mixture"],
        "--out-dir", str(out),
        "--checkpoint-dir", str(ckpt),
        "--val", f"python={corpus['validation']}",
        "--batch-size", "8",
        "--threads", "1",
        "--accelerator", "cpu",
        "--devices", "1",
        "--max-val-tokens", "4000",
        *extra,
    ]  # fmt: skip


def test_training_reduces_validation_loss(corpus: dict[str, str], tmp_path: Path) -> None:
    cfg = presets.model_config("5K", VOCAB, SEQ)
    torch.manual_seed(0)
    fresh = Transformer(ModelConfig(**cfg))
    before, _ = validation_loss(fresh, corpus["validation"], SEQ, 4000, 16, False, None)
    rc = main(_train_args(corpus, tmp_path / "out", tmp_path / "ckpt", "--lr", "0.02"))
    assert rc == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    after = metrics["val_loss"]["python"]
    assert after < before - 0.5, (before, after)
    n, n_total = presets.param_counts("5K", VOCAB)
    assert metrics["N"] == n and metrics["N_total"] == n_total
    assert metrics["D"] >= 12_000 and metrics["D"] == config["train"]["tokens"]
    assert metrics["flops"] == presets.train_flops("5K", VOCAB, SEQ, metrics["D"])
    assert metrics["mfu"] is None and metrics["tokens_per_s"] > 0
    assert metrics["resumed_from_step"] is None
    assert metrics["train_loss"][-1][0] == config["train"]["steps"]
    assert metrics["train_loss"][-1][2] < metrics["train_loss"][0][2]
    assert 0 < metrics["repetitions"]["python"] < 1
    weights = load_file(str(tmp_path / "out" / "model.safetensors"))
    model = Transformer(ModelConfig(**config["model"]))
    model.load_state_dict(weights)
    assert not (tmp_path / "ckpt" / "last.ckpt").exists()  # removed once outputs exist


def test_size_seq_len_and_tokens_come_from_the_mixture_plan(
    corpus: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #14: the plan is the one carrier of the run's identity. A plan of size 2K, seq_len
    16 and D 3000 trains 2K's shape at 16 tokens a row for ceil(3000 / (8 x 16)) = 24 steps; the
    trainer takes none of them as an option, and a plan without a size is refused by key."""
    source = [_src(corpus["train"])]
    plan = build_plan("test/2K", source, tokens=3000, seed=3, seq_len=16, size="2K")
    mixture = tmp_path / "mixture.json"
    write_json(mixture, plan)
    args = _train_args({**corpus, "mixture": str(mixture)}, tmp_path / "out", tmp_path / "ckpt")
    assert main([*args, "--lr", "0.02"]) == 0
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert config["size"] == "2K" and config["model"] == presets.model_config("2K", VOCAB, 16)
    assert config["model"] != presets.model_config("5K", VOCAB, 16)
    assert config["train"]["seq_len"] == 16 and config["train"]["steps"] == 24
    assert config["train"]["tokens_planned"] == 3000 and metrics["D"] == 24 * 8 * 16
    assert metrics["N"] == presets.param_counts("2K", VOCAB)[0]
    assert metrics["flops"] == presets.train_flops("2K", VOCAB, 16, 24 * 8 * 16)
    with safe_open(str(tmp_path / "out" / "model.safetensors"), "pt") as fh:
        assert fh.metadata()["size"] == "2K"
    for option in (["--size", "5K"], ["--seq-len", "32"], ["--tokens", "1000"]):
        with pytest.raises(SystemExit) as exit_:
            main([*args, *option])
        assert exit_.value.code == 2
        assert f"unrecognized arguments: {' '.join(option)}" in capsys.readouterr().err
    write_json(mixture, {k: v for k, v in plan.items() if k != "size"})
    assert main(args) == 2
    assert f"mixture plan {mixture} lacks the key 'size'" in capsys.readouterr().err


def _run_cli(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "codescale.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(
    path: Path, proc: subprocess.Popen, newer_than: int = -1, timeout: float = 180.0
) -> None:
    """Poll until `path` exists with an mtime above `newer_than` (ns)."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_mtime_ns > newer_than):
        if proc.poll() is not None:
            raise AssertionError(f"process ended before {path} appeared:\n{proc.stdout.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{path} did not appear within {timeout}s")
        time.sleep(0.005)


@pytest.mark.slow  # two real subprocesses: ~30 s on a loaded 2-core box
def test_sigterm_then_sigkill_then_resume_is_exact(corpus: dict[str, str], tmp_path: Path) -> None:
    """SIGTERM checkpoints and exits 75 (resubmit); SIGKILL loses only work after the last
    checkpoint; the resumed run ends bitwise equal to an uninterrupted one (loss curve, val loss,
    weights)."""
    extra = ("--checkpoint-every", "4", "--log-every", "2", "--lr", "0.02")
    assert main(_train_args(corpus, tmp_path / "ref", tmp_path / "ref_ckpt", *extra)) == 0
    ref = json.loads((tmp_path / "ref" / "metrics.json").read_text())
    ckpt = tmp_path / "ckpt"
    last = ckpt / "last.ckpt"
    args = _train_args(corpus, tmp_path / "out", ckpt, *extra)
    # 1: SIGTERM (Slurm preemption) after the first checkpoint: checkpoint, exit 75
    proc = _run_cli(args)
    _wait_for(last, proc)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 75, output
    assert "received SIGTERM at step" in output
    stopped = int(output.split("received SIGTERM at step ")[1].split("/")[0])
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == stopped
    # 2: resume, then SIGKILL right after its next checkpoint
    proc = _run_cli(args)
    _wait_for(last, proc, newer_than=last.stat().st_mtime_ns)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "out" / "metrics.json").exists()
    killed_at = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
    assert stopped < killed_at < ref["steps"]
    # 3: resume to the end
    assert main(args) == 0
    got = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert got["resumed_from_step"] == killed_at
    assert got["final_train_loss"] == ref["final_train_loss"]
    assert got["train_loss"] == ref["train_loss"]
    assert got["val_loss"] == ref["val_loss"]
    a = load_file(str(tmp_path / "ref" / "model.safetensors"))
    b = load_file(str(tmp_path / "out" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_nonfinite_loss_stops_with_step_and_keeps_checkpoint(
    corpus: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "ckpt"
    args = _train_args(
        corpus, tmp_path / "out", ckpt, "--lr", "1e6", "--warmup-fraction", "0",
        "--checkpoint-every", "1", "--log-every", "1",
    )  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "non-finite training loss" in err and "at step" in err
    bad_step = int(err.split("at step ")[1].split()[0])
    assert not (tmp_path / "out" / "metrics.json").exists()
    saved = torch.load(ckpt / "last.ckpt", map_location="cpu", weights_only=False)
    assert saved["global_step"] == bad_step - 1
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values())


def test_mismatched_checkpoint_is_refused(corpus: dict[str, str], tmp_path: Path, capsys) -> None:
    ckpt = tmp_path / "ckpt"
    args = _train_args(corpus, tmp_path / "a", ckpt, "--keep-checkpoint", "--lr", "0.01")
    assert main(args) == 0
    again = _train_args(corpus, tmp_path / "b", ckpt, "--lr", "0.02")
    assert main(again) == 2
    assert "different configuration" in capsys.readouterr().err


def test_shard_fixture_is_real_code(corpus: dict[str, str]) -> None:
    shard = Shard(corpus["train"])
    assert shard.n_tokens > 20_000 and shard.meta["vocab_size"] == VOCAB


def test_doc_mask_run_and_rerun_after_completion(corpus: dict[str, str], tmp_path: Path) -> None:
    """--doc-mask trains; a rerun that finds the final checkpoint just rewrites the outputs."""
    args = _train_args(
        corpus, tmp_path / "out", tmp_path / "ckpt", "--doc-mask", "--keep-checkpoint",
        "--lr", "0.02", "--schedule", "wsd",
    )  # fmt: skip
    assert main(args) == 0
    first = json.loads((tmp_path / "out" / "metrics.json").read_text())
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["train"]["doc_mask"] and config["train"]["schedule"] == "wsd"
    assert math.isfinite(first["val_loss"]["python"]) and first["resumed_from_step"] is None
    assert main(args) == 0
    again = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert again["resumed_from_step"] == config["train"]["steps"]
    assert again["final_train_loss"] == first["final_train_loss"]
    assert again["val_loss"] == first["val_loss"]
