"""Real corpus layouts by config alone: The Stack v1, StarCoderData and The Stack v2 shards (our own
rows, tests/data/layouts, written by make_layouts.py) through `snakemake corpus`, with no column
named (detection), plus the errors a user gets: The Stack v2's main release (no content) and
`split.validation: 0` (rejected by the schema). The unit tests below cover what detection alone
cannot show: a named id column, per-language folders without ids, errors naming config keys.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO, snakemake

from codescale import config as cs_config
from codescale.cli import main

LAYOUTS = REPO / "tests" / "data" / "layouts"
LANGS = ("python", "java", "go")  # the smoke study's
EXT = {"python": ".py", "java": ".java", "go": ".go"}
PY = "def f(x):\n    return x + 1\n"
GO = "package main\n\nfunc f(x int) int {\n\treturn x + 1\n}\n"
JAVA = "class M {\n    static int f(int x) {\n        return x + 1;\n    }\n}\n"

# name -> (the config's corpus section, as a user writes it, relative to the repository)
CONFIGS = {
    "the-stack-v1": {"source": "shards", "paths": ["tests/data/layouts/the-stack-v1/data"]},
    "starcoderdata": {
        "source": "shards",
        "paths": ["tests/data/layouts/starcoderdata/*/*.parquet"],
        "columns": {"language": None},
    },
    "the-stack-v2": {"source": "shards", "paths": ["tests/data/layouts/the-stack-v2/*.parquet"]},
    "the-stack-v2-ids": {"source": "shards", "paths": ["tests/data/layouts/the-stack-v2-ids"]},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, object]]:
    """Each layout's `snakemake corpus` (and the split.validation: 0 dry run), two at a time:
    name -> (working directory, completed process)."""
    smoke = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    jobs = {name: ({"corpus": corpus}, ("--cores", "1")) for name, corpus in CONFIGS.items()}
    jobs["validation-0"] = ({"split": {"validation": 0, "test": 0.2}}, ("-n",))
    odd = tmp_path_factory.mktemp("odd-names") / "src"  # a folder corpus, one name not UTF-8
    for name, code in ((b"caf\xe9.py", PY), (b"M.java", JAVA), (b"m.go", GO)):
        os.makedirs(os.path.join(os.fsencode(odd), b"repo"), exist_ok=True)
        with open(os.path.join(os.fsencode(odd), b"repo", name), "w") as fh:
            fh.write(code)
    jobs["odd-name"] = ({"corpus": {"source": "directory", "paths": [str(odd)]}}, ("--cores", "1"))

    def one(name: str) -> tuple[Path, object]:
        work = tmp_path_factory.mktemp(name)
        cfg = work / "layout.yaml"  # the smoke study with this corpus (or split) section
        cfg.write_text(yaml.safe_dump({**smoke, **jobs[name][0]}))
        proc = snakemake(work, *jobs[name][1], "--configfile", str(cfg), targets=("corpus",),
                         timeout=300)  # fmt: skip
        return work, proc

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(one, jobs), strict=True))


def _corpus(work: Path, lang: str) -> list[dict]:
    """A language's documents (one corpus part: these layouts are a few KB; no cap reached)."""
    return pq.read_table(work / "results" / "corpus" / "p00000" / f"{lang}.parquet").to_pylist()


def _ok(runs, name: str) -> Path:
    work, proc = runs[name]
    log = work / "logs" / "corpus" / "p00000.log"
    assert proc.returncode == 0, proc.stderr[-3000:] + (log.read_text() if log.exists() else "")
    return work


@pytest.mark.workflow
def test_the_stack_v1_per_language_folders(runs):
    work = _ok(runs, "the-stack-v1")
    for lang in LANGS:
        rows = _corpus(work, lang)
        assert len(rows) == 8 and {r["repo"] for r in rows} == {f"org{i}/{lang}-tools" for i in
                                                                  range(4)}  # fmt: skip
        for r in rows:  # hexsha is the id; max_stars_repo_name/path the repo and path
            assert r["doc_id"] == hashlib.sha1(r["content"].encode()).hexdigest()
            assert r["path"].startswith("src/scale_") and r["path"].endswith(EXT[lang])
            assert r["source"] == f"shards:{lang}/train-00000-of-00001.parquet"
    manifest = json.loads((work / "results" / "corpus" / "manifest.json").read_text())
    assert manifest["settings"]["columns"] == {}  # nothing named: the schema imposes no names
    assert len(manifest["inputs"]) == 3


@pytest.mark.workflow
def test_starcoderdata_language_from_the_folder_and_repeating_ids(runs):
    work = _ok(runs, "starcoderdata")
    for lang in LANGS:
        rows = _corpus(work, lang)
        # ids repeat across languages (per-language numbering): unique within each language
        assert sorted(r["doc_id"] for r in rows) == [str(i) for i in range(8)]
        assert all(r["path"].endswith(EXT[lang]) for r in rows)
        assert {r["path"].split("_")[1] for r in rows} == {lang}  # src/scale_<lang>_<r>_<f>
    stats = json.loads((work / "results" / "corpus" / "stats.json").read_text())
    assert all(stats[lang]["duplicate_id"]["files"] == 0 for lang in LANGS)


