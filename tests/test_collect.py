"""collect: two run directories (config.json / metrics.json written by hand, per the contract)
and their evaluation JSONs become the tidy long table."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from codescale import LANGUAGES
from codescale.cli import main
from codescale.evaluate.translation import aggregates
from codescale.pairs.build import all_directions


def _run(root: Path, name: str, spec: dict, N: int, D: int, final: float) -> Path:
    run_dir = root / "runs" / name
    run_dir.mkdir(parents=True)
    cfg = {
        "run": name,
        "size": spec["size"],
        "model": {},
        "train": {},
        "mixture": {
            "run": name,
            "seed": 0,
            "tokens": D,
            "seq_len": 64,
            "sources": [],
            "spec": spec,
        },
    }
    metrics = {
        "N": N,
        "N_total": N + 5000,
        "D": D,
        "flops": 6.0 * N * D,
        "wall_time_s": 1.0,
        "tokens_per_s": 1.0,
        "mfu": None,
        "train_loss": [[1, 64, 5.0], [2, 128, final]],
        "final_train_loss": final,
        "val_loss": {},
        "repetitions": {},
        "resumed_from_step": None,
    }
    (run_dir / "config.json").write_text(json.dumps(cfg))
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir


def _eval(path: Path, name: str, langs: list[str], translation: bool) -> Path:
    ev = {
        "run": name,
        "languages": {x: {"loss": 1.0 + i, "bpb": 0.5 + i} for i, x in enumerate(langs)},
        "translation": None,
    }
    if translation:
        dirs = [
            {
                "src_lang": s,
                "tgt_lang": t,
                "seen": seen,
                "loss": 0.1 * (i + 1),
                "n_instances": 2,
                "n_target_tokens": 10,
                "loss_per_instance": 1.0,
            }
            for i, (s, t, seen) in enumerate(all_directions(langs))
        ]
        ev["translation"] = {
            "format": "direct",
            "directions": dirs,
            "aggregates": aggregates(dirs, langs),
        }
    path.write_text(json.dumps(ev))
    return path


@pytest.fixture
def table(tmp_path) -> pl.DataFrame:
    mono = {
        "name": "mono/go/t1_d1K",
        "study": "mono",
        "size": "t1",
        "tokens": 1000,
        "weights": {"go": 1.0},
        "pair_format": None,
        "parallel_share": 0.0,
        "target": None,
        "auxiliary": None,
        "seed": 0,
    }
    pair = {
        "name": "pairing/direct/t1_d1K",
        "study": "pairing",
        "size": "t1",
        "tokens": 1000,
        "weights": {"python": 0.5, "java": 0.25, "go": 0.25},
        "pair_format": "direct",
        "parallel_share": 0.2,
        "target": None,
        "auxiliary": None,
        "seed": 1,
    }
    runs = [
        _run(tmp_path, mono["name"], mono, 1000, 1000, 3.5),
        _run(tmp_path, pair["name"], pair, 2000, 1000, 3.0),
    ]
    evals = [
        _eval(tmp_path / "e1.json", mono["name"], ["go"], False),
        _eval(tmp_path / "e2.json", pair["name"], ["python", "java", "go"], True),
    ]
    out, csv = tmp_path / "collect" / "runs.parquet", tmp_path / "collect" / "runs.csv"
    assert (
        main(
            [
                "collect",
                "--run",
                *map(str, runs),
                "--eval",
                *map(str, evals),
                "--out",
                str(out),
                "--csv",
                str(csv),
            ]
        )
        == 0
    )
    assert csv.exists() and pl.read_csv(csv).height == pl.read_parquet(out).height
    assert (
        main(
            [
                "collect",
                "--run",
                str(runs[0]),
                "--eval",
                *map(str, evals),
                "--out",
                str(tmp_path / "x.parquet"),
            ]
        )
        == 2
    )
    return pl.read_parquet(out)


def test_columns_follow_the_contract(table):
    expected = [
        "run",
        "study",
        "size",
        "N",
        "N_total",
        "D",
        "pair_format",
        "parallel_share",
        "seed",
        "target",
        "auxiliary",
        *[f"p_{x}" for x in LANGUAGES],
        "metric",
        "lang",
        "src_lang",
        "tgt_lang",
        "seen",
        "value",
    ]
    assert table.columns == expected
    assert table.schema["seen"] == pl.Boolean and table.schema["value"] == pl.Float64


def test_mono_run_rows(table):
    mono = table.filter(pl.col("run") == "mono/go/t1_d1K")
    assert sorted(mono["metric"].to_list()) == ["bpb", "train_loss", "val_loss"]
    assert mono.filter(pl.col("metric") == "train_loss")["value"].item() == 3.5
    row = mono.filter(pl.col("metric") == "val_loss").row(0, named=True)
    assert row["lang"] == "go" and row["value"] == 1.0 and row["N"] == 1000 and row["D"] == 1000
    assert row["p_go"] == 1.0 and row["p_python"] == 0.0 and row["pair_format"] is None


def test_pairing_run_rows(table):
    pair = table.filter(pl.col("run") == "pairing/direct/t1_d1K")
    counts = dict(pair.group_by("metric").len().iter_rows())
    assert counts == {
        "train_loss": 1,
        "val_loss": 3,
        "bpb": 3,
        "translation_loss": 6,
        "translation_loss_seen_mean": 1,
        "translation_loss_unseen_mean": 1,
        "translation_loss_all_mean": 1,
        "translation_loss_nonpython_mean": 1,
        "translation_loss_x_to_all": 3,
        "translation_loss_all_to_x": 3,
    }
    tl = pair.filter(pl.col("metric") == "translation_loss")
    assert tl.filter(pl.col("seen")).height == 4
    assert set(tl.filter(~pl.col("seen"))["src_lang"]) == {"java", "go"}
    unseen = pair.filter(pl.col("metric") == "translation_loss_unseen_mean")["value"].item()
    assert unseen == pytest.approx(tl.filter(~pl.col("seen"))["value"].mean())
    r = pair.row(0, named=True)
    assert (r["pair_format"], r["parallel_share"], r["seed"], r["p_python"]) == (
        "direct",
        0.2,
        1,
        0.5,
    )
