"""Greedy translation and BLEU: decoding equals a hand argmax loop (batched, cropped, stopping at
eod), BLEU per direction, the evaluate --bleu CLI on a saved tiny model, and collect's BLEU rows."""

from __future__ import annotations

import json

import polars as pl
import pytest
import torch
from test_evaluate import CODE, CPU, _row, tiny_model

from codescale.cli import main
from codescale.data.tokenizer import EOD_ID, PAD_ID, load_tokenizer, train_tokenizer
from codescale.evaluate.collect import metric_rows
from codescale.evaluate.generate import (
    bleu_by_direction,
    generate,
    prompt_and_reference,
    select_instances,
    translation_bleu,
)
from codescale.pairs.build import all_directions
from codescale.pairs.formats import encode_pair

TEMPLATE = "\n// {src} to {tgt}:\n"


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer(CODE, 300).save(str(path))
    return load_tokenizer(path)


def hand_greedy(model, prompt: list[int], max_new: int) -> list[int]:
    """One sequence, no padding: argmax of the last logits, context cropped keeping both tags."""
    L, tag = model.cfg.max_seq_len, len(prompt) - 1
    ids = list(prompt)
    for _ in range(max_new):
        others = [p for p in range(len(ids)) if p not in (0, tag)]
        keep = sorted([0, tag, *others[len(others) - (L - 2) :]]) if len(ids) > L else None
        ctx = ids if keep is None else [ids[p] for p in keep]
        with torch.no_grad():
            t = int(model(torch.tensor([ctx]))[0, -1].argmax())
        if t == EOD_ID:
            break
        ids.append(t)
    return ids[len(prompt) :]


def _rows(n_tasks: int = 2) -> list[dict]:
    return [
        {**_row(s, CODE[s][k % len(CODE[s])], t, CODE[t][0]), "task_id": f"HumanEval/{k}"}
        for k in range(n_tasks)
        for s, t, _ in all_directions(["python", "java", "go"])
    ]


def test_prompt_is_the_pair_prefix(tok):
    for fmt in ("direct", "prompt"):
        r = _row("python", CODE["python"][0], "go", CODE["go"][0])
        prompt, n_ref = prompt_and_reference(tok, fmt, r, TEMPLATE)
        ids, mask = encode_pair(tok, fmt, "python", r["src"], "go", r["tgt"], TEMPLATE)
        assert prompt == ids[~mask].tolist() and n_ref == len(tok.encode(r["tgt"]).ids)
        assert prompt[0] == 2 + 0 and prompt[-1] not in (EOD_ID, PAD_ID)  # python tag, go tag


def test_greedy_equals_hand_argmax_loop_batched_and_cropped(tok):
    model = tiny_model(tok, max_seq_len=24)
    prompts = [
        prompt_and_reference(tok, fmt, r, TEMPLATE)[0]
        for fmt in ("direct", "prompt")
        for r in _rows(1)
    ]
    assert min(map(len, prompts)) < 24 < max(map(len, prompts))  # some are cropped from the start
    budgets = [5 + 11 * (i % 3) for i in range(len(prompts))]  # 27 > L - 2: old output dropped
    hand = [hand_greedy(model, p, m) for p, m in zip(prompts, budgets, strict=True)]
    for batch_size in (1, 4):
        for cache in (False, True):
            got = generate(
                model, prompts, budgets, EOD_ID, PAD_ID, batch_size, CPU, use_cache=cache
            )
            assert got == hand
    # stops at <|endoftext|>: make eod likely, so some instances end before their budget
    with torch.no_grad():
        model.head.weight[EOD_ID] *= 12
    hand = [hand_greedy(model, p, 20) for p in prompts]
    got = generate(model, prompts, [20] * len(prompts), EOD_ID, PAD_ID, 4, CPU, use_cache=False)
    assert got == hand and any(0 < len(g) < 20 for g in got)


