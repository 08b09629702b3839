"""split stage: by repository, deterministic, decontaminated against eval splits and references."""

from __future__ import annotations

import hashlib
import itertools
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codescale.cli import main
from codescale.data import minhash
from codescale.data.split import assign_repos, reference_containment, split_table
from codescale.errors import CodescaleError
from codescale.io import read_json


def program(seed: int, lines: int = 40) -> str:
    """A Python-like file whose identifiers make its shingles unique to the seed."""
    rng = random.Random(seed)
    words = [f"v{seed}_{rng.randrange(10**6)}" for _ in range(30)]
    body = [
        f"    {rng.choice(words)} = {rng.choice(words)}(x, {rng.randrange(99)})"
        for _ in range(lines)
    ]
    return "\n".join([f"def g_{seed}(x):", *body, "    return x"]) + "\n"


def corpus(docs: list[tuple[str, str, str]]) -> pa.Table:
    """Corpus table from (repo, doc_id, content)."""
    return pa.table(
        {
            "doc_id": [d for _, d, _ in docs],
            "lang": ["go"] * len(docs),
            "repo": [r for r, _, _ in docs],
            "path": [d for _, d, _ in docs],
            "content": [c for _, _, c in docs],
            "n_bytes": pa.array([len(c.encode()) for *_, c in docs], pa.int64()),
            "sha256": [hashlib.sha256(c.encode()).hexdigest() for *_, c in docs],
            "source": ["test"] * len(docs),
        }
    )


def base_docs(n_repos: int = 12, per_repo: int = 3) -> list[tuple[str, str, str]]:
    return [
        (f"repo{r}", f"repo{r}/f{k}.go", program(100 * r + k))
        for r in range(n_repos)
        for k in range(per_repo)
    ]


def test_repositories_never_span_splits_and_split_is_deterministic():
    table = corpus(base_docs())
    out, removed, stats = split_table(table, 0.2, 0.2, seed=0)
    repos = {s: set(t.column("repo").to_pylist()) for s, t in out.items()}
    for a, b in itertools.combinations(repos.values(), 2):
        assert not a & b
    assert all(repos.values()) and removed.num_rows == 0
    assert sum(t.num_rows for t in out.values()) == table.num_rows
    assert {s: stats["splits"][s]["repos"] for s in out} == {s: len(r) for s, r in repos.items()}
    again, _, _ = split_table(table.take(np.arange(table.num_rows)[::-1]), 0.2, 0.2, seed=0)
    assert {s: set(t.column("doc_id").to_pylist()) for s, t in again.items()} == {
        s: set(t.column("doc_id").to_pylist()) for s, t in out.items()
    }
    other = split_table(table, 0.2, 0.2, seed=5)[0]
    assert set(other["validation"].column("repo").to_pylist()) != repos["validation"]


def test_three_repositories_fill_every_split():
    sizes = {"big": 10_000, "mid": 500, "small": 20}
    for seed in range(10):
        where = assign_repos(sizes, {"validation": 0.05, "test": 0.05}, seed, "go")
        assert sorted(where.values()) == ["test", "train", "validation"]
    where = assign_repos({"a": 1, "b": 1}, {"validation": 0.1, "test": 0.0}, 0, "go")
    assert sorted(where.values()) == ["train", "validation"]


