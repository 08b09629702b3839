"""Parallel data: checksums, the MBXP filter, task hold-out, pair formats and pair shards."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from codescale import LANGUAGES
from codescale.cli import main
from codescale.data.shards import Shard
from codescale.data.tokenizer import load_tokenizer, special_ids, train_tokenizer
from codescale.errors import CodescaleError
from codescale.pairs.build import all_directions, seen_directions
from codescale.pairs.fetch import DEFAULT_URL_TEMPLATE, fetch_all, fetch_file, load_sources
from codescale.pairs.formats import encode_pair
from codescale.pairs.sources import Program
from codescale.pairs.tasks import filter_mbxp

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "parallel"
needs_data = pytest.mark.skipif(not SHARED.is_dir(), reason=f"no parallel data copy at {SHARED}")


@pytest.fixture(scope="module")
def parallel_dir(tmp_path_factory) -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"no parallel data copy at {SHARED}")
    out = tmp_path_factory.mktemp("parallel")
    fetch_all(out, SHARED, DEFAULT_URL_TEMPLATE)
    return out


@pytest.fixture(scope="module")
def tasks_dir(parallel_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pairs")
    assert (
        main(
            [
                "parallel-tasks",
                "--parallel-dir",
                str(parallel_dir),
                "--out-dir",
                str(out),
                "--heldout",
                "50",
                "--seed",
                "0",
            ]
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def tokenizer_path(tasks_dir) -> Path:
    programs = pl.read_parquet(tasks_dir / "programs.parquet")
    samples = {
        lang: programs.filter(pl.col("lang") == lang)["content"].to_list()[:30]
        for lang in LANGUAGES
    }
    path = tasks_dir / "tokenizer.json"
    train_tokenizer(samples, 600).save(str(path))
    return path


@needs_data
def test_fetch_copies_and_verifies_everything(parallel_dir):
    for dataset, meta in load_sources().items():
        names = {e["name"] for e in meta["files"]}
        assert "LICENSE" in names
        for name in names:
            assert (parallel_dir / dataset / name).is_file()
    # MBXP is stored decompressed, as upstream serves it
    assert (parallel_dir / "mbxp" / "mbpp_release_v1.jsonl").read_text().startswith("{")


@needs_data
def test_corrupted_source_copy_fails_naming_file_and_hashes(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SHARED, src)
    target = src / "humaneval-x" / "humaneval_go.jsonl.gz"
    target.chmod(0o644)
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(CodescaleError) as err:
        fetch_all(tmp_path / "out", src, DEFAULT_URL_TEMPLATE)
    msg = str(err.value)
    assert "humaneval-x/humaneval_go.jsonl.gz" in msg
    assert "09126ef64ac68f87296c5f3781186aedc5dec799b114d9df99d6de4a715a7830" in msg
    assert "got " in msg
    assert not (tmp_path / "out" / "humaneval-x" / "humaneval_go.jsonl.gz").exists()
    # through the CLI: one-line error, exit code 2
    assert (
        main(["fetch-parallel", "--out-dir", str(tmp_path / "o2"), "--source-dir", str(src)]) == 2
    )


def test_download_with_wrong_checksum_fails(tmp_path):
    upstream = tmp_path / "upstream" / "polyhumaneval"
    upstream.mkdir(parents=True)
    (upstream / "LICENSE").write_text("not the MIT licence\n")
    meta = load_sources()["polyhumaneval"]
    entry = next(e for e in meta["files"] if e["name"] == "LICENSE")
    template = f"file://{tmp_path}/upstream/{{dataset}}/{{name}}"
    with pytest.raises(
        CodescaleError, match=r"checksum mismatch for polyhumaneval/LICENSE.*" + entry["sha256"]
    ):
        fetch_file("polyhumaneval", meta, entry, tmp_path / "out", None, template)
    assert not (tmp_path / "out" / "polyhumaneval" / "LICENSE").exists()


def _mbxp(lang: str, n: int, solution: str, test: str) -> Program:
    prompt = "function f(n) {\n" if lang != "python" else "def f(n):\n"
    return Program(f"MBPP/{n}", lang, "mbxp", prompt + solution, solution, test, "f")


def test_mbxp_filter_drops_planted_test_literal_solution():
    js_test = (
        "var arg00 = 10;\nvar x0 = f(arg00);\nvar v0 = 271;\n"
        "var arg10 = 9;\nvar x1 = f(arg10);\nvar v1 = 217;\n"
    )
    py_test = (
        "def check(candidate):\n    assert candidate(10) == 271\n    assert candidate(9) == 217\n"
    )
    cat_test = (
        'var arg00 = "abbb";\nvar x0 = f(arg00);\nvar v0 = "Found a match!";\n'
        'var arg10 = "ac";\nvar x1 = f(arg10);\nvar v1 = "Not matched!";\n'
    )
    programs = [
        _mbxp("python", 1, "    return 3 * n * (n - 1) + 1\n", py_test),
        _mbxp(
            "javascript", 1, "  if (n == 10) return 271;\n  if (n == 9) return 217;\n}\n", js_test
        ),
        _mbxp("typescript", 1, "  return 3 * n * (n - 1) + 1;\n}\n", js_test),
        _mbxp("python", 2, "    return 'Found a match!' if 'ab' in n else 'Not matched!'\n", ""),
        _mbxp(
            "javascript",
            2,
            '  return /ab+/.test(n) ? "Found a match!" : "Not matched!";\n}\n',
            cat_test,
        ),
        _mbxp("java", 3, "   \n", js_test),
        _mbxp("typescript", 4, "  return 3 * n * (n - 1) + 1;\n}\n", js_test),  # same program
    ]
    kept, counts = filter_mbxp(programs)
    kept_ids = {(p.lang, p.task_id) for p in kept}
    assert ("javascript", "MBPP/1") not in kept_ids  # hard-codes two test cases' literals
    assert ("typescript", "MBPP/1") in kept_ids
    assert ("javascript", "MBPP/2") in kept_ids  # category outputs the reference also returns
    assert counts["javascript"]["dropped"] == {"test_literal": 1}
    assert counts["java"]["dropped"] == {"empty": 1}
    assert counts["typescript"]["dropped"] == {"duplicate": 1}


def test_directions_seen_and_unseen():
    directions = all_directions(list(LANGUAGES))
    assert len(directions) == 42
    assert sum(seen for _, _, seen in directions) == 12
    assert sum(not seen for _, _, seen in directions) == 30
    assert {(s, t) for s, t, seen in directions if seen} == set(seen_directions(list(LANGUAGES)))
    assert all("python" not in (s, t) for s, t, seen in directions if not seen)
    assert len(seen_directions(["python", "go", "rust"])) == 4


@needs_data
def test_parallel_tasks_holds_out_tasks_deterministically(tasks_dir, parallel_dir, tmp_path):
    import json

    info = json.loads((tasks_dir / "tasks.json").read_text())
    assert len(info["heldout"]) == 50
    assert all(t.startswith("HumanEval/") for t in info["heldout"])
    assert not set(info["heldout"]) & set(info["train"])
    held = pl.read_parquet(tasks_dir / "heldout.parquet")
    programs = pl.read_parquet(tasks_dir / "programs.parquet")
    assert set(held["task_id"]) == set(info["heldout"])
    assert not set(held["task_id"]) & set(programs["task_id"])
    assert set(held["source"]) == {"polyhumaneval", "humaneval-x"}
    # 50 tasks x 7 PolyHumanEval + 50 x 5 HumanEval-X solutions
    assert held.height == 50 * 7 + 50 * 5
    for lang in ("java", "javascript", "typescript", "csharp"):
        c = info["mbxp_filter"][lang]
        assert c["kept"] + sum(c["dropped"].values()) == c["total"]
        assert c["dropped"]["test_literal"] > 10
    again = tmp_path / "again"
    main(
        [
            "parallel-tasks",
            "--parallel-dir",
            str(parallel_dir),
            "--out-dir",
            str(again),
            "--heldout",
            "50",
            "--seed",
            "0",
            "--no-mbxp",
        ]
    )
    assert json.loads((again / "tasks.json").read_text())["heldout"] == info["heldout"]


@needs_data
def test_encode_pair_masks_exactly_the_target(tokenizer_path):
    tok = load_tokenizer(tokenizer_path)
    sp = special_ids(tok)
    src, tgt = "def f(x):\n    return x\n", "fn f(x: i64) -> i64 { x }\n"
    ids, mask = encode_pair(tok, "direct", "python", src, "rust", tgt)
    assert ids[0] == sp["lang"]["python"] and ids[-1] == sp["eod"]
    assert ids[~mask][-1] == sp["lang"]["rust"]
    assert tok.decode(ids[mask][:-1].tolist()) == tgt
    p_ids, p_mask = encode_pair(tok, "prompt", "python", src, "rust", tgt, "\n# {src} to {tgt}:\n")
    assert "# Python to Rust:" in tok.decode(p_ids[~p_mask].tolist())
    assert np.array_equal(p_ids[p_mask], ids[mask])
    with pytest.raises(CodescaleError):
        encode_pair(tok, "shuffled", "python", src, "rust", tgt)


@needs_data
def test_pairs_never_put_heldout_tasks_in_training(tasks_dir, tokenizer_path, tmp_path):
    out = tmp_path / "pairs"
    small = tmp_path / "programs.parquet"
    programs = pl.read_parquet(tasks_dir / "programs.parquet")
    # HumanEval-derived programs plus a slice of MBXP keep this test fast
    programs.filter(
        (pl.col("source") != "mbxp") | (pl.col("task_id").str.extract(r"(\d+)$").cast(int) < 60)
    ).write_parquet(small)
    assert (
        main(
            [
                "pairs",
                "--programs",
                str(small),
                "--heldout",
                str(tasks_dir / "heldout.parquet"),
                "--tokenizer",
                str(tokenizer_path),
                "--out-dir",
                str(out),
                "--seed",
                "0",
            ]
        )
        == 0
    )
    tok = load_tokenizer(tokenizer_path)
    held = pl.read_parquet(tasks_dir / "heldout.parquet")
    held_texts = [c for c in held["content"].to_list() if len(c) > 40]
    for fmt in ("shuffled", "direct", "prompt"):
        shard = Shard(out / fmt / "train")
        assert len(shard) > 100
        text = "\n".join(tok.decode(shard.doc(i).tolist()) for i in range(len(shard)))
        leaked = [c for c in held_texts if c in text]
        assert not leaked, f"{fmt}: held-out solutions in training shard"
    n_direct = len(Shard(out / "direct" / "train"))
    assert n_direct == len(Shard(out / "prompt" / "train"))
    test = pl.read_parquet(out / "translation_test.parquet")
    assert test.height == 50 * 42
    assert test.filter(pl.col("seen")).height == 50 * 12
    assert set(test["task_id"]) == set(held["task_id"])
    # a programs file that contains a held-out task is refused
    bad = tmp_path / "bad.parquet"
    pl.concat([programs.head(5), held.select(programs.columns).head(1)]).write_parquet(bad)
    argv = [
        "pairs",
        "--programs",
        str(bad),
        "--heldout",
        str(tasks_dir / "heldout.parquet"),
        "--tokenizer",
        str(tokenizer_path),
        "--formats",
        "direct",
        "--out-dir",
        str(tmp_path / "bad_out"),
    ]
    assert main(argv) == 2
    assert not (tmp_path / "bad_out" / "direct" / "train.json").exists()
