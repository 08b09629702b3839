"""The split at scale: assign / eval / index / train / stats jobs over parts of a language.

The same corpus given as 1 part and as several parts (rows shuffled, split at random places)
must give the same repositories per split, the same documents per split and the same removed
documents with the same reason and match; and these equal the single-job `split_table`.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_split import base_docs, corpus, program

from codescale.cli import main
from codescale.data.split import SPLITS, split_table
from codescale.errors import CodescaleError
from codescale.io import read_json

FRACTIONS = ("--validation", "0.1", "--test", "0.1", "--seed", "0")


def planted_corpus() -> tuple[list[tuple[str, str, str]], str, dict[str, str]]:
    """base_docs plus near copies of validation and test files and a held-out reference
    embedded in training files; returns (docs, reference, {copied doc_id: original doc_id})."""
    docs = base_docs(n_repos=16, per_repo=4)
    first, _, _ = split_table(corpus(docs), 0.1, 0.1, seed=0)
    train_repos = sorted(set(first["train"].column("repo").to_pylist()))
    reference = program(999_999, lines=25)
    copies = {}
    for k, s in enumerate(("validation", "validation", "test")):
        row = first[s].to_pylist()[k]
        repo = train_repos[k]
        doc_id = f"{repo}/copy{k}.go"
        docs.append((repo, doc_id, row["content"].replace("(x, 1", "(y, 1")))
        copies[doc_id] = row["doc_id"]
    for k in range(2):
        repo = train_repos[-1 - k]
        text = program(70_000 + k, lines=50) + "\n" + reference + "\n" + program(71_000 + k)
        docs.append((repo, f"{repo}/embeds{k}.go", text))
    return docs, reference, copies


def write_parts(table: pa.Table, n_parts: int, out: Path, seed: int) -> list[str]:
    """The rows shuffled and cut into n_parts files at random places."""
    rng = np.random.default_rng(seed)
    table = table.take(rng.permutation(table.num_rows))
    cuts = np.sort(rng.choice(np.arange(1, table.num_rows), n_parts - 1, replace=False))
    bounds = [0, *cuts.tolist(), table.num_rows]
    paths = []
    for k in range(n_parts):
        path = out / f"dedup/p{k:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(bounds[k], bounds[k + 1] - bounds[k]), path)
        paths.append(str(path))
    return paths


def run_parts(parts: list[str], heldout: Path, out: Path) -> dict:
    """Every split job through the CLI, as the rules run them; returns what they wrote."""
    repos = out / "repos.parquet"
    assert main(["split-assign", "--input", *parts, "--lang", "go", "--out", str(repos),
                 *FRACTIONS]) == 0  # fmt: skip
    names = [Path(p).stem for p in parts]
    split_files = {s: [str(out / s / f"{n}.parquet") for n in names] for s in SPLITS}
    for p, n in zip(parts, names, strict=True):
        assert main(["split-eval", "--input", p, "--repos", str(repos),
                     "--validation-out", str(out / "validation" / f"{n}.parquet"),
                     "--test-out", str(out / "test" / f"{n}.parquet")]) == 0  # fmt: skip
    index = out / "index"
    assert main(["split-index", "--validation", *split_files["validation"],
                 "--test", *split_files["test"], "--decontaminate-against", str(heldout),
                 "--out-dir", str(index), "--seed", "0"]) == 0  # fmt: skip
    removed = [str(out / "removed" / f"{n}.parquet") for n in names]
    stats = [str(out / "stats" / f"{n}.json") for n in names]
    for p, n, rm, st in zip(parts, names, removed, stats, strict=True):
        assert main(["split-train", "--input", p, "--repos", str(repos), "--index", str(index),
                     "--out", split_files["train"][names.index(n)], "--removed", rm,
                     "--stats", st, "--seed", "0"]) == 0  # fmt: skip
    assert main(["split-stats", "--lang", "go", "--repos", str(repos),
                 *[a for s in SPLITS for a in (f"--{s}", *split_files[s])],
                 "--removed", *removed, "--part-stats", *stats, "--validation-fraction", "0.1",
                 "--test-fraction", "0.1", "--seed", "0",
                 "--out", str(out / "stats.json")]) == 0  # fmt: skip
    docs = {
        s: sorted(d for f in split_files[s] for d in pq.read_table(f)["doc_id"].to_pylist())
        for s in SPLITS
    }
    rows = sorted(
        (r["doc_id"], r["reason"], r["match"], round(r["score"], 12))
        for f in removed
        for r in pq.read_table(f).to_pylist()
    )
    return {"docs": docs, "removed": rows, "stats": read_json(out / "stats.json")}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("parts")
    docs, reference, copies = planted_corpus()
    heldout = tmp / "heldout.parquet"
    pq.write_table(pa.table({"task_id": ["t1", "t2"], "content": [reference, "x = 1"]}), heldout)
    return tmp, corpus(docs), heldout, copies


def test_one_part_and_many_parts_give_the_same_split(planted) -> None:
    tmp, table, heldout, copies = planted
    one = run_parts(write_parts(table, 1, tmp / "one", 0), heldout, tmp / "one")
    parts = write_parts(table, 5, tmp / "many", 1)
    empty = tmp / "many" / "dedup" / "p00005.parquet"  # a part without this language
    pq.write_table(table.slice(0, 0), empty)
    many = run_parts([*parts, str(empty)], heldout, tmp / "many")
    assert one["docs"] == many["docs"] and one["removed"] == many["removed"]
    removed = {r[0]: r for r in one["removed"]}
    assert set(removed) == {*copies, *(d for d in table["doc_id"].to_pylist() if "embeds" in d)}
    for copy, original in copies.items():
        assert removed[copy][2] == original and removed[copy][1].startswith("near_")
    assert {r[1] for r in one["removed"]} == {"near_validation", "near_test", "reference"}
    # the single-job split (split_table) gives the same documents and removals
    out, rm, stats = split_table(table, 0.1, 0.1, seed=0, references=([program(999_999, 25)],
                                 ["heldout.parquet#0"]))  # fmt: skip
    assert {s: sorted(t["doc_id"].to_pylist()) for s, t in out.items()} == one["docs"]
    assert sorted(rm["doc_id"].to_pylist()) == sorted(removed)
    for key in ("splits",):
        assert one["stats"][key] == many["stats"][key] == stats[key]
    dec_one, dec_many = one["stats"]["decontamination"], many["stats"]["decontamination"]
    assert dec_one["removed"] == dec_many["removed"] == stats["decontamination"]["removed"]
    assert dec_one["train_docs_before"] == stats["decontamination"]["train_docs_before"]
    assert dec_one["references"] == {"rows": 2, "used": 1, "too_short": 1}
    assert many["stats"]["parts"] == 6 and one["stats"]["parts"] == 1


def test_a_part_with_an_unassigned_repository_is_refused(planted, capsys) -> None:
    tmp, table, _, _ = planted
    parts = write_parts(table, 2, tmp / "stale", 2)
    repos = tmp / "stale" / "repos.parquet"
    assert main(["split-assign", "--input", *parts, "--lang", "go", "--out", str(repos),
                 *FRACTIONS]) == 0  # fmt: skip
    extra = pa.concat_tables([pq.read_table(parts[1]), corpus([("new/repo", "n.go", "x = 1")])])
    pq.write_table(extra, parts[1])
    argv = ["split-eval", "--input", parts[1], "--repos", str(repos), "--validation-out",
            str(tmp / "v.parquet"), "--test-out", str(tmp / "t.parquet")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "new/repo" in err and "split_assign" in err and parts[1] in err


def test_missing_part_and_index_are_named(tmp_path: Path, capsys) -> None:
    missing = str(tmp_path / "nope.parquet")
    assert main(["split-assign", "--input", missing, "--lang", "go", "--out", "x"]) == 2
    assert "part not found" in capsys.readouterr().err
    part = tmp_path / "p.parquet"
    pq.write_table(corpus(base_docs()), part)
    repos = tmp_path / "repos.parquet"
    assert main(["split-assign", "--input", str(part), "--lang", "go", "--out", str(repos)]) == 0
    argv = ["split-train", "--input", str(part), "--repos", str(repos), "--index",
            str(tmp_path / "noindex"), "--out", "a", "--removed", "b", "--stats", "c"]  # fmt: skip
    assert main(argv) == 2
    assert "noindex/bands.parquet" in capsys.readouterr().err


def test_assign_streams_bytes_per_repository(tmp_path: Path) -> None:
    docs = [(f"r{k % 7}", f"d{k}", "x" * (k + 1)) for k in range(50)]
    rng = random.Random(0)
    rng.shuffle(docs)
    parts = write_parts(corpus(docs), 3, tmp_path, 0)
    out = tmp_path / "repos.parquet"
    assert main(["split-assign", "--input", *parts, "--lang", "go", "--out", str(out)]) == 0
    table = pq.read_table(out).to_pylist()
    want = {f"r{j}": sum(k + 1 for k in range(50) if k % 7 == j) for j in range(7)}
    assert {r["repo"]: r["n_bytes"] for r in table} == want
    assert sorted(r["split"] for r in table).count("train") >= 1


def test_tokenizer_sample_is_the_same_for_one_and_many_parts(tmp_path: Path) -> None:
    from codescale.data.tokenizer import sample_language

    table = corpus(base_docs(n_repos=10, per_repo=5))
    one = write_parts(table, 1, tmp_path / "one", 0)
    many = write_parts(table, 4, tmp_path / "many", 3)
    total = sum(table["n_bytes"].to_pylist())
    for budget in (500, 7000, total // 2, 2 * total):
        sample = sample_language(one, budget, seed=1, lang="go")
        assert sample == sample_language(many, budget, seed=1, lang="go")
        assert min(budget, total) - 3 <= sum(len(t.encode()) for t in sample) <= min(budget, total)
    assert sample_language(one, 7000, 1, "go") != sample_language(one, 7000, 2, "go")


def test_gathered_parts_equal_one_shard(tmp_path: Path, capsys) -> None:
    from codescale.data.shards import Shard
    from codescale.data.tokenize import tokenize_split
    from codescale.data.tokenizer import load_tokenizer, train_tokenizer

    table = corpus(base_docs(n_repos=6, per_repo=3))
    tok_path = tmp_path / "tok.json"
    train_tokenizer({"go": table["content"].to_pylist()}, 400).save(str(tok_path))
    tok = load_tokenizer(tok_path)
    whole = tmp_path / "whole.parquet"
    pq.write_table(table, whole)
    tokenize_split(tok, whole, "go", "train", tmp_path / "whole", tokenizer_sha256="x")
    prefixes = []
    for k, (lo, hi) in enumerate([(0, 7), (7, 7), (7, table.num_rows)]):  # an empty middle part
        path = tmp_path / f"p{k}.parquet"
        pq.write_table(table.slice(lo, hi - lo), path)
        tokenize_split(tok, path, "go", "train", tmp_path / f"p{k}", tokenizer_sha256="x",
                       allow_empty=True)  # fmt: skip
        prefixes.append(str(tmp_path / f"p{k}"))
    out = tmp_path / "gathered"
    assert main(["tokenize-gather", "--parts", *prefixes, "--lang", "go", "--split", "train",
                 "--out-prefix", str(out)]) == 0  # fmt: skip
    a, b = Shard(tmp_path / "whole"), Shard(out)
    assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.offsets, b.offsets)
    assert (a.meta["n_docs"], a.meta["n_bytes"]) == (b.meta["n_docs"], b.meta["n_bytes"])
    assert b.meta["parts"] == 3 and b.meta["tokenizer_sha256"] == "x"
    docs = pq.read_table(f"{out}.docs.parquet")["doc_id"].to_pylist()
    assert docs == table["doc_id"].to_pylist()
    # every part empty: the split has no documents, named as tokenize names it
    assert main(["tokenize-gather", "--parts", prefixes[1], "--lang", "go", "--split", "test",
                 "--out-prefix", str(tmp_path / "empty")]) == 2  # fmt: skip
    assert "no documents to tokenize for language go, split test" in capsys.readouterr().err
    # a part of another tokenizer is refused, naming the part
    tokenize_split(tok, tmp_path / "p0.parquet", "go", "train", tmp_path / "other",
                   tokenizer_sha256="y")  # fmt: skip
    assert main(["tokenize-gather", "--parts", prefixes[0], str(tmp_path / "other"), "--lang",
                 "go", "--split", "train", "--out-prefix", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "tokenizer_sha256" in err and "other" in err


@pytest.mark.workflow
@pytest.mark.slow
def test_snakemake_one_part_and_many_parts_give_the_same_split_and_tokenizer(
    tmp_path: Path,
) -> None:
    """End to end: the smoke corpus's Python files (plus planted duplicates) through
    `snakemake tokenizer` as 1 part and with corpus.part_mb small enough for several parts
    (the token shards' gather is tested above, without Snakemake: 3 jobs per part)."""
    import shutil

    import yaml
    from conftest import REPO, snakemake

    corpus_dir = tmp_path / "corpus"
    for src in sorted((REPO / "tests/data/corpus").glob("py-*")):
        shutil.copytree(src, corpus_dir / src.name)
    json_file = sorted((corpus_dir / "py-json").rglob("*.py"))[0]
    text = json_file.read_text()
    (corpus_dir / "py-xml/copied_json.py").write_text(text)  # an exact duplicate
    (corpus_dir / "py-ctypes/near_json.py").write_text(text.replace("\n", "\n# near\n", 1))
    out = {}
    for name, part_mb in (("one", 100.0), ("many", 0.025)):
        cfg = yaml.safe_load((REPO / "config/smoke.yaml").read_text())
        cfg["languages"] = ["python"]
        cfg["corpus"].update(paths=[str(corpus_dir)], part_mb=part_mb)
        cfg.pop("execute")
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        wd = tmp_path / name
        wd.mkdir()
        proc = snakemake(wd, "-c2", "--configfile", str(path), targets=("tokenizer",))
        assert proc.returncode == 0, proc.stderr[-3000:]
        res = wd / "results"
        parts = sorted(p.stem for p in (res / "split/python/train").glob("*.parquet"))
        docs = {
            s: sorted(
                d
                for p in (res / f"split/python/{s}").glob("*.parquet")
                for d in pq.read_table(p)["doc_id"].to_pylist()
            )
            for s in SPLITS
        }
        stats = read_json(res / "split/python/stats.json")
        tokenizer = (res / "tokenizer/tokenizer.json").read_text()
        out[name] = (parts, docs, stats, tokenizer)
    (p1, d1, s1, k1), (p8, d8, s8, k8) = out["one"], out["many"]
    assert len(p1) == 1 and len(p8) >= 3, (p1, p8)
    assert d1 == d8 and all(d1.values())
    assert s1["splits"] == s8["splits"] and s1["decontamination"] == s8["decontamination"]
    assert (s1["parts"], s8["parts"]) == (1, len(p8))
    assert k1 == k8  # the same tokenizer: the same sample from 1 part and from several
    kept = {d.split("#")[0] for ds in d1.values() for d in ds}
    assert sum("copied_json" in d or "near_json" in d or json_file.name in d for d in kept) == 1


def test_data_plan_counts_jobs_and_books_by_part() -> None:
    from codescale.plan import DATA_SCALING, data_plan, data_plan_text

    config = {
        "languages": ["python", "go"],
        "corpus": {"cap_bytes_per_language": 8 * 2**30, "part_mb": 1024},
        "split": {"validation": 0.05, "test": 0.05},
        "slurm": {"max_runtime_h": 48},
    }
    scaling = {"split_train": (2000, 7.0, 300.0), "tokenize_part": (1000, 2.0, 200.0)}
    rows = {r["rule"]: r for r in data_plan(config, scaling)}  # input = cap x 2 = 16 GiB
    assert set(rows) == {"split_train", "tokenize_part"}
    assert rows["split_train"]["jobs"] == 2 * 16 and rows["tokenize_part"]["jobs"] == 3 * 2 * 16
    part = 0.35 * 1024  # one part of one language, as parquet (MiB)
    assert rows["split_train"]["input_mb"] == pytest.approx(part)
    assert rows["split_train"]["mem_gb"] == pytest.approx((2000 + 7.0 * part) / 1000)
    assert rows["split_train"]["hours"] == pytest.approx((10 + part / 300) / 60)
    # both languages (16 GiB, as parquet) at 300 MiB/min, plus 0.1 min to start each of 32 jobs
    assert rows["split_train"]["cpu_hours"] == pytest.approx((16 * part / 300 + 3.2) / 60)
    # a 4x larger input: 4x the jobs, the same memory per job
    big = {r["rule"]: r for r in data_plan(config, scaling, input_mb=64 * 1024)}
    assert big["split_train"]["jobs"] == 4 * rows["split_train"]["jobs"]
    assert big["split_train"]["mem_gb"] == rows["split_train"]["mem_gb"]
    text = data_plan_text(config, DATA_SCALING)
    assert "split_train" in text and "tokenize_shard" in text and "16 parts" in text
    with pytest.raises(CodescaleError, match="cap_bytes_per_language or give --corpus-gb"):
        data_plan({**config, "corpus": {}}, scaling)


def test_encode_calls_are_bounded_by_bytes() -> None:
    from codescale.data.tokenize import byte_batches

    sizes = np.array([5, 5, 5, 20, 1, 1, 9])
    assert list(byte_batches(sizes, 10)) == [(0, 2), (2, 3), (3, 4), (4, 6), (6, 7)]
    assert list(byte_batches(np.array([], dtype=np.int64), 10)) == []
    ranges = list(byte_batches(np.full(1000, 3), 1 << 20))
    assert ranges == [(0, 1000)]
