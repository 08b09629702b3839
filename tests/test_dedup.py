"""dedup stage and the MinHash core: planted duplicates are found, unrelated files are kept."""

from __future__ import annotations

import hashlib
import random
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codescale.cli import main
from codescale.data import minhash
from codescale.data.dedup import dedup_table, greedy_near, normalise
from codescale.errors import CodescaleError
from codescale.io import read_json


def program(seed: int, lines: int = 60) -> str:
    """A Python-like file whose identifiers make its shingles unique to the seed."""
    rng = random.Random(seed)
    words = [f"w{seed}_{rng.randrange(10**6)}" for _ in range(40)]
    out = [f"def f_{seed}(a, b):"]
    for i in range(lines):
        x, y, z = rng.sample(words, 3)
        out.append(f"    {x} = {y}({z}, {rng.randrange(1000)}) + a[{i}]")
    out.append("    return b")
    return "\n".join(out) + "\n"


def mutate(text: str, n_lines: int, seed: int) -> str:
    """Replace n_lines lines with fresh ones (a near duplicate)."""
    rng = random.Random(seed)
    lines = text.split("\n")
    for k in rng.sample(range(1, len(lines) - 2), n_lines):
        lines[k] = f"    changed_{seed}_{k} = other_{rng.randrange(10**6)}(a, b)"
    return "\n".join(lines)


def corpus(docs: list[tuple[str, str]]) -> pa.Table:
    """Corpus table from (doc_id, content) pairs; repo = doc_id prefix before '/'."""
    return pa.table(
        {
            "doc_id": [d for d, _ in docs],
            "lang": ["python"] * len(docs),
            "repo": [d.split("/")[0] for d, _ in docs],
            "path": [d for d, _ in docs],
            "content": [c for _, c in docs],
            "n_bytes": pa.array([len(c.encode()) for _, c in docs], pa.int64()),
            "sha256": [hashlib.sha256(c.encode()).hexdigest() for _, c in docs],
            "source": ["test"] * len(docs),
        }
    )


def planted() -> list[tuple[str, str]]:
    docs = [(f"r{i}/u{i}.py", program(i)) for i in range(20)]
    base = docs[3][1]
    # exact duplicates up to whitespace: CRLF, trailing spaces, blank lines around
    docs.append(("r9/exact_crlf.py", base.replace("\n", "\r\n")))
    docs.append(("r8/exact_ws.py", "\n\n" + base.replace("\n", "   \n") + "\n\n"))
    docs.append(("r7/near.py", mutate(docs[5][1], 2, 1)))
    docs.append(("r6/near_reindent.py", mutate(docs[5][1], 3, 2).replace("    ", "\t")))
    return docs


def test_tokens_are_word_runs_and_punctuation():
    texts = ["x_1 = foo(bar, 2)\n", "  élan+=1;", "", "   \n\t", "a" * 5000 + "!"]
    tok = re.compile(r"[A-Za-z0-9_\x80-\U0010ffff]+|[^A-Za-z0-9_\x80-\U0010ffff\s]")
    _, offsets = minhash._token_hashes(texts)
    assert np.diff(offsets).tolist() == [len(tok.findall(t)) for t in texts]
    a, b = minhash.shingle(["x = foo(y)", "x=foo( y )\n"], ngram=3), None
    assert np.array_equal(a.doc(0), a.doc(1)), "whitespace must not change shingles"
    del b


def test_estimated_jaccard_is_close_to_exact():
    base = program(100, lines=80)
    texts = [base] + [mutate(base, k, k) for k in (1, 4, 8, 15, 30)] + [program(101)]
    sh = minhash.shingle(texts)
    sigs = minhash.MinHasher(256, seed=1).signatures(sh)
    pairs = np.array([(0, i) for i in range(1, len(texts))])
    est = minhash.estimated_jaccard(sigs, pairs)
    exact = np.array([minhash.exact_jaccard(sh.doc(0), sh.doc(i)) for i in range(1, len(texts))])
    assert exact[0] > 0.9 and exact[-1] < 0.2 and np.all(np.diff(exact) < 0)
    assert np.abs(est - exact).max() < 0.1, (est, exact)
    assert np.allclose(minhash.pair_jaccard(sh, pairs, max_elems=500), exact)
    # batching never changes a signature
    s2, has = minhash.signatures(texts, batch_bytes=3000)
    assert has.all() and np.array_equal(s2, sigs)


def test_lsh_params_match_datasketch():
    datasketch = pytest.importorskip("datasketch.lsh")
    for t, k in ((0.7, 256), (0.5, 128), (0.85, 64)):
        assert minhash.lsh_params(t, k, 0.5, 0.5) == datasketch._optimal_param(t, k, 0.5, 0.5)


def test_dedup_finds_planted_duplicates_only():
    kept, removed, stats = dedup_table(corpus(planted()))
    got = {r["doc_id"]: r for r in removed.to_pylist()}
    assert set(got) == {"r9/exact_crlf.py", "r8/exact_ws.py", "r7/near.py", "r6/near_reindent.py"}
    assert got["r9/exact_crlf.py"]["reason"] == "exact"
    assert got["r9/exact_crlf.py"]["representative"] == "r3/u3.py"
    assert got["r8/exact_ws.py"]["representative"] == "r3/u3.py"
    for d in ("r7/near.py", "r6/near_reindent.py"):
        assert got[d]["reason"] == "near" and got[d]["representative"] == "r5/u5.py"
        assert 0.7 <= got[d]["jaccard"] < 1.0
    assert kept.num_rows == 20 and set(kept.column("doc_id").to_pylist()) == {
        f"r{i}/u{i}.py" for i in range(20)
    }
    assert stats["removed"]["exact"]["docs"] == 2 and stats["removed"]["near"]["docs"] == 2
    assert stats["docs_in"] == 24 and stats["docs_out"] == 20
    assert stats["bytes_in"] - stats["bytes_out"] == sum(
        stats["removed"][r]["bytes"] for r in ("exact", "near")
    )


