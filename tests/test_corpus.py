"""The corpus stage: directory/shard/registry readers, the deterministic cap, outputs and errors."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codescale import LANGUAGES
from codescale.cli import main
from codescale.data import registry
from codescale.data.corpus import COLUMNS, CapSelector, Doc
from codescale.errors import CodescaleError

FIXTURE = Path(__file__).parent / "data" / "corpus"
PY = "import os\n\n\ndef main():\n    return os.getcwd()\n"
GO = "package main\n\nfunc main() {\n\tprintln(1)\n}\n"


def corpus(*argv: str) -> int:
    return main(["corpus", *argv])


def read(out: Path, lang: str) -> list[dict]:
    return pq.read_table(out / f"{lang}.parquet").to_pylist()


def test_fixture_corpus_via_directory_source(tmp_path):
    out = tmp_path / "corpus"
    argv = ["--source", "directory", "--paths", str(FIXTURE), "--out-dir", str(out)]
    assert corpus(*argv, "--cap-bytes-per-language", "0") == 0
    stats = json.loads((out / "stats.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(stats) == list(LANGUAGES)
    for lang in LANGUAGES:
        rows = read(out, lang)
        assert pq.read_schema(out / f"{lang}.parquet").names == list(COLUMNS)
        assert 40_000 <= sum(r["n_bytes"] for r in rows) <= 80_000, lang
        assert len({r["repo"] for r in rows}) >= 4, lang
        assert len({r["doc_id"] for r in rows}) == len(rows)
        for r in rows:
            assert r["lang"] == lang and r["source"] == "directory:corpus"
            assert r["repo"] == r["path"].split("/")[0]  # a top-level folder is a repository
            data = r["content"].encode()
            assert r["n_bytes"] == len(data) and r["sha256"] == hashlib.sha256(data).hexdigest()
        assert stats[lang]["kept"]["files"] == len(rows)
    # the Latin-1 nunit file is decoded with the fallback, counted and kept
    assert stats["csharp"]["fallback_decoded"] == {"files": 1, "bytes": 2511, "kept": 1}
    latin = [r for r in read(out, "csharp") if r["path"] == "cs-nunit-pnunit/agent/AssemblyInfo.cs"]
    assert "informaci\u00f3n" in latin[0]["content"]
    assert manifest["source"] == "directory" and manifest["inputs"][0]["kept"]["go"]["files"] > 0


def test_cap_is_a_deterministic_prefix(tmp_path):
    def kept(cap: int) -> list[dict]:
        out = tmp_path / f"cap{cap}"
        argv = ["--source", "directory", "--paths", str(FIXTURE), "--out-dir", str(out)]
        assert corpus(*argv, "--languages", "rust", "--cap-bytes-per-language", str(cap)) == 0
        return read(out, "rust")

    small, big = kept(15_000), kept(30_000)
    assert sum(r["n_bytes"] for r in small) <= 15_000 < sum(r["n_bytes"] for r in big) <= 30_000
    assert {r["doc_id"] for r in small} < {r["doc_id"] for r in big}
    stats = json.loads((tmp_path / "cap15000" / "stats.json").read_text())["rust"]
    assert stats["over_cap"]["files"] == stats["passed_filters"]["files"] - len(small) > 0


def test_cap_selector_ignores_offer_order():
    docs = [
        Doc(f"d{i}", "go", "r", f"p{i}", "x", n, "", "s", "o", False, n)
        for i, n in enumerate(random.Random(0).choices(range(1, 50), k=200))
    ]
    keys = {d.doc_id: hashlib.blake2b(d.doc_id.encode(), digest_size=16).digest() for d in docs}
    results = []
    for seed in range(3):
        order = docs[:]
        random.Random(seed).shuffle(order)
        sel = CapSelector(500)
        for d in order:
            sel.offer(keys[d.doc_id], d)
        results.append([d.doc_id for d in sel.docs()])
    assert results[0] == results[1] == results[2]
    by_key = sorted(docs, key=lambda d: keys[d.doc_id])
    total, prefix = 0, []
    for d in by_key:  # the longest prefix in key order that fits
        if total + d.n_bytes > 500:
            break
        total += d.n_bytes
        prefix.append(d.doc_id)
    assert results[0] == sorted(prefix)


def test_filters_are_counted_per_language(tmp_path):
    repo = tmp_path / "src" / "repo1"
    repo.mkdir(parents=True)
    (repo / "ok.py").write_text(PY)
    (repo / "empty.py").write_text("")
    (repo / "blob.py").write_bytes(b"\x00\x01" * 10)
    (repo / "big.py").write_text(PY * 100)
    (repo / "gen.py").write_text("# auto-generated, do not edit\nX = 1\n")
    (repo / "latin.py").write_bytes("# caf\u00e9\nA = 1\n".encode("latin-1"))
    (repo / "notes.txt").write_text("not code")
    out = tmp_path / "out"
    argv = ["--source", "directory", "--paths", str(tmp_path / "src"), "--out-dir", str(out)]
    assert corpus(*argv, "--languages", "python", "--max-file-bytes", "1000") == 0
    st = json.loads((out / "stats.json").read_text())["python"]
    assert st["seen"]["files"] == 6  # notes.txt is no candidate
    for reason in ("empty", "binary", "too_large", "minified_or_generated"):
        assert st[reason]["files"] == 1, reason
    assert st["kept"]["files"] == 2 and st["fallback_decoded"]["kept"] == 1
    assert sorted(r["path"] for r in read(out, "python")) == ["repo1/latin.py", "repo1/ok.py"]


def _write_shards(tmp_path: Path) -> Path:
    shards = tmp_path / "shards"
    shards.mkdir()
    table = pa.table(
        {
            "src": [PY, GO, "", "fn main() {}\n"],
            "repository": ["a/b", "c/d", "a/b", "e/f"],
            "filepath": ["x.py", "main.go", "empty.py", "main.rs"],
            "lang_name": ["Py3", "Go", "Py3", "Rust"],
        }
    )
    pq.write_table(table, shards / "part-0.parquet")
    rows = [
        {"content": PY + "x = 2\n", "repo_name": "g/h", "path": "y.py", "language": "Python"},
        {"content": GO, "repo_name": "g/h", "path": "z.go", "language": "Go"},
    ]
    with gzip.open(shards / "part-1.jsonl.gz", "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows) + "\n")
    return shards


def test_shard_reader_custom_columns_and_language_map(tmp_path):
    shards = _write_shards(tmp_path)
    out = tmp_path / "out"
    argv = ["--source", "shards", "--paths", str(shards / "part-0.parquet"), "--out-dir", str(out)]
    argv += ["--languages", "python", "go", "--column", "content=src", "repo=repository"]
    argv += ["--column", "path=filepath", "language=lang_name", "--language-map", "Py3=python"]
    assert corpus(*argv) == 0
    py = read(out, "python")
    assert [(r["repo"], r["path"], r["content"]) for r in py] == [("a/b", "x.py", PY)]
    assert py[0]["doc_id"] == "part-0.parquet#0" and py[0]["source"] == "shards:part-0.parquet"
    assert read(out, "go")[0]["repo"] == "c/d"
    assert json.loads((out / "stats.json").read_text())["python"]["empty"]["files"] == 1


def test_shard_reader_jsonl_default_columns(tmp_path):
    shards = _write_shards(tmp_path)
    out = tmp_path / "out"
    argv = ["--source", "shards", "--paths", str(shards / "part-1.jsonl.gz"), "--out-dir", str(out)]
    assert corpus(*argv, "--languages", "python", "go") == 0
    assert [r["path"] for r in read(out, "python")] == ["y.py"]
    assert [r["repo"] for r in read(out, "go")] == ["g/h"]


def test_shard_reader_names_a_missing_column(tmp_path, capsys):
    shards = _write_shards(tmp_path)
    argv = ["--source", "shards", "--paths", str(shards / "part-0.parquet")]
    assert corpus(*argv, "--out-dir", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert "part-0.parquet: no content column" in err and "--column content=NAME" in err


def test_empty_language_is_an_error_naming_it(tmp_path, capsys):
    (tmp_path / "src" / "repo").mkdir(parents=True)
    (tmp_path / "src" / "repo" / "a.py").write_text(PY)
    (tmp_path / "src" / "repo" / "b.rs").write_text("")
    out = tmp_path / "out"
    argv = ["--source", "directory", "--paths", str(tmp_path / "src"), "--out-dir", str(out)]
    assert corpus(*argv, "--languages", "python", "rust", "go") == 2
    err = capsys.readouterr().err
    assert err.startswith("codescale corpus: error: no documents kept for language(s) go, rust")
    assert "(go: 0 candidate files; rust: 1 candidate files, empty 1)" in err
    assert not out.exists()  # nothing half-written


def test_missing_input_path_is_an_error(tmp_path, capsys):
    missing = tmp_path / "nope"
    argv = ["--source", "directory", "--paths", str(missing), "--out-dir", str(tmp_path / "o")]
    assert corpus(*argv) == 2
    assert f"input path does not exist: {missing}" in capsys.readouterr().err


def test_bad_flags_are_errors(tmp_path, capsys):
    base = ["--source", "directory", "--paths", str(FIXTURE), "--out-dir", str(tmp_path)]
    assert corpus(*base, "--languages", "cobol") == 2
    assert corpus(*base, "--fallback-encoding", "klingon") == 2
    assert corpus(*base, "--language-map", ".tsx=jsx") == 2
    err = capsys.readouterr().err
    assert "unknown ['cobol']" in err and "unknown encoding" in err and ".tsx=jsx" in err


# -- registry, offline: the archive reading, roots, repos and validation ---------------------


def _npm_like_tgz(path: Path) -> None:
    files = {
        "package/src/index.ts": b"export const a: number = 1;\n",
        "package/src/util/str.ts": b"export function up(s: string) { return s.toUpperCase(); }\n",
        "package/src/util/str.test.ts": b"import { up } from './str';\nup('a');\n",
        "package/src/types.d.ts": b"export declare const a: number;\n",
        "package/dist/index.js": b"exports.a = 1;\n",
    }
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def test_registry_candidates_from_an_archive(tmp_path):
    tgz = tmp_path / "demo-1.0.0.tgz"
    _npm_like_tgz(tgz)
    spec = registry.SourceSpec(
        package="demo", kind="npm", lang="typescript", license="MIT", version="1.0.0",
        root="*", include=("src/",), exclude=("*.test.ts",), repo_depth=2,
    )  # fmt: skip
    dl = registry.Download("demo", "1.0.0", "npm", tgz, "0" * 64, tgz.stat().st_size, "MIT")
    cands = {c.path: c for c in registry.registry_candidates([spec], {spec.key: [dl]})}
    assert sorted(cands) == ["src/index.ts", "src/types.d.ts", "src/util/str.ts"]
    assert cands["src/util/str.ts"].repo == "demo/src/util"
    assert cands["src/index.ts"].repo == "demo/src/index.ts"  # above repo_depth: its own repo
    assert cands["src/index.ts"].doc_id == "demo/src/index.ts"
    assert cands["src/index.ts"].source == "npm:demo@1.0.0"
    empty = registry.SourceSpec("demo", "npm", "typescript", "MIT", root="*", include=("lib/",))
    with pytest.raises(CodescaleError, match="no typescript files under root"):
        list(registry.registry_candidates([empty], {empty.key: [dl]}))


def test_packaged_sources_cover_every_language():
    specs = registry.load_sources()
    assert {s.lang for s in specs} == set(LANGUAGES)
    assert all(s.version for s in specs if s.kind == "npm")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("sources: [{package: x, kind: pip, lang: go, license: MIT}]", "kind: 'pip'"),
        ("sources: [{package: x, kind: npm, lang: go, license: MIT}]", "must pin an exact version"),
        ("sources: [{package: x, kind: deb, lang: go}]", "sources[0].license: required"),
        ("sources: [{package: x, kind: deb, lang: go, license: MIT, depth: 2}]", "unknown keys"),
        ("nothing: here", "expected a mapping with a list under 'sources'"),
    ],
)
def test_registry_sources_validation(tmp_path, body, message):
    f = tmp_path / "sources.yaml"
    f.write_text(body)
    with pytest.raises(CodescaleError, match=message.replace("[", r"\[").replace("(", r"\(")):
        registry.load_sources(f)


@pytest.mark.network
def test_registry_build_small(tmp_path, monkeypatch):
    """Real downloads: a Debian binary, a Debian source (private apt state) and an npm package,
    into a download dir given relative to the working directory (as the workflow gives it)."""
    monkeypatch.chdir(tmp_path)
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        "  - {package: libpython3.11-minimal, kind: deb, lang: python, license: PSF-2.0,\n"
        "     root: usr/lib/python3.11, repo_depth: 1}\n"
        "  - {package: dnlib, kind: deb-src, lang: csharp, license: MIT,\n"
        "     root: '*', repo_depth: 3}\n"
        "  - {package: lodash, version: 4.18.1, kind: npm, lang: javascript, license: MIT,\n"
        "     root: '*', exclude: ['/lodash.js', '/core.js', '/fp/*'], repo_depth: 1}\n"
    )
    out, dl = Path("corpus"), Path("downloads")
    argv = ["--registry-sources", str(sources), "--download-dir", str(dl), "--out-dir", str(out)]
    argv += ["--languages", "python", "javascript", "csharp", "--cap-bytes-per-language", "200000"]
    assert corpus(*argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    rows = {d["package"]: d for d in manifest["downloads"]}
    assert set(rows) == {"libpython3.11-minimal", "dnlib", "lodash"}
    assert rows["lodash"]["version"] == "4.18.1" and rows["dnlib"]["kind"] == "deb-src"
    for name, lang in [("libpython3.11-minimal", "python"), ("dnlib", "csharp")]:
        assert rows[name]["kept"][lang]["files"] > 0
        assert len(rows[name]["sha256"]) == 64 and rows[name]["version"]
    for lang in ("python", "javascript", "csharp"):
        docs = read(out, lang)
        assert 150_000 < sum(r["n_bytes"] for r in docs) <= 200_000
    for r in read(out, "python"):  # repo_depth 1: a stdlib package folder, or a lone module
        assert r["repo"] == "libpython3.11-minimal/" + r["path"].split("/")[0]
    # a rerun is served from the cache and gives identical documents
    first = {lang: read(out, lang) for lang in ("python", "csharp")}
    mtimes = {p: p.stat().st_mtime_ns for p in dl.glob("*/*.*") if p.suffix != ".json"}
    assert corpus(*argv) == 0
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    assert {lang: read(out, lang) for lang in ("python", "csharp")} == first
