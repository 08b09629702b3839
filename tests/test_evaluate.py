"""Evaluation: translation loss counts target tokens only and matches a hand computation; shard
loss and bits per byte; the evaluate CLI on a real (tiny, randomly initialised) saved model."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
import torch

from codescale.cli import main
from codescale.data.shards import Shard, write_shard
from codescale.data.tokenizer import encode_documents, load_tokenizer, train_tokenizer
from codescale.evaluate.losses import shard_loss
from codescale.evaluate.translation import aggregates, translation_losses
from codescale.model.llama import ModelConfig, Transformer
from codescale.pairs.build import all_directions
from codescale.pairs.formats import encode_pair

CODE = {
    "python": ["def add(a, b):\n    return a + b\n", "for i in range(10):\n    print(i)\n"],
    "java": ["class A { int add(int a, int b) { return a + b; } }\n"],
    "go": ["func Add(a int, b int) int {\n\treturn a + b\n}\n"],
}
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer(CODE, 300).save(str(path))
    return load_tokenizer(path)


def tiny_model(tok, max_seq_len: int = 64) -> Transformer:
    torch.manual_seed(0)
    cfg = ModelConfig(
        vocab_size=tok.get_vocab_size(),
        d_model=32,
        n_layers=2,
        n_heads=2,
        d_ff=64,
        max_seq_len=max_seq_len,
    )
    return Transformer(cfg, attention="sdpa").eval()


def hand_nats(model, ids, mask) -> float:
    """-sum log P of the masked tokens, from the model's logits on one unpadded sequence."""
    with torch.no_grad():
        logits = model(torch.as_tensor(ids[None, :-1], dtype=torch.long))[0]
    logp = torch.log_softmax(logits.double(), dim=-1)
    picked = logp[torch.arange(len(ids) - 1), torch.as_tensor(ids[1:], dtype=torch.long)]
    return -float(picked[torch.as_tensor(mask[1:])].sum())


def _row(src_lang, src, tgt_lang, tgt):
    return {
        "task_id": "HumanEval/0",
        "src_lang": src_lang,
        "tgt_lang": tgt_lang,
        "seen": "python" in (src_lang, tgt_lang),
        "src": src,
        "tgt": tgt,
    }


@pytest.mark.parametrize("fmt", ["direct", "prompt"])
def test_translation_loss_counts_target_tokens_only(tok, fmt):
    model = tiny_model(tok)
    src, tgt = CODE["python"][0], CODE["go"][0]
    ids, mask = encode_pair(tok, fmt, "python", src, "go", tgt, "\n// {src} to {tgt}:\n")
    assert len(ids) - 1 <= 64
    [rec] = translation_losses(
        model, tok, [_row("python", src, "go", tgt)], fmt, "\n// {src} to {tgt}:\n", 64, 4, 1, CPU
    )
    assert rec["n_tokens"] == int(mask.sum()) == len(tok.encode(tgt).ids) + 1
    assert rec["nats"] == pytest.approx(hand_nats(model, ids, mask), rel=1e-5)
    # the source matters (it is context) but is not counted: a different source changes the loss
    [other] = translation_losses(
        model,
        tok,
        [_row("python", CODE["python"][1], "go", tgt)],
        fmt,
        "\n// {src} to {tgt}:\n",
        64,
        4,
        1,
        CPU,
    )
    assert other["n_tokens"] == rec["n_tokens"] and other["nats"] != pytest.approx(rec["nats"])