def test_representative_is_independent_of_row_order():
    docs = planted()
    docs.append(("a0/copy.py", docs[3][1]))  # same length as r3/u3.py, smaller doc_id: it wins
    first = dedup_table(corpus(docs))
    rng = random.Random(0)
    rng.shuffle(docs)
    second = dedup_table(corpus(docs))
    assert first[1].equals(second[1])
    assert sorted(first[0].column("doc_id").to_pylist()) == sorted(
        second[0].column("doc_id").to_pylist()
    )
    rep = {r["doc_id"]: r["representative"] for r in first[1].to_pylist()}
    assert rep["r3/u3.py"] == "a0/copy.py"


def test_greedy_resolution_never_chains():
    # 0~1 and 1~2 but not 0~2: 1 goes (to 0), 2 stays because its only match was removed
    kept, rep, jac = greedy_near(3, np.array([[0, 1], [1, 2]]), np.array([0.8, 0.9]))
    assert kept.tolist() == [True, False, True] and rep[1] == 0 and jac[1] == 0.8
    # the better-matching kept representative is chosen
    kept, rep, _ = greedy_near(3, np.array([[0, 2], [1, 2]]), np.array([0.75, 0.95]))
    assert kept.tolist() == [True, True, False] and rep[2] == 1


def test_normalise():
    assert normalise("\n\n  a  \r\nb\t\r\n\n") == "  a\nb"


def test_cli_writes_outputs(tmp_path, capsys):
    src = tmp_path / "in.parquet"
    pq.write_table(corpus(planted()), src)
    out, rem, st = tmp_path / "o.parquet", tmp_path / "r.parquet", tmp_path / "s.json"
    argv = ["dedup", "--input", str(src), "--output", str(out), "--removed", str(rem)]
    argv += ["--stats", str(st), "--ngram", "5", "--num-perm", "128", "--threshold", "0.7"]
    assert main([*argv, "--seed", "3"]) == 0
    assert pq.read_table(out).num_rows == 20
    assert pq.read_table(out).schema.names == corpus([]).schema.names
    assert pq.read_table(rem).schema.names == ["doc_id", "reason", "representative", "jaccard"]
    stats = read_json(st)
    assert stats["params"]["num_perm"] == 128 and stats["docs_out"] == 20
    assert main([*argv, "--bands", "8"]) == 2
    assert "--bands and --rows" in capsys.readouterr().err


def test_errors(tmp_path, capsys):
    argv = ["--output", str(tmp_path / "o"), "--removed", str(tmp_path / "r")]
    argv += ["--stats", str(tmp_path / "s")]
    assert main(["dedup", "--input", str(tmp_path / "missing.parquet"), *argv]) == 2
    assert "missing.parquet" in capsys.readouterr().err
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"doc_id": ["a"], "content": ["x"]}), bad)
    assert main(["dedup", "--input", str(bad), *argv]) == 2
    assert "missing column(s) lang" in capsys.readouterr().err
    dup = tmp_path / "dup.parquet"
    pq.write_table(corpus([("a/x", "1"), ("a/x", "2")]), dup)
    assert main(["dedup", "--input", str(dup), *argv]) == 2
    assert "not unique" in capsys.readouterr().err
    with pytest.raises(CodescaleError, match="threshold"):
        dedup_table(corpus(planted()[:2]), threshold=1.5)
    with pytest.raises(CodescaleError, match="ngram"):
        dedup_table(corpus(planted()[:2]), ngram=0)
    assert not (tmp_path / "o").exists()


def test_candidates_near_the_threshold_are_decided_on_the_exact_jaccard():
    """Pairs from Jaccard 0.93 down to 0.60: each pair's decision is its exact Jaccard's (the
    signatures' estimate alone would misjudge about half of the pairs right at 0.7)."""
    docs, jac = [], []
    for i in range(14):
        base = program(1000 + i)
        near = mutate(base, 2 + i, i)
        docs += [(f"a{i}/base.py", base), (f"b{i}/near.py", near)]
        sh = minhash.shingle([normalise(base), normalise(near)])
        jac.append(minhash.exact_jaccard(sh.doc(0), sh.doc(1)))
    assert sum(0.68 <= j < 0.75 for j in jac) >= 3  # pairs where the estimate is unsure
    kept, removed, stats = dedup_table(corpus(docs))
    rows = {r["doc_id"]: r for r in removed.to_pylist()}
    for i, j in enumerate(jac):
        gone = [d for d in (f"a{i}/base.py", f"b{i}/near.py") if d in rows]
        if j < 0.7:
            assert gone == [], (i, j)
        else:  # these pairs are all LSH candidates (36 bands x 7 rows; seeds fixed)
            assert len(gone) == 1, (i, j)
        for d in gone:  # exact near the threshold, else the estimate
            assert rows[d]["reason"] == "near" and abs(rows[d]["jaccard"] - j) < 0.1
            if abs(j - 0.7) < 0.03:
                assert rows[d]["jaccard"] == pytest.approx(j)
    assert stats["exactly_verified_pairs"] >= 3
    assert kept.num_rows == len(docs) - len(rows)
