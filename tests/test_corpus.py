"""The corpus stage: directory/shard/registry readers, the deterministic cap, outputs and errors."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codescale import LANGUAGES
from codescale.cli import main
from codescale.data import registry
from codescale.data.corpus import COLUMNS, CapSelector, Doc
from codescale.data.filters import REASONS
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
    # the config key a workflow user sets, then the flag of the command line
    assert "part-0.parquet: no content column (looked for content, text, code)" in err
    assert "set corpus.columns.content to the column holding the file's text" in err
    assert "(--column content=NAME on the command line)" in err
    assert "its columns are src, repository, filepath, lang_name" in err


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
    # as the workflow runs it: one part (the registry is one), then the gather's cap
    part = [a if a != str(out) else "part/p00000" for a in argv if a != "200000"]
    part.remove("--cap-bytes-per-language")
    assert corpus(*part, "--part", "p00000") == 0
    langs = ["python", "javascript", "csharp"]
    gather = ["--parts", "part/p00000", "--languages", *langs, "--out-dir", "gathered"]
    assert main(["corpus-gather", *gather, "--cap-bytes-per-language", "200000"]) == 0
    assert json.loads(Path("gathered/stats.json").read_text()) == json.loads(
        (out / "stats.json").read_text()
    )
    gathered = json.loads(Path("gathered/manifest.json").read_text())
    assert gathered["downloads"] == manifest["downloads"]


# -- bad input: a clear error or a counted skip, never a traceback or a silent loss -----------


def assert_every_file_counted(st: dict) -> None:
    """stats.json of one language: every file seen sits under exactly one reason or passed, and
    every passed file is kept or over the cap."""
    reasons = sum(st[r]["files"] for r in REASONS)
    assert st["seen"]["files"] == reasons + st["passed_filters"]["files"], st
    assert st["passed_filters"]["files"] == st["kept"]["files"] + st["over_cap"]["files"], st


def _directory(tmp_path: Path, *argv: str) -> tuple[dict, list[dict]]:
    out = tmp_path / "out"
    args = ["--source", "directory", "--paths", str(tmp_path / "src"), "--out-dir", str(out)]
    assert corpus(*args, "--languages", "python", *argv) == 0
    return json.loads((out / "stats.json").read_text())["python"], read(out, "python")


def test_every_kind_of_file_is_counted_under_exactly_one_reason(tmp_path):
    repo = tmp_path / "src" / "repo1"
    repo.mkdir(parents=True)
    files = {
        "ok.py": PY.encode(),
        "ok2.py": (PY + "x = 2\n").encode(),  # passes, but over the cap
        "empty.py": b"",
        "blank.py": b" \n\n",
        "big.py": PY.encode() * 100,
        "blob.py": b"\x00\x01" * 10,
        "latin.py": "# caf\u00e9\nA = 1\n".encode("latin-1"),  # undecodable without fallback
        "gen.py": b"# @generated by a tool\nX = 1\n",
    }
    for name, data in files.items():
        (repo / name).write_bytes(data)
    (repo / "link.py").symlink_to("ok.py")
    os.mkfifo(repo / "pipe.py")
    st, rows = _directory(
        tmp_path, "--max-file-bytes", "1000", "--fallback-encoding", "none",
        "--cap-bytes-per-language", str(len(PY) + 1),
    )  # fmt: skip
    assert_every_file_counted(st)
    assert st["seen"]["files"] == len(files) + 2
    expected = {"symlink": 1, "unreadable": 1, "empty": 2, "too_large": 1, "binary": 1}
    expected |= {"undecodable": 1, "minified_or_generated": 1, "duplicate_id": 0}
    assert {r: st[r]["files"] for r in REASONS} == expected
    passed, kept, over = (st[k]["files"] for k in ("passed_filters", "kept", "over_cap"))
    assert (passed, kept, over) == (2, 1, 1)
    assert [r["path"] for r in rows] == ["repo1/ok.py"]


def test_a_file_name_that_is_not_utf8_is_read_and_named_safely(tmp_path, caplog):
    folder = os.path.join(os.fsencode(tmp_path), b"src", b"caf\xe9")
    os.makedirs(folder)
    with open(os.path.join(folder, b"na\xefve.py"), "wb") as fh:
        fh.write(PY.encode())
    with open(os.path.join(folder, b"plain.py"), "wb") as fh:
        fh.write(PY.encode() + b"y = 1\n")
    st, rows = _directory(tmp_path)
    assert sorted((r["repo"], r["path"], r["doc_id"]) for r in rows) == [
        ("caf\\xe9", "caf\\xe9/na\\xefve.py", "src/caf\\xe9/na\\xefve.py"),
        ("caf\\xe9", "caf\\xe9/plain.py", "src/caf\\xe9/plain.py"),
    ]
    assert st["kept"]["files"] == 2 and st["non_utf8_names"]["files"] == 2  # folder name too
    assert "file name is not UTF-8, read as 'caf\\\\xe9/na\\\\xefve.py'" in caplog.text


def test_symlinks_are_never_followed_and_counted(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text(PY)
    repo, other = tmp_path / "src" / "repo1", tmp_path / "src" / "repo2"
    repo.mkdir(parents=True)
    other.mkdir()
    (repo / "real.py").write_text(PY)
    (other / "other.py").write_text(PY + "z = 3\n")
    (repo / "inside.py").symlink_to("real.py")  # to a file in the corpus
    (repo / "out.py").symlink_to(outside / "secret.py")  # outside the root
    (repo / "loop_a.py").symlink_to("loop_b.py")  # a loop
    (repo / "loop_b.py").symlink_to("loop_a.py")
    (repo / "dangling.py").symlink_to("missing.py")
    (repo / "folder").symlink_to(other, target_is_directory=True)  # not descended
    (repo / "up").symlink_to(tmp_path / "src", target_is_directory=True)  # a folder loop
    st, rows = _directory(tmp_path)
    assert_every_file_counted(st)
    assert st["symlink"]["files"] == 5 and st["seen"]["files"] == 7
    assert sorted(r["path"] for r in rows) == ["repo1/real.py", "repo2/other.py"]


def test_a_400_mb_file_is_skipped_by_its_size_before_reading(tmp_path):
    """A sparse file (no disk, instant): the corpus process's peak RSS stays that of a run
    without it (measured: about +0 MB; reading it would add 400 MB)."""
    repo = tmp_path / "src" / "repo1"
    repo.mkdir(parents=True)
    (repo / "ok.py").write_text(PY)
    code = (
        "import resource, sys\nfrom codescale.cli import main\nrc = main(sys.argv[1:])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(rc)\n"
    )

    def peak_mb(out: str) -> float:
        argv = ["corpus", "--source", "directory", "--paths", str(tmp_path / "src")]
        argv += ["--languages", "python", "--out-dir", str(tmp_path / out)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                              text=True, timeout=120, env=env)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return int(proc.stdout.split()[-1]) / 1024

    base = peak_mb("base")
    with open(repo / "huge.py", "wb") as fh:
        fh.truncate(400_000_000)
    with_huge = peak_mb("huge")
    st = json.loads((tmp_path / "huge" / "stats.json").read_text())["python"]
    assert st["too_large"] == {"files": 1, "bytes": 400_000_000} and st["kept"]["files"] == 1
    assert with_huge - base < 30, (base, with_huge)
    print(f"peak RSS: {base:.0f} MB without, {with_huge:.0f} MB with the 400 MB file")


def _unprivileged(argv: list[str]) -> list[str]:
    """`argv` run as a user who cannot read mode-000 files: root reads them anyway, so as root
    drop to nobody (setpriv); skip when that is impossible here."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: mode 000 files stay readable")
    cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    probe = subprocess.run([*cmd[:-len(argv)], sys.executable, "-c", "import codescale.cli"],
                           capture_output=True, timeout=60)  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"user nobody cannot run this Python: {probe.stderr.decode()[-300:]}")
    return cmd