def test_long_pair_truncates_source_from_the_left_never_the_target(tok):
    model = tiny_model(tok, max_seq_len=32)
    src = CODE["python"][1] * 8
    tgt = CODE["go"][0]
    ids, mask = encode_pair(tok, "direct", "python", src, "go", tgt)
    assert len(ids) > 33 and mask.sum() < 32
    [rec] = translation_losses(
        model, tok, [_row("python", src, "go", tgt)], "direct", "", 32, 2, 1, CPU
    )
    keep = slice(len(ids) - 33, None)  # the last 32 inputs plus the final target
    assert rec["truncated"] and rec["n_tokens"] == int(mask.sum())
    assert rec["nats"] == pytest.approx(hand_nats(model, ids[keep], mask[keep]), rel=1e-5)
    # a target longer than the window is scored in sliding windows, every target token once
    long_tgt = CODE["go"][0] * 6
    [rec2] = translation_losses(
        model, tok, [_row("python", src, "go", long_tgt)], "direct", "", 32, 2, 1, CPU
    )
    assert rec2["n_tokens"] == len(tok.encode(long_tgt).ids) + 1 > 32
    assert math.isfinite(rec2["nats"]) and rec2["nats"] > 0


def test_shard_loss_and_bits_per_byte(tok, tmp_path):
    model = tiny_model(tok, max_seq_len=16)
    texts = CODE["python"] * 3
    docs = encode_documents(tok, "python", texts)
    n_bytes = sum(len(t.encode()) for t in texts)
    write_shard(tmp_path / "test", docs, tok.get_vocab_size(), n_bytes, lang="python", split="test")
    stats = shard_loss(model, Shard(tmp_path / "test"), 16, 3, 1, CPU)
    nats = 0.0
    for d in docs:  # by hand: windows of 16 inputs, each token after the first scored once
        d = d.astype(np.int64)
        for s in range(0, len(d) - 1, 16):
            piece = d[s : min(s + 16, len(d) - 1) + 1]
            nats += hand_nats(model, piece, np.ones(len(piece), dtype=bool))
    assert stats["n_tokens"] == sum(len(d) - 1 for d in docs)
    assert stats["nats"] == pytest.approx(nats, rel=1e-5)
    assert stats["bpb"] == pytest.approx(nats / math.log(2) / n_bytes, rel=1e-5)
    part = shard_loss(model, Shard(tmp_path / "test"), 16, 3, 1, CPU, max_tokens=1)
    assert part["n_docs"] == 1 and part["n_bytes"] < n_bytes


def test_aggregates_follow_the_paper():
    langs = ["python", "java", "go"]
    directions = [
        {"src_lang": s, "tgt_lang": t, "seen": seen, "loss": float(i + 1)}
        for i, (s, t, seen) in enumerate(all_directions(langs))
    ]
    loss = {(d["src_lang"], d["tgt_lang"]): d["loss"] for d in directions}
    agg = aggregates(directions, langs)
    assert agg["unseen_mean"] == pytest.approx((loss[("java", "go")] + loss[("go", "java")]) / 2)
    assert agg["nonpython_mean"] == agg["unseen_mean"]
    assert agg["seen_mean"] == pytest.approx(
        np.mean([v for (s, t), v in loss.items() if "python" in (s, t)])
    )
    assert agg["x_to_all"]["java"] == pytest.approx(
        (loss[("java", "python")] + loss[("java", "go")]) / 2
    )
    assert agg["all_to_x"]["go"] == pytest.approx(
        (loss[("python", "go")] + loss[("java", "go")]) / 2
    )


