"""Throughput of `codescale tokenize` against the `tokenizers` library's own encode_batch.

The pipeline row is the real stage function (`tokenize_split`: parquet streaming, the byte count
pass, encode, numpy conversion, shard and doc-id writing); the baseline is `Tokenizer.encode_batch`
on the same texts already in memory, in one call (its best case). Runs alternate and the best of
--repeats is kept for each, so machine noise hits both alike. Target: pipeline >= 0.8x baseline.

Text, first that exists: results/split/*/train.parquet, tests/data/corpus/ (parquet files with a
`content` column, or source files under per-language folders), else real source files on this
machine (the system Python's stdlib for python, npm's own sources for javascript).

    python benchmarks/tokenize_throughput.py [--tokenizer results/tokenizer/tokenizer.json]
        [--max-bytes-per-language 4000000] [--repeats 3] [--batch-size 1024]
        [--source auto|split|fixture|system] [--vocab-size 4096]
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from codescale import LANGUAGES
from codescale.data.tokenize import tokenize_split
from codescale.data.tokenizer import load_tokenizer, train_tokenizer

ROOT = Path(__file__).resolve().parent.parent
EXTENSIONS = {
    "python": ".py",
    "java": ".java",
    "javascript": ".js",
    "typescript": ".ts",
    "csharp": ".cs",
    "go": ".go",
    "rust": ".rs",
}


def _take(texts: list[str], max_bytes: int) -> list[str]:
    out, used = [], 0
    for text in texts:
        if used >= max_bytes:
            break
        out.append(text)
        used += len(text.encode("utf-8"))
    return out


def _read_files(paths: list[str], max_bytes: int) -> list[str]:
    texts = []
    for path in sorted(paths):
        try:
            texts.append(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
    return _take(texts, max_bytes)


def load_texts(max_bytes: int, source: str = "auto") -> tuple[str, dict[str, list[str]]]:
    """(description of the source, lang -> texts); `source` auto, split, fixture or system."""
    split = {
        lang: ROOT / "results" / "split" / lang / "train.parquet"
        for lang in LANGUAGES
        if (ROOT / "results" / "split" / lang / "train.parquet").exists()
    }
    if split and source in ("auto", "split"):
        texts = {
            lang: _take(pq.read_table(p, columns=["content"]).column(0).to_pylist(), max_bytes)
            for lang, p in split.items()
        }
        return "results/split/*/train.parquet", texts
    fixture = ROOT / "tests" / "data" / "corpus"
    if fixture.is_dir() and source in ("auto", "fixture"):
        texts: dict[str, list[str]] = {}
        for lang in LANGUAGES:
            parquet = sorted(fixture.glob(f"**/*{lang}*.parquet"))
            if parquet:
                rows = pq.read_table(parquet[0], columns=["content"]).column(0).to_pylist()
                texts[lang] = _take(rows, max_bytes)
            else:
                files = glob.glob(str(fixture / "**" / f"*{EXTENSIONS[lang]}"), recursive=True)
                if files:
                    texts[lang] = _read_files(files, max_bytes)
        texts = {k: v for k, v in texts.items() if v}
        if texts:
            return "tests/data/corpus/ (source files)", texts
    stdlib = [f for root in glob.glob("/usr/lib/python3*/") for f in _walk(root, ".py")]
    js = _walk("/usr/lib/node_modules", ".js")  # npm's own sources
    texts = {"python": _read_files(stdlib, max_bytes), "javascript": _read_files(js, max_bytes)}
    texts = {k: v for k, v in texts.items() if v}
    return "system files: /usr/lib/python3*/ (.py), /usr/lib/node_modules (.js)", texts


def _walk(root: str, ext: str) -> list[str]:
    """Files under root by extension; os.walk does not follow symlinks (glob's ** can loop)."""
    return [
        os.path.join(d, name)
        for d, _, names in os.walk(root)
        for name in names
        if name.endswith(ext) and "site-packages" not in d
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", default=str(ROOT / "results/tokenizer/tokenizer.json"))
    parser.add_argument("--max-bytes-per-language", type=int, default=4_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--source", choices=("auto", "split", "fixture", "system"), default="auto")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--vocab-size", type=int, default=4096, help="if a tokenizer is trained")
    args = parser.parse_args()

    source, texts = load_texts(args.max_bytes_per_language, args.source)
    if Path(args.tokenizer).exists():
        tok, tok_desc = load_tokenizer(args.tokenizer), args.tokenizer
    else:
        sample = {lang: _take(t, 2_000_000) for lang, t in texts.items()}
        tok = train_tokenizer(sample, args.vocab_size)
        tok_desc = f"trained here, vocab {tok.get_vocab_size()}, <= 2 MB per language"
    all_texts = [t for lang in texts for t in texts[lang]]
    n_docs = len(all_texts)
    n_bytes = sum(len(t.encode("utf-8")) for t in all_texts)

    with tempfile.TemporaryDirectory() as tmp:
        parquets = {}
        for lang, ts in texts.items():
            parquets[lang] = Path(tmp) / f"{lang}.parquet"
            table = pa.table({"doc_id": [f"{lang}-{i}" for i in range(len(ts))], "content": ts})
            pq.write_table(table, parquets[lang])
        best = {"pipeline": float("inf"), "encode_batch": float("inf"), "fast": float("inf")}
        n_tokens = 0
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            encs = tok.encode_batch(all_texts, add_special_tokens=False)
            best["encode_batch"] = min(best["encode_batch"], time.perf_counter() - t0)
            n_tokens = sum(len(e.ids) for e in encs)
            del encs
            t0 = time.perf_counter()
            tok.encode_batch_fast(all_texts, add_special_tokens=False)
            best["fast"] = min(best["fast"], time.perf_counter() - t0)
            t0 = time.perf_counter()
            shard_tokens = 0
            for lang, path in parquets.items():
                info = tokenize_split(
                    tok, path, lang, "train", Path(tmp) / lang, args.batch_size, progress=False
                )
                shard_tokens += info["n_tokens"] - 2 * info["n_docs"]  # minus tag and eod
            best["pipeline"] = min(best["pipeline"], time.perf_counter() - t0)
            assert shard_tokens == n_tokens, (shard_tokens, n_tokens)

    print(f"text: {source}; languages: {', '.join(texts)}; {n_docs} docs, {n_bytes / 1e6:.1f} MB")
    print(f"tokenizer: {tok_desc}; content tokens: {n_tokens}; best of {args.repeats}")
    print(f"cpus: {os.cpu_count()}, RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS')}")
    print("\n| path | seconds | docs/s | MB/s | tokens/s |\n|---|---|---|---|---|")
    for name, label in (
        ("pipeline", "codescale tokenize (tokenize_split, incl. shard write)"),
        ("encode_batch", "tokenizers encode_batch (in memory)"),
        ("fast", "tokenizers encode_batch_fast (in memory, no offsets; what the stage calls)"),
    ):
        s = best[name]
        print(
            f"| {label} | {s:.2f} | {n_docs / s:,.0f} | {n_bytes / s / 1e6:.2f} "
            f"| {n_tokens / s:,.0f} |"
        )
    print(f"\nratio pipeline / encode_batch: {best['encode_batch'] / best['pipeline']:.2f}x")
    print(f"ratio pipeline / encode_batch_fast: {best['fast'] / best['pipeline']:.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