@pytest.mark.workflow
def test_the_stack_v2_with_contents_from_a_glob(runs):
    work = _ok(runs, "the-stack-v2")
    for lang in LANGS:
        rows = _corpus(work, lang)
        assert len(rows) == 5 and all(r["path"].endswith(EXT[lang]) for r in rows)
        assert all(r["doc_id"] == hashlib.sha1(r["content"].encode()).hexdigest() for r in rows)
    stats = json.loads((work / "results" / "corpus" / "stats.json").read_text())
    assert sum(stats[lang]["seen"]["files"] for lang in LANGS) == 15  # the Rust row is no candidate


@pytest.mark.workflow
def test_the_stack_v2_main_release_says_what_is_missing(runs):
    work, proc = runs["the-stack-v2-ids"]
    assert proc.returncode != 0
    log = (work / "logs" / "corpus" / "p00000.log").read_text()
    assert "train-00000-of-00001.parquet: no content column, only 'blob_id'" in log
    assert "s3://softwareheritage/content/<blob_id>" in log
    assert "download the contents into a 'content' column" in log
    assert "corpus.columns.content" in log and "Traceback" not in log


@pytest.mark.workflow
def test_split_validation_0_is_rejected_by_the_schema(runs):
    _, proc = runs["validation-0"]
    assert proc.returncode != 0
    assert "config error at 'split.validation': 0 is less than or equal to the minimum of 0" in (
        proc.stderr + proc.stdout
    )
    assert "training reports the validation loss of every language" in proc.stderr + proc.stdout


@pytest.mark.workflow
def test_a_file_name_that_is_not_utf8_is_read_through_the_workflow(runs):
    """Snakemake cannot write such a name into its lock file: the file is read by the corpus
    (named with \\xNN escapes) but not declared as an input."""
    work = _ok(runs, "odd-name")
    assert [r["path"] for r in _corpus(work, "python")] == ["repo/caf\\xe9.py"]
    stats = json.loads((work / "results" / "corpus" / "stats.json").read_text())
    assert stats["python"]["non_utf8_names"]["files"] == 1
    assert (
        "file name is not UTF-8, read as 'repo/caf\\\\xe9.py'"
        in (work / "logs" / "corpus" / "p00000.log").read_text()
    )


def test_split_fractions_must_be_positive():
    base = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    for key in ("validation", "test"):
        bad = {**base, "split": {**base["split"], key: 0}}
        with pytest.raises(cs_config.CodescaleError, match=f"config error at 'split.{key}'"):
            cs_config.validate(bad)


def test_column_defaults_are_null_so_detection_decides():
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    cfg["corpus"] = {"source": "shards", "paths": ["x"], "columns": {"language": None, "id": "id"}}
    columns = cs_config.validate(cfg)["corpus"]["columns"]
    assert columns == {"content": None, "language": None, "repo": None, "path": None, "id": "id"}


# -- the command line, on shards written here ------------------------------------------------


def _shard(where: Path, **columns: list) -> None:
    where.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), where)


def test_per_language_folders_with_the_same_file_names_get_distinct_ids(tmp_path):
    for lang, code in (("python", PY), ("go", GO)):
        _shard(tmp_path / "data" / lang / "train-00000.parquet",
               content=[code, code + "\n"], repo_name=["a/b", "c/d"],
               path=[f"m{EXT[lang]}", f"n{EXT[lang]}"])  # fmt: skip
    out = tmp_path / "out"
    argv = ["corpus", "--source", "shards", "--paths", str(tmp_path / "data" / "*" / "*.parquet")]
    assert main([*argv, "--languages", "python", "go", "--out-dir", str(out)]) == 0
    for lang in ("python", "go"):
        rows = pq.read_table(out / f"{lang}.parquet").to_pylist()
        assert [r["doc_id"] for r in rows] == [
            f"{lang}/train-00000.parquet#0",
            f"{lang}/train-00000.parquet#1",
        ]


def test_a_named_id_column_and_columns_named_explicitly(tmp_path):
    _shard(tmp_path / "s.parquet", body=[PY, PY + "\n"], project=["a/b", "a/b"],
           file=["m.py", "n.py"], uid=["u-1", "u-2"], id=["x", "x"])  # fmt: skip
    out = tmp_path / "out"
    argv = ["corpus", "--source", "shards", "--paths", str(tmp_path / "s.parquet")]
    argv += ["--languages", "python", "--out-dir", str(out), "--column", "content=body"]
    argv += ["repo=project", "path=file", "id=uid"]
    assert main(argv) == 0
    assert [r["doc_id"] for r in pq.read_table(out / "python.parquet").to_pylist()] == [
        "u-1",
        "u-2",
    ]


def test_errors_name_the_config_keys(tmp_path, capsys):
    _shard(tmp_path / "s.parquet", content=[PY], path=["m.py"], language=["Python"])
    base = ["corpus", "--source", "shards", "--paths", str(tmp_path / "s.parquet")]
    base += ["--out-dir", str(tmp_path / "o")]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "no repo column (looked for repo_name, max_stars_repo_name, repo)" in err
    assert "set corpus.columns.repo to the column holding the repository name" in err
    assert main([*base, "--column", "repo=owner"]) == 2
    err = capsys.readouterr().err
    assert "corpus.columns.repo is 'owner', but the shard has no such column" in err
    assert main([*base[:3], "--paths", str(tmp_path / "none-*.parquet"), *base[5:]]) == 2
    assert f"corpus.paths: '{tmp_path}/none-*.parquet' matches no file" in capsys.readouterr().err