def test_evaluate_cli_on_a_saved_run(tok, tmp_path):
    from safetensors.torch import save_file

    model = tiny_model(tok)
    run_dir = tmp_path / "runs" / "pairing" / "direct" / "t_d1K"
    run_dir.mkdir(parents=True)
    save_file(model.state_dict(), str(run_dir / "model.safetensors"))
    cfg = {
        "run": "pairing/direct/t_d1K",
        "size": "t",
        "model": model.cfg.__dict__,
        "mixture": {"spec": {"pair_format": "direct"}},
    }
    (run_dir / "config.json").write_text(json.dumps(cfg))
    tok_path = tmp_path / "tokenizer.json"
    tok.save(str(tok_path))
    docs = encode_documents(tok, "go", CODE["go"] * 2)
    write_shard(tmp_path / "go_test", docs, tok.get_vocab_size(), 100, lang="go", split="test")
    rows = [
        {
            "task_id": f"HumanEval/{k}",
            "src_lang": s,
            "tgt_lang": t,
            "seen": seen,
            "src": CODE[s][0],
            "tgt": CODE[t][0],
        }
        for k in range(2)
        for s, t, seen in all_directions(["python", "java", "go"])
    ]
    pl.DataFrame(rows).write_parquet(tmp_path / "translation_test.parquet")
    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                "--run-dir",
                str(run_dir),
                "--tokenizer",
                str(tok_path),
                "--test",
                f"go={tmp_path / 'go_test'}",
                "--translation-test",
                str(tmp_path / "translation_test.parquet"),
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    ev = json.loads(out.read_text())
    assert ev["run"] == "pairing/direct/t_d1K" and ev["translation"]["format"] == "direct"
    assert set(ev["languages"]) == {"go"} and ev["languages"]["go"]["n_docs"] == 2
    dirs = ev["translation"]["directions"]
    assert len(dirs) == 6 and sum(d["seen"] for d in dirs) == 4
    assert all(d["n_instances"] == 2 for d in dirs)
    assert (
        main(
            [
                "evaluate",
                "--run-dir",
                str(run_dir),
                "--tokenizer",
                str(tok_path),
                "--test",
                "klingon=x",
                "--out",
                str(out),
            ]
        )
        == 2
    )


def test_truncated_shard_bits_per_byte_count_the_bytes_scored(tok, tmp_path):
    """--max-tokens-per-language stops after the first document: bpb must use that document's
    bytes (by hand: its text), not the shard's bytes apportioned by token share (issue 15)."""
    from safetensors.torch import save_file

    model = tiny_model(tok)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_file(model.state_dict(), str(run_dir / "model.safetensors"))
    cfg = {"run": "mono/go/t", "model": model.cfg.__dict__}
    (run_dir / "config.json").write_text(json.dumps(cfg))
    tok_path = tmp_path / "tokenizer.json"
    tok.save(str(tok_path))
    # code (several bytes per token) first, then text the tokenizer never saw (~1 byte per token)
    texts = [CODE["go"][0], "é" * 40 + "\n"]
    docs = encode_documents(tok, "go", texts)
    n_bytes = sum(len(t.encode()) for t in texts)
    write_shard(tmp_path / "go_test", docs, tok.get_vocab_size(), n_bytes, lang="go")
    out = tmp_path / "eval.json"
    argv = ["evaluate", "--run-dir", str(run_dir), "--tokenizer", str(tok_path), "--test",
            f"go={tmp_path / 'go_test'}", "--max-tokens-per-language", "1", "--device", "cpu",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    ev = json.loads(out.read_text())
    go = ev["languages"]["go"]
    assert go["n_docs"] == 1 and go["bytes_source"] == "decoded documents"
    first = docs[0].astype(np.int64)
    nats = hand_nats(model, first, np.ones(len(first), dtype=bool))
    hand_bytes = len(texts[0].encode("utf-8"))
    assert go["n_bytes"] == hand_bytes == len(CODE["go"][0])
    assert go["nats"] == pytest.approx(nats, rel=1e-5)
    assert go["bpb"] == pytest.approx(nats / math.log(2) / hand_bytes, rel=1e-5)
    apportioned = n_bytes * len(first) / sum(len(d) for d in docs)
    assert abs(apportioned - hand_bytes) / hand_bytes > 0.2  # the old estimate was far off
    assert ev["device"] == "cpu" and ev["dtype"] == "float32"
    # the whole shard: the shard's own byte count
    assert main([*argv[:7], "--device", "cpu", "--out", str(out)]) == 0
    whole = json.loads(out.read_text())["languages"]["go"]
    assert whole["bytes_source"] == "shard" and whole["n_bytes"] == n_bytes
