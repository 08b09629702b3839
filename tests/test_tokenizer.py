"""Tokenizer training, the fixed special ids, exact round trips and the tokenize stage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codescale import LANGUAGES
from codescale.cli import main
from codescale.data.shards import Shard
from codescale.data.tokenize import tokenize_split
from codescale.data.tokenizer import (
    balanced_sample,
    decode_document,
    encode_documents,
    load_tokenizer,
    sample_language,
    special_ids,
    train_tokenizer,
)
from codescale.errors import CodescaleError

# Small real snippets per language, with the characters that break naive tokenizers.
SNIPPETS: dict[str, list[str]] = {
    "python": [
        "def f(x):\n\treturn x + 1  \n",
        "# héllo wörld — ünïcode ✓ 日本語\nprint('🙂')\r\n",
        "class A:\n    pass\n\n\n",
        "x = '<|endoftext|>'  # a literal special string is plain text\n",
    ],
    "java": [
        "public class Main {\r\n\tpublic static void main(String[] a) {}\r\n}\r\n",
        "// Ωmega\nint x = 0;   \n",
    ],
    "rust": [
        'fn main() {\n    println!("{}", "ß∂ƒ");\n}\n',
        "",  # an empty file is still a document
        "   \t \n",
    ],
    "go": ['package main\n\nfunc main() {\n\tvar s = "\\t"\n}\n'],
}


def _write_parquet(path: Path, texts: list[str], lang: str) -> Path:
    table = pa.table(
        {
            "doc_id": [f"{lang}-{i}" for i in range(len(texts))],
            "lang": [lang] * len(texts),
            "content": texts,
        }
    )
    pq.write_table(table, path)
    return path


def _corpus(tmp_path: Path, copies: int = 20) -> dict[str, Path]:
    """One parquet per language; repeated snippets give BPE something to merge."""
    out = {}
    for lang, texts in SNIPPETS.items():
        docs = [f"{t}{i}\n" if i % 2 else t for i in range(copies) for t in texts]
        out[lang] = _write_parquet(tmp_path / f"{lang}.parquet", docs, lang)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("tok")
    inputs = _corpus(tmp)
    out = tmp / "tokenizer.json"
    args = ["tokenizer", "--out", str(out), "--vocab-size", "400", "--seed", "0"]
    args += ["--sample-bytes-per-language", "20000"]
    for lang, path in inputs.items():
        args += ["--input", f"{lang}={path}"]
    assert main(args) == 0
    return out, inputs


def test_special_token_ids_are_fixed(trained: tuple[Path, dict[str, Path]]) -> None:
    tok = load_tokenizer(trained[0])
    assert tok.token_to_id("<|endoftext|>") == 0
    assert tok.token_to_id("<|pad|>") == 1
    for i, lang in enumerate(LANGUAGES):  # all seven, although only four were trained on
        assert tok.token_to_id(f"<|lang:{lang}|>") == 2 + i
    ids = special_ids(tok)
    assert ids["eod"] == 0 and ids["pad"] == 1
    assert ids["lang"] == {lang: 2 + i for i, lang in enumerate(LANGUAGES)}
    assert tok.get_vocab_size() == 400


def test_custom_special_strings_keep_ids(tmp_path: Path) -> None:
    samples = {"python": ["def f():\n    return 1\n"] * 50}
    tok = train_tokenizer(samples, 300, eod="<eod>", pad="<pad>", language_tag="<{lang}>")
    assert tok.token_to_id("<eod>") == 0
    assert tok.token_to_id("<pad>") == 1
    assert tok.token_to_id("<rust>") == 8
    with pytest.raises(CodescaleError, match="lang"):
        train_tokenizer(samples, 300, language_tag="<tag>")
    with pytest.raises(CodescaleError, match="too small"):
        train_tokenizer(samples, 200)


def test_round_trip_is_exact(trained: tuple[Path, dict[str, Path]]) -> None:
    tok = load_tokenizer(trained[0])
    texts = [t for ts in SNIPPETS.values() for t in ts]
    texts += ["\r\n\r\n", "trailing   ", "\ttabs\t\t", "\x00\x7f nul and del", "e\u0301 combining"]
    for lang in ("python", "typescript"):
        docs = encode_documents(tok, lang, texts)
        for text, ids in zip(texts, docs, strict=True):
            assert ids.dtype == np.uint32
            assert ids[0] == special_ids(tok)["lang"][lang] and ids[-1] == 0
            assert 0 not in ids[1:-1].tolist()  # literal "<|endoftext|>" stays plain text
            assert decode_document(tok, ids) == text


def test_training_is_deterministic(trained: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    """Same seed -> byte-identical tokenizer, also from a fresh process (new hash seeds)."""
    out, inputs = trained
    again = tmp_path / "again.json"
    cmd = [sys.executable, "-m", "codescale.cli", "tokenizer", "--out", str(again)]
    cmd += ["--vocab-size", "400", "--seed", "0", "--sample-bytes-per-language", "20000"]
    for lang, path in inputs.items():
        cmd += ["--input", f"{lang}={path}"]
    subprocess.run(cmd, check=True, capture_output=True)
    assert json.loads(again.read_text()) == json.loads(out.read_text())


def test_balanced_sample_respects_bytes(tmp_path: Path) -> None:
    texts = [f"line {i} ünïcode ✓ " * (1 + i % 7) for i in range(300)]
    path = _write_parquet(tmp_path / "py.parquet", texts, "python")
    total = sum(len(t.encode()) for t in texts)
    for budget in (1, 100, 1000, 5003):
        sample = sample_language(path, budget, seed=3, lang="python")
        # filled up to the budget; the cut document loses at most a split utf-8 character
        assert budget - 3 <= sum(len(t.encode()) for t in sample) <= budget
    # every whole document but the last comes from the corpus
    sample = sample_language(path, 5003, seed=3, lang="python")
    assert all(t in texts for t in sample[:-1])
    assert sample == sample_language(path, 5003, seed=3, lang="python")
    assert sample != sample_language(path, 5003, seed=4, lang="python")
    everything = sample_language(path, 10 * total, seed=3, lang="python")
    assert sorted(everything) == sorted(texts)
    # per language: a big language cannot crowd out a small one
    small = _write_parquet(tmp_path / "go.parquet", texts[:10], "go")
    both = balanced_sample({"python": path, "go": small}, 2000, seed=0)
    assert sum(len(t.encode()) for t in both["python"]) == 2000
    assert sum(len(t.encode()) for t in both["go"]) == min(
        2000, sum(len(t.encode()) for t in texts[:10])
    )


def test_tokenize_cli_writes_a_shard_that_decodes_back(
    trained: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    out, inputs = trained
    tok = load_tokenizer(out)
    for lang in ("python", "rust"):
        prefix = tmp_path / lang / "train"
        args = ["tokenize", "--tokenizer", str(out), "--input", str(inputs[lang])]
        args += ["--lang", lang, "--split", "train", "--out-prefix", str(prefix)]
        args += ["--batch-size", "7"]  # several batches, the last one partial
        assert main(args) == 0
        texts = pq.read_table(inputs[lang]).column("content").to_pylist()
        shard = Shard(prefix)
        assert len(shard) == len(texts)
        assert shard.meta["lang"] == lang and shard.meta["split"] == "train"
        assert shard.meta["n_docs"] == len(texts)
        assert shard.meta["n_bytes"] == sum(len(t.encode("utf-8")) for t in texts)
        assert shard.meta["vocab_size"] == tok.get_vocab_size()
        assert shard.tokens.dtype == np.uint16
        for i, text in enumerate(texts):
            assert decode_document(tok, shard.doc(i)) == text
        doc_ids = pq.read_table(prefix.with_name("train.docs.parquet")).column("doc_id")
        assert doc_ids.to_pylist() == [f"{lang}-{i}" for i in range(len(texts))]


def test_tokenize_empty_input_names_language_and_split(
    trained: tuple[Path, dict[str, Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _write_parquet(tmp_path / "empty.parquet", [], "go")
    with pytest.raises(CodescaleError, match="language go, split validation"):
        tokenize_split(load_tokenizer(trained[0]), empty, "go", "validation", tmp_path / "x")
    assert not (tmp_path / "x.json").exists()
    args = ["tokenize", "--tokenizer", str(trained[0]), "--input", str(empty)]
    args += ["--lang", "go", "--split", "validation", "--out-prefix", str(tmp_path / "x")]
    assert main(args) == 2
    assert "go" in capsys.readouterr().err


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "no_content.parquet"
    pq.write_table(pa.table({"text": ["x"]}), path)
    with pytest.raises(CodescaleError, match="no 'content' column"):
        sample_language(path, 100, 0, "python")
    with pytest.raises(CodescaleError, match="does not exist"):
        sample_language(tmp_path / "missing.parquet", 100, 0, "python")
    with pytest.raises(CodescaleError, match="not found"):
        load_tokenizer(tmp_path / "missing.json")
    assert main(["tokenizer", "--out", str(tmp_path / "t.json"), "--input", "cobol=x"]) == 2


def test_real_source_files_round_trip(trained: tuple[Path, dict[str, Path]]) -> None:
    """Every UTF-8 file of the real-code fixture (seven languages) decodes back byte for byte."""
    fixture = Path(__file__).parent / "data" / "corpus"
    files = sorted(p for p in fixture.rglob("*") if p.is_file())
    assert files, f"fixture {fixture} is missing"
    tok = load_tokenizer(trained[0])
    texts = []
    for path in files:
        try:  # the corpus stage drops non-UTF-8 files (the fixture keeps one Latin-1 file)
            texts.append(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            continue
    assert len(texts) >= 100
    for ids, text in zip(encode_documents(tok, "go", texts), texts, strict=True):
        assert decode_document(tok, ids) == text
