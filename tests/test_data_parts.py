"""The corpus and dedup stages as parts (the scale design): a corpus read as 1 part and as 8
parts gives the same corpus stats, the same capped selection, the same kept and removed documents,
and the same as the one-process path (`codescale corpus` without --part, then dedup_table).

The corpus is generated here: 8 shard files in The Stack v2's layout (blob_id, repo_name, path,
language, content) with exact and near duplicates planted across shards, files every filter
drops, a blob_id repeated in a later shard, and a cap that leaves some files over it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codescale.cli import main
from codescale.data import corpus as cs_corpus
from codescale.data import readers
from codescale.data.dedup import dedup_table
from codescale.errors import CodescaleError

LANGS = ["python", "go"]
NAMES = {"python": "Python", "go": "Go"}
CAP = 100_000


def program(lang: str, seed: int, lines: int = 40) -> str:
    """A file whose identifiers make its shingles unique to (lang, seed)."""
    rng = random.Random(f"{lang}{seed}")
    words = [f"v{seed}_{rng.randrange(10**6)}" for _ in range(30)]
    body = []
    for i in range(lines):
        x, y, z = rng.sample(words, 3)
        body.append(f"{x} = {y}({z}, {rng.randrange(1000)}) + a[{i}]")
    if lang == "python":
        return f"def f_{seed}(a):\n" + "".join(f"    {b}\n" for b in body) + "    return a\n"
    return f"func f{seed}(a []int) int {{\n" + "".join(f"\t{b}\n" for b in body) + "\treturn 0\n}\n"


def mutate(text: str, seed: int) -> str:
    """Two lines replaced: a near duplicate (Jaccard about 0.85)."""
    rng = random.Random(seed)
    lines = text.split("\n")
    for k in rng.sample(range(1, len(lines) - 3), 2):
        lines[k] = f"    changed_{seed}_{k} = other(a)"
    return "\n".join(lines)


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """8 shard files of about the same size; duplicates planted across them."""
    root = tmp_path_factory.mktemp("stack") / "data"
    root.mkdir()
    rows: list[list[dict]] = [[] for _ in range(8)]
    n = 0
    for lang in LANGS:
        docs = [program(lang, i) for i in range(48)]
        docs += [docs[3].replace("\n", "\r\n"), docs[3] + "\n\n"]  # exact (normalised)
        docs += [mutate(docs[5], 1), mutate(docs[7], 2)]  # near
        docs += ["", "\x00\x01" * 40, "x" * 5000]  # empty, binary, one line over 1000
        for i, content in enumerate(docs):
            shard = (i * 5) % 8  # a duplicate lands in another shard than its original
            rows[shard].append({"blob_id": f"b{n:05d}", "repo_name": f"org/{lang}-{i % 9}",
                                "path": f"src/f{i}.{'py' if lang == 'python' else 'go'}",
                                "language": NAMES[lang], "content": content})  # fmt: skip
            n += 1
    # a blob_id repeated in a later shard (a re-crawl): the first copy stays
    rows[6].append({**rows[1][0], "repo_name": "fork/again"})
    for k, part in enumerate(rows):
        pq.write_table(pa.Table.from_pylist(part), root / f"train-{k:05d}.parquet")
    return root


def run_parts(shards: Path, out: Path, part_mb: float) -> dict:
    """Corpus parts -> gather -> dedup signatures -> cluster -> filter, each through the CLI."""
    files = cs_corpus.input_files("shards", [str(shards)], LANGS, readers.EXTENSION_LANGUAGE)
    groups = cs_corpus.part_groups(files, part_mb)
    base = ["--source", "shards", "--paths", str(shards), "--languages", *LANGS]
    for part in groups:
        argv = [*base, "--part", part, "--part-mb", str(part_mb), "--out-dir", str(out / part)]
        assert main(["corpus", *argv]) == 0
    parts = [str(out / p) for p in groups]
    gather = ["--parts", *parts, "--languages", *LANGS, "--out-dir", str(out / "corpus")]
    assert main(["corpus-gather", *gather, "--cap-bytes-per-language", str(CAP)]) == 0
    selection = str(out / "corpus" / "selection.json")
    result: dict = {
        "parts": len(groups),
        "corpus": json.loads((out / "corpus/stats.json").read_text()),
    }
    for lang in LANGS:
        d = out / "dedup" / lang
        sigs = []
        for part in groups:
            sig = str(d / f"{part}.sig.parquet")
            argv = ["--input", str(out / part / f"{lang}.parquet"), "--selection", selection,
                    "--lang", lang, "--part", part]  # fmt: skip
            assert main(["dedup-signatures", *argv, "--output", sig]) == 0
            sigs.append(sig)
        removed_all = str(d / "removed.parquet")
        stats = str(d / "stats.json")
        corpora = [str(out / part / f"{lang}.parquet") for part in groups]
        assert main(["dedup-cluster", "--signatures", *sigs, "--corpus", *corpora,
                     "--removed", removed_all, "--stats", stats]) == 0  # fmt: skip
        kept, removed = [], []
        for part in groups:
            argv = ["--input", str(out / part / f"{lang}.parquet"), "--selection", selection,
                    "--lang", lang, "--part", part, "--removed-all", removed_all]  # fmt: skip
            argv += ["--output", str(d / f"{part}.parquet")]
            assert (
                main(["dedup-filter", *argv, "--removed", str(d / f"{part}.removed.parquet")]) == 0
            )
            kept += pq.read_table(d / f"{part}.parquet").to_pylist()
            removed += pq.read_table(d / f"{part}.removed.parquet").to_pylist()
        dstats = json.loads(Path(stats).read_text())
        result[lang] = {
            "kept": sorted(kept, key=lambda r: r["doc_id"]),
            "removed": sorted(removed, key=lambda r: r["doc_id"]),
            "stats": {k: v for k, v in dstats.items() if k not in ("input", "seconds", "parts")},
        }
    return result


@pytest.fixture(scope="module")
def one_and_eight(shards, tmp_path_factory) -> tuple[dict, dict]:
    out = tmp_path_factory.mktemp("parts")
    return run_parts(shards, out / "one", 1000.0), run_parts(shards, out / "eight", 0.004)


def test_one_part_and_eight_parts_agree(one_and_eight):
    one, eight = one_and_eight
    assert (one["parts"], eight["parts"]) == (1, 8)
    assert one["corpus"] == eight["corpus"]
    for lang in LANGS:
        assert [r["doc_id"] for r in one[lang]["kept"]] == [
            r["doc_id"] for r in eight[lang]["kept"]
        ]
        assert one[lang]["kept"] == eight[lang]["kept"]  # every column, row for row
        assert one[lang]["removed"] == eight[lang]["removed"]
        assert one[lang]["stats"] == eight[lang]["stats"]
        st = one["corpus"][lang]
        # the filters, the repeated blob_id and the cap all acted
        assert st["empty"]["files"] == 1 and st["binary"]["files"] == 1
        assert st["duplicate_id"]["files"] == (1 if lang == "python" else 0)
        assert st["over_cap"]["files"] > 0 and st["kept"]["bytes"] <= CAP
        assert st["seen"]["files"] == sum(
            v["files"] for k, v in st.items() if k not in ("seen", "kept", "over_cap",
                                                            "fallback_decoded", "bom_decoded",
                                                            "non_utf8_names")
        )  # fmt: skip


def test_parts_equal_the_one_process_path(shards, one_and_eight, tmp_path):
    one, _ = one_and_eight
    out = tmp_path / "legacy"
    argv = ["--source", "shards", "--paths", str(shards), "--languages", *LANGS]
    assert main(["corpus", *argv, "--cap-bytes-per-language", str(CAP), "--out-dir", str(out)]) == 0
    assert json.loads((out / "stats.json").read_text()) == one["corpus"]
    for lang in LANGS:
        kept, removed, _ = dedup_table(pq.read_table(out / f"{lang}.parquet"))
        assert sorted(kept.column("doc_id").to_pylist()) == [r["doc_id"] for r in one[lang]["kept"]]
        assert removed.to_pylist() == [{k: v for k, v in r.items()} for r in one[lang]["removed"]]


def test_planted_duplicates_are_removed_with_their_reason(one_and_eight):
    one, _ = one_and_eight
    for lang in LANGS:
        stats = one[lang]["stats"]
        kept_ids = {r["doc_id"] for r in one[lang]["kept"]}
        for r in one[lang]["removed"]:
            assert r["representative"] in kept_ids  # never removed for a removed document
            assert r["jaccard"] == 1.0 if r["reason"] == "exact" else 0.7 <= r["jaccard"] < 1.0
        # planted: 2 exact copies and 2 near copies per language (all under the cap)
        assert [r["reason"] for r in one[lang]["removed"]] == ["exact"] * 2 + ["near"] * 2
        assert stats["removed"]["exact"]["docs"] == 2 and stats["removed"]["near"]["docs"] == 2
        assert stats["docs_in"] == stats["docs_out"] + len(one[lang]["removed"])
        assert stats["params"]["verification"].startswith("exact Jaccard of the shingle sets")


def test_part_groups_never_split_a_file_and_keep_the_order():
    files = [("a", 300), ("b", 300), ("c", 5000), ("d", 10), ("e", 10)]
    groups = cs_corpus.part_groups(files, 700 / 2**20)
    assert groups == {"p00000": ["a", "b"], "p00001": ["c"], "p00002": ["d", "e"]}
    assert cs_corpus.part_groups([], 1.0) == {"p00000": []}
    with pytest.raises(CodescaleError, match="part_mb"):
        cs_corpus.part_groups(files, 0)


def test_a_part_streams_its_documents_in_row_groups(shards, tmp_path, monkeypatch):
    """A part holds one write buffer per language, not the part: many row groups."""
    monkeypatch.setattr(cs_corpus, "PART_FLUSH_BYTES", 4000)
    argv = ["--source", "shards", "--paths", str(shards), "--languages", *LANGS]
    assert main(["corpus", *argv, "--part", "p00000", "--out-dir", str(tmp_path)]) == 0
    pf = pq.ParquetFile(tmp_path / "python.parquet")
    assert pf.num_row_groups >= 10 and pf.metadata.num_rows >= 50
    assert pf.schema_arrow.names == [*cs_corpus.COLUMNS, *cs_corpus.PART_EXTRA]


def test_part_errors_name_what_is_wrong(shards, tmp_path, capsys):
    argv = ["--source", "shards", "--paths", str(shards), "--out-dir", str(tmp_path)]
    assert main(["corpus", *argv, "--part", "p00009", "--part-mb", "0.004"]) == 2
    assert "--part p00009: the corpus has 8 part(s) (p00000..p00007)" in capsys.readouterr().err
    assert (
        main(["corpus-gather", "--parts", str(tmp_path / "none"), "--out-dir", str(tmp_path)]) == 2
    )
    assert "none: stats.json is missing" in capsys.readouterr().err
    plain = tmp_path / "plain.parquet"  # a corpus file of the one-process path: no keys
    pq.write_table(pa.table({"doc_id": ["a"], "content": ["x = 1"], "n_bytes": [5]}), plain)
    argv = ["--input", str(plain), "--lang", "go", "--part", "p00000"]
    assert main(["dedup-signatures", *argv, "--output", str(tmp_path / "s.parquet")]) == 2
    assert "plain.parquet: missing column(s) sel_hi, sel_lo" in capsys.readouterr().err
    argv = ["--signatures", "a", "--corpus", "b", "c", "--removed", "r", "--stats", "s"]
    assert main(["dedup-cluster", *argv]) == 2
    assert "--corpus names 2 parts, --signatures 1" in capsys.readouterr().err


def test_a_directory_corpus_in_parts_equals_one_process(tmp_path):
    """Folders: regular files are cut into parts, symlinks (and special files) are counted by
    the first part, names that are not UTF-8 are read by their part."""
    src = tmp_path / "src"
    shutil.copytree(Path(__file__).parent / "data" / "corpus", src)
    repo = next(p for p in sorted(src.iterdir()) if p.is_dir())
    (repo / "link.py").symlink_to(next(repo.rglob("*.*")))
    with open(os.path.join(os.fsencode(repo), b"caf\xe9.py"), "w") as fh:
        fh.write("def f(x):\n    return x + 1\n")
    argv = ["--source", "directory", "--paths", str(src), "--languages", "python", "go"]
    cap = ["--cap-bytes-per-language", "30000"]
    assert main(["corpus", *argv, *cap, "--out-dir", str(tmp_path / "one")]) == 0
    files = cs_corpus.input_files("directory", [str(src)], ["python", "go"],
                                  readers.EXTENSION_LANGUAGE)  # fmt: skip
    groups = cs_corpus.part_groups(files, 0.02)
    assert len(groups) >= 4
    for part in groups:
        out = str(tmp_path / part)
        assert main(["corpus", *argv, "--part", part, "--part-mb", "0.02", "--out-dir", out]) == 0
    parts = [str(tmp_path / p) for p in groups]
    gather = ["--parts", *parts, "--languages", "python", "go", "--out-dir", str(tmp_path / "g")]
    assert main(["corpus-gather", *gather, *cap]) == 0
    one = json.loads((tmp_path / "one" / "stats.json").read_text())
    assert json.loads((tmp_path / "g" / "stats.json").read_text()) == one
    assert one["python"]["symlink"]["files"] == 1 and one["python"]["non_utf8_names"]["files"] == 1
    selection = json.loads((tmp_path / "g" / "selection.json").read_text())
    for lang in ("python", "go"):
        kept = []
        for part in groups:
            t = pq.read_table(tmp_path / part / f"{lang}.parquet")
            mask = cs_corpus.selected(t, selection[lang], part)
            kept += [i for i, k in zip(t.column("doc_id").to_pylist(), mask, strict=True) if k]
        expected = pq.read_table(tmp_path / "one" / f"{lang}.parquet").column("doc_id")
        assert sorted(kept) == sorted(expected.to_pylist())