def test_unreadable_files_and_folders_are_counted_or_reported():
    top = tempfile.mkdtemp(prefix="codescale-unreadable-")  # under /tmp: nobody can enter it
    try:
        os.chmod(top, 0o777)
        repo = Path(top, "src", "repo1")
        (repo / "locked").mkdir(parents=True)
        os.chmod(Path(top, "src"), 0o755)
        os.chmod(repo, 0o755)
        (repo / "ok.py").write_text(PY)
        (repo / "secret.py").write_text(PY + "s = 1\n")
        (repo / "locked" / "inner.py").write_text(PY)
        os.chmod(repo / "secret.py", 0o000)
        os.chmod(repo / "locked", 0o000)
        argv = [sys.executable, "-c", "import sys; from codescale.cli import main; "
                "sys.exit(main(sys.argv[1:]))", "corpus", "--source", "directory",
                "--paths", str(Path(top, "src")), "--languages", "python",
                "--out-dir", str(Path(top, "out"))]  # fmt: skip
        env = {**os.environ, "HOME": top, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(_unprivileged(argv), capture_output=True, text=True, timeout=120,
                              env=env, cwd=top)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        st = json.loads(Path(top, "out", "stats.json").read_text())["python"]
        assert_every_file_counted(st)
        assert st["unreadable"] == {"files": 1, "bytes": len(PY) + 6} and st["kept"]["files"] == 1
        manifest = json.loads(Path(top, "out", "manifest.json").read_text())
        assert manifest["unlisted_folders"] == [f"{repo / 'locked'} (Permission denied)"]
        assert "unreadable file 'repo1/secret.py'" in proc.stderr
        assert f"cannot list folder {repo / 'locked'}" in proc.stderr
    finally:
        if Path(top, "src", "repo1", "locked").exists():
            os.chmod(Path(top, "src", "repo1", "locked"), 0o755)
        shutil.rmtree(top)


def test_utf16_files_with_a_bom_are_decoded_and_kept(tmp_path):
    repo = tmp_path / "src" / "repo1"
    repo.mkdir(parents=True)
    (repo / "wide.py").write_bytes(PY.encode("utf-16"))  # with its BOM
    (repo / "plain.py").write_text(PY + "q = 1\n")
    st, rows = _directory(tmp_path)
    assert {r["path"]: r["content"] for r in rows}["repo1/wide.py"] == PY
    assert st["binary"]["files"] == 0 and st["bom_decoded"]["files"] == 1
    assert st["kept"] == {"files": 2, "bytes": 2 * len(PY) + 6}


def test_directory_roots_with_the_same_name_are_an_error(tmp_path, capsys):
    for parent in ("a", "b"):
        (tmp_path / parent / "src" / "r").mkdir(parents=True)
        (tmp_path / parent / "src" / "r" / "m.py").write_text(PY)
    argv = ["--source", "directory", "--paths", str(tmp_path / "a" / "src")]
    argv += [str(tmp_path / "b" / "src"), "--out-dir", str(tmp_path / "o")]
    assert corpus(*argv, "--languages", "python") == 2
    assert "corpus.paths: two folders are named 'src'" in capsys.readouterr().err


def test_repeated_ids_are_counted_and_the_first_is_kept(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    for part, content in enumerate((PY, PY + "# fork\n")):
        table = {"content": [content], "repo_name": [f"r{part}"], "path": ["m.py"],
                 "blob_id": ["same"]}  # fmt: skip
        pq.write_table(pa.table(table), shards / f"part-{part}.parquet")
    out = tmp_path / "out"
    argv = ["--source", "shards", "--paths", str(shards), "--languages", "python"]
    assert corpus(*argv, "--out-dir", str(out)) == 0
    st = json.loads((out / "stats.json").read_text())["python"]
    assert_every_file_counted(st)
    assert st["duplicate_id"]["files"] == 1
    assert [(r["doc_id"], r["repo"]) for r in read(out, "python")] == [("same", "r0")]


def test_broken_shards_are_errors_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.parquet").write_bytes(b"PAR1 not really")
    (bad / "b.jsonl.gz").write_bytes(b"\x1f\x8b\x08 truncated")
    for name in ("a.parquet", "b.jsonl.gz"):
        argv = ["--source", "shards", "--paths", str(bad / name), "--out-dir", str(tmp_path / "o")]
        assert corpus(*argv) == 2
        err = capsys.readouterr().err
        assert f"{bad / name}: not a readable" in err and "Traceback" not in err


def test_jsonl_bytes_that_are_not_utf8_use_the_fallback_encoding(tmp_path):
    shard = tmp_path / "part.jsonl"
    lines = [
        b'{"content": "# caf\xe9\\nx = 1\\n", "repo": "r", "path": "m.py", "id": "a"}\n',
        # a path that is not UTF-8, an id that is a lone surrogate (JSON escape)
        b'{"content": "y = 2\\n", "repo": "r\xe9", "path": "n\xe9.py", "id": "\\ud800"}\n',
    ]
    shard.write_bytes(b"".join(lines))
    out = tmp_path / "out"
    argv = ["--source", "shards", "--paths", str(shard), "--languages", "python"]
    assert corpus(*argv, "--out-dir", str(out)) == 0
    rows = {r["path"]: r for r in read(out, "python")}
    assert rows["m.py"]["content"] == "# caf\u00e9\nx = 1\n"
    assert (rows["n\\xe9.py"]["repo"], rows["n\\xe9.py"]["doc_id"]) == ("r\\xe9", "\\xed\\xa0\\x80")
    st = json.loads((out / "stats.json").read_text())["python"]
    assert st["fallback_decoded"]["kept"] == 1 and st["non_utf8_names"]["files"] == 1


def test_shard_files_whose_names_are_not_utf8_are_read(tmp_path):
    shards = os.fsencode(tmp_path / "shards")
    os.makedirs(shards)
    table = pa.table({"content": [PY], "repo_name": ["a/b"], "path": ["m.py"]})
    with open(os.path.join(shards, b"caf\xe9.parquet"), "wb") as fh:  # pyarrow cannot open it
        pq.write_table(table, fh)
    with open(os.path.join(shards, b"na\xefve.jsonl"), "w") as fh:
        fh.write(json.dumps({"content": PY + "y = 1\n", "repo": "c/d", "path": "n.py"}) + "\n")
    out = tmp_path / "out"
    argv = ["--source", "shards", "--paths", str(tmp_path / "shards"), "--languages", "python"]
    assert corpus(*argv, "--out-dir", str(out)) == 0
    rows = read(out, "python")
    assert [(r["doc_id"], r["source"]) for r in rows] == [
        ("caf\\xe9.parquet#0", "shards:caf\\xe9.parquet"),
        ("na\\xefve.jsonl#0", "shards:na\\xefve.jsonl"),
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [i["path"] for i in manifest["inputs"]] == [
        f"{tmp_path}/shards/caf\\xe9.parquet",
        f"{tmp_path}/shards/na\\xefve.jsonl",
    ]