def test_bleu_per_direction_and_selection(tok):
    rows = _rows(3)
    exact = bleu_by_direction(rows, [r["tgt"] for r in rows])
    assert len(exact) == 6 and all(d["bleu"] == pytest.approx(100.0) for d in exact)
    assert all(d["n_instances"] == 3 for d in exact) and sum(d["seen"] for d in exact) == 4
    wrong = [r["tgt"].replace("return", "yield") for r in rows]
    assert all(d["bleu"] < 100.0 for d in bleu_by_direction(rows, wrong))
    ids = [f"HumanEval/{k}" for k in (10, 2, 1)]
    picked = select_instances([{**rows[0], "task_id": t} for t in ids], 2)
    assert [r["task_id"] for r in picked] == ["HumanEval/1", "HumanEval/2"]
    # a real model that always predicts eod (all-zero logits: argmax is id 0) translates to ""
    model = tiny_model(tok)
    with torch.no_grad():
        model.norm.weight.zero_()
    out = translation_bleu(model, tok, rows, "direct", TEMPLATE, 4, CPU, 1, 8)
    assert out["max_new_tokens"] == 8 and out["seen_mean"] == out["unseen_mean"] == 0.0
    assert [d["n_instances"] for d in out["directions"]] == [1] * 6


def test_evaluate_bleu_cli(tok, tmp_path, capsys):
    from safetensors.torch import save_file

    model = tiny_model(tok)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_file(model.state_dict(), str(run_dir / "model.safetensors"))
    cfg = {"run": "r", "model": model.cfg.__dict__, "mixture": {"spec": {"pair_format": "prompt"}}}
    (run_dir / "config.json").write_text(json.dumps(cfg))
    tok.save(str(tmp_path / "tokenizer.json"))
    pl.DataFrame(_rows(2)).write_parquet(tmp_path / "test.parquet")
    base = ["evaluate", "--run-dir", str(run_dir), "--tokenizer", str(tmp_path / "tokenizer.json")]
    base += ["--device", "cpu", "--out", str(tmp_path / "eval.json"), "--bleu"]
    assert main(base) == 2
    assert "--bleu needs --translation-test" in capsys.readouterr().err
    flags = ["--translation-test", str(tmp_path / "test.parquet"), "--bleu-max-instances", "1"]
    assert main([*base, *flags, "--bleu-max-new-tokens", "4"]) == 0
    bleu = json.loads((tmp_path / "eval.json").read_text())["translation"]["bleu"]
    assert set(bleu) == {"directions", "seen_mean", "unseen_mean", "max_new_tokens"}
    assert bleu["max_new_tokens"] == 4 and len(bleu["directions"]) == 6
    d = bleu["directions"][0]
    assert set(d) == {"src_lang", "tgt_lang", "seen", "bleu", "n_instances"}
    assert d["n_instances"] == 1 and 0.0 <= d["bleu"] <= 100.0
    assert main([*base, *flags, "--bleu-max-new-tokens", "0"]) == 2


def test_collect_adds_bleu_rows():
    dirs = [
        {"src_lang": s, "tgt_lang": t, "seen": seen, "bleu": 10.0 * i, "n_instances": 2}
        for i, (s, t, seen) in enumerate(all_directions(["python", "java", "go"]))
    ]
    tr = {"directions": [], "aggregates": {}}
    ev = {"languages": {}, "translation": tr}
    assert metric_rows(None, ev) == []  # no BLEU, no rows
    tr["bleu"] = {
        "directions": dirs,
        "seen_mean": 15.0,
        "unseen_mean": None,
        "max_new_tokens": None,
    }
    rows = metric_rows(None, ev)
    per_dir = [r for r in rows if r["metric"] == "translation_bleu"]
    assert len(per_dir) == 6 and per_dir[1] == {
        "metric": "translation_bleu",
        "lang": None,
        "src_lang": dirs[1]["src_lang"],
        "tgt_lang": dirs[1]["tgt_lang"],
        "seen": dirs[1]["seen"],
        "value": 10.0,
    }
    assert [r["metric"] for r in rows if r not in per_dir] == ["translation_bleu_seen_mean"]