def test_too_few_repositories(tmp_path, capsys):
    with pytest.raises(CodescaleError, match=r"go: 2 repositories"):
        assign_repos({"a": 1, "b": 2}, {"validation": 0.05, "test": 0.05}, 0, "go")
    src = tmp_path / "in.parquet"
    pq.write_table(corpus(base_docs(n_repos=2)), src)
    assert main(["split", "--input", str(src), "--out-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "go: 2 repositories" in err and err.startswith("codescale split: error:")
    assert not (tmp_path / "o").exists()


def test_missing_input(tmp_path, capsys):
    assert main(["split", "--input", str(tmp_path / "nope.parquet"), "--out-dir", "x"]) == 2
    assert "nope.parquet" in capsys.readouterr().err
    src = tmp_path / "in.parquet"
    pq.write_table(corpus(base_docs()), src)
    argv = ["split", "--input", str(src), "--out-dir", str(tmp_path / "o")]
    assert main([*argv, "--decontaminate-against", str(tmp_path / "ref.parquet")]) == 2
    assert "ref.parquet" in capsys.readouterr().err
    assert main([*argv, "--validation", "0.6", "--test", "0.5"]) == 2


def test_decontamination_removes_planted_copies(tmp_path):
    docs = base_docs()
    first, _, _ = split_table(corpus(docs), 0.1, 0.1, seed=0)
    val_doc = first["validation"].to_pylist()[0]
    train_repo = first["train"].column("repo").to_pylist()[0]
    reference = program(999_999, lines=25)  # a held-out solution, in no split
    copied = val_doc["content"].replace("(x, 1", "(y, 1")  # a near copy of a validation file
    embedding = program(77_777, lines=60) + "\n" + reference + "\n" + program(77_778, lines=60)
    docs += [
        (train_repo, f"{train_repo}/copied.go", copied),
        (train_repo, f"{train_repo}/embeds.go", embedding),
    ]
    src, ref = tmp_path / "in.parquet", tmp_path / "heldout.parquet"
    pq.write_table(corpus(docs), src)
    pq.write_table(pa.table({"task_id": ["t1", "t2"], "content": [reference, "x = 1"]}), ref)
    out = tmp_path / "split"
    argv = ["split", "--input", str(src), "--out-dir", str(out), "--validation", "0.1"]
    argv += ["--test", "0.1", "--seed", "0", "--decontaminate-against", str(ref)]
    assert main(argv) == 0
    val = pq.read_table(out / "validation.parquet").column("doc_id").to_pylist()
    train = pq.read_table(out / "train.parquet").column("doc_id").to_pylist()
    assert val_doc["doc_id"] in val  # the planted bytes did not move the copied file's repo
    removed = {r["doc_id"]: r for r in pq.read_table(out / "removed.parquet").to_pylist()}
    assert set(removed) == {f"{train_repo}/copied.go", f"{train_repo}/embeds.go"}
    assert not set(removed) & set(train)
    copy_row = removed[f"{train_repo}/copied.go"]
    assert copy_row["reason"] == "near_validation" and copy_row["match"] == val_doc["doc_id"]
    embed_row = removed[f"{train_repo}/embeds.go"]
    assert embed_row["reason"] == "reference" and embed_row["match"] == "heldout.parquet#0"
    assert embed_row["score"] == 1.0
    # containment was needed: the embedding document is far from the reference by Jaccard
    sh = minhash.shingle([embedding, reference])
    assert minhash.exact_jaccard(sh.doc(0), sh.doc(1)) < 0.5
    stats = read_json(out / "stats.json")
    dec = stats["decontamination"]
    assert dec["removed"]["near_validation"]["docs"] == 1
    assert dec["removed"]["reference"]["docs"] == 1 and dec["removed"]["near_test"]["docs"] == 0
    assert dec["references"] == {"rows": 2, "used": 1, "too_short": 1}
    assert stats["splits"]["train"]["docs"] == dec["train_docs_before"] - 2
    total = sum(stats["splits"][s]["docs"] for s in ("train", "validation", "test"))
    assert total == len(docs) - 2


def test_reference_containment_is_exact():
    rng = np.random.default_rng(0)
    pool = np.arange(1, 400, dtype=np.uint64)
    train_sets = [np.unique(rng.choice(pool, rng.integers(5, 120))) for _ in range(60)]
    ref_sets = [np.unique(rng.choice(pool, rng.integers(16, 40))) for _ in range(15)]
    train_sets[7] = np.union1d(train_sets[7], ref_sets[3][:-5])  # high containment, planted

    def pack(sets):
        return minhash.Shingles(
            np.concatenate(sets), np.concatenate(([0], np.cumsum([len(s) for s in sets])))
        )

    docs, refs, cont = reference_containment(pack(train_sets), pack(ref_sets), 0.7, 16)
    got = {(d, r): c for d, r, c in zip(docs.tolist(), refs.tolist(), cont.tolist(), strict=True)}
    want = {}
    for d, t in enumerate(train_sets):
        for r, s in enumerate(ref_sets):
            c = len(np.intersect1d(t, s)) / len(s)
            if c >= 0.7:
                want[(d, r)] = c
    assert (7, 3) in want and got.keys() == want.keys()
    assert all(abs(got[k] - want[k]) < 1e-12 for k in want)
