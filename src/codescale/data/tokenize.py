"""`codescale tokenize`: one language's split of the corpus as a token shard.

Streams the parquet in batches and encodes at most ENCODE_BATCH_BYTES of text per call (memory
stays at one batch of text, one call's encodings and the offsets, whatever the corpus size),
each document as `[<|lang:LANG|>] + encode(content) + [<|endoftext|>]`, and writes the shard
with `write_shard`. A first, cheap pass over the `content` column counts documents
and utf-8 bytes (needed up front for the shard's n_bytes, the denominator of bits per byte) and
rejects empty or null input before any encoding starts.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tokenizers import Tokenizer
from tqdm import tqdm

from codescale import LANGUAGES
from codescale.data.shards import Shard, write_shard
from codescale.data.tokenizer import encode_documents, load_tokenizer, open_content_parquet
from codescale.errors import CodescaleError
from codescale.io import atomic_path, write_json

log = logging.getLogger(__name__)


# utf-8 bytes of text per encode call: `tokenizers` holds about 40 bytes per token of every
# Encoding of a call (ids, offsets, token strings, masks) until it returns, so the call, not the
# document count, bounds memory: 1024 documents of 20 KB took 500 MB (measured, RESULTS.md).
ENCODE_BATCH_BYTES = 1 << 20


def byte_batches(sizes: np.ndarray, max_bytes: int) -> Iterator[tuple[int, int]]:
    """(lo, hi) ranges of consecutive documents of at most max_bytes together (at least one
    document each, so a single larger document is its own range)."""
    lo, total = 0, 0
    for i, n in enumerate(sizes.tolist()):
        if i > lo and total + n > max_bytes:
            yield lo, i
            lo, total = i, 0
        total += n
    if lo < len(sizes):
        yield lo, len(sizes)


def count_content(pf: pq.ParquetFile, where: str) -> tuple[int, int]:
    """(documents, utf-8 bytes) of the `content` column; refuses nulls."""
    n_docs = n_bytes = 0
    for batch in pf.iter_batches(columns=["content"], batch_size=65536):
        col = batch.column(0)
        if col.null_count:
            raise CodescaleError(f"{where}: column 'content' has {col.null_count} null values")
        n_docs += batch.num_rows
        n_bytes += int(pc.sum(pc.binary_length(col)).as_py() or 0)
    return n_docs, n_bytes


def tokenize_split(
    tok: Tokenizer,
    input_path: str | os.PathLike[str],
    lang: str,
    split: str,
    out_prefix: str | os.PathLike[str],
    batch_size: int = 1024,
    progress: bool | None = None,
    tokenizer_sha256: str | None = None,
    allow_empty: bool = False,
) -> dict[str, Any]:
    """Tokenize one parquet into the shard `out_prefix`; returns the shard's metadata.

    allow_empty: a part of a split may have no documents (its gather refuses an empty split).

    Also writes `out_prefix.docs.parquet` (doc_id per shard document, in order) when the input
    has a doc_id column, before the shard's .json so a complete shard always has it.
    """
    if lang not in LANGUAGES:
        raise CodescaleError(f"--lang {lang!r}: expected one of {', '.join(LANGUAGES)}")
    if batch_size <= 0:
        raise CodescaleError(f"--batch-size must be positive, got {batch_size}")
    input_path = Path(input_path)
    out_prefix = Path(out_prefix)
    where = f"{lang}/{split} ({input_path})"
    pf = open_content_parquet(input_path, f"{lang}/{split}")
    n_docs, n_bytes = count_content(pf, where)
    if n_docs == 0 and not allow_empty:
        raise CodescaleError(
            f"no documents to tokenize for language {lang}, split {split}: {input_path}"
        )

    if "doc_id" in pf.schema_arrow.names:
        doc_ids = pq.read_table(input_path, columns=["doc_id"])
        with atomic_path(out_prefix.with_name(out_prefix.name + ".docs.parquet")) as tmp:
            pq.write_table(doc_ids, tmp)

    if progress is None:
        progress = sys.stderr.isatty()
    bar = tqdm(total=n_docs, unit="doc", desc=f"tokenize {lang}/{split}", disable=not progress)

    def docs() -> Iterator[np.ndarray]:
        for batch in pf.iter_batches(columns=["content"], batch_size=batch_size):
            texts = batch.column(0).to_pylist()
            sizes = pc.binary_length(batch.column(0)).to_numpy(zero_copy_only=False)
            for lo, hi in byte_batches(sizes, ENCODE_BATCH_BYTES):
                yield from encode_documents(tok, lang, texts[lo:hi])
            bar.update(batch.num_rows)

    meta: dict[str, Any] = {"lang": lang, "split": split, "source": str(input_path)}
    if tokenizer_sha256:
        meta["tokenizer_sha256"] = tokenizer_sha256
    try:
        info = write_shard(out_prefix, docs(), tok.get_vocab_size(), n_bytes, **meta)
    finally:
        bar.close()
    if info["n_docs"] != n_docs:  # the file changed between the two passes
        raise CodescaleError(f"{where}: read {info['n_docs']} documents, counted {n_docs}")
    return info


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tokenizer", required=True, help="tokenizer.json from `tokenizer`")
    parser.add_argument("--input", required=True, help="split parquet (column 'content')")
    parser.add_argument("--lang", required=True, choices=LANGUAGES, help="language of the input")
    parser.add_argument("--split", required=True, help="split name, stored in the shard metadata")
    parser.add_argument(
        "--out-prefix", required=True, help="shard prefix P: writes P.bin, P.idx.npy, P.json"
    )
    parser.add_argument(
        "--batch-size", type=int, default=1024, help="documents per encode batch (bounds memory)"
    )
    parser.add_argument(
        "--allow-empty", action="store_true", help="an empty input gives an empty shard (a part)"
    )


def run(args: argparse.Namespace) -> None:
    tok = load_tokenizer(args.tokenizer)
    sha = hashlib.sha256(Path(args.tokenizer).read_bytes()).hexdigest()
    info = tokenize_split(
        tok,
        args.input,
        args.lang,
        args.split,
        args.out_prefix,
        args.batch_size,
        None,
        sha,
        args.allow_empty,
    )
    log.info(
        "%s/%s: %d documents, %d tokens, %d bytes -> %s",
        args.lang,
        args.split,
        info["n_docs"],
        info["n_tokens"],
        info["n_bytes"],
        args.out_prefix,
    )


# --------------------------------------------------------------------------- gather of parts

COPY_BYTES = 1 << 26  # bytes per read while concatenating .bin files (64 MiB)


def gather_shards(
    parts: list[str | os.PathLike[str]], out_prefix: str | os.PathLike[str], lang: str, split: str
) -> dict[str, Any]:
    """Concatenate part shards (in the given order) into one shard at out_prefix.

    Streaming, constant memory: the .bin files are copied in COPY_BYTES blocks, the offsets are
    written into a memory-mapped .idx.npy one part at a time, the doc_id lists are appended
    row group by row group. Parts must agree on dtype, vocab size and tokenizer; a split whose
    parts hold no document at all is refused (as `tokenize` refuses an empty split).
    """
    if not parts:
        raise CodescaleError(f"{lang}/{split}: no part shards to gather")
    shards = [Shard(p) for p in parts]
    first = shards[0].meta
    for sh in shards[1:]:
        for key in ("dtype", "vocab_size", "tokenizer_sha256", "lang", "split"):
            if sh.meta.get(key) != first.get(key):
                raise CodescaleError(
                    f"{sh.prefix}: {key} {sh.meta.get(key)!r} differs from "
                    f"{shards[0].prefix}'s {first.get(key)!r}; rerun the part shards"
                )
    n_docs = sum(len(sh) for sh in shards)
    if n_docs == 0:
        raise CodescaleError(
            f"no documents to tokenize for language {lang}, split {split}: all "
            f"{len(parts)} parts are empty"
        )
    out_prefix = Path(out_prefix)
    out_prefix.with_name(out_prefix.name + ".json").unlink(missing_ok=True)
    n_tokens = sum(sh.n_tokens for sh in shards)
    with atomic_path(out_prefix.with_name(out_prefix.name + ".bin")) as tmp_bin:
        with open(tmp_bin, "wb") as out:
            for sh in shards:
                with open(sh.prefix.with_name(sh.prefix.name + ".bin"), "rb") as src:
                    for block in iter(lambda src=src: src.read(COPY_BYTES), b""):
                        out.write(block)
        idx_path = out_prefix.with_name(out_prefix.name + ".idx.npy")
        with atomic_path(idx_path) as tmp_idx:
            idx = np.lib.format.open_memmap(tmp_idx, "w+", np.int64, (n_docs + 1,))
            idx[0] = 0
            pos, base = 1, 0
            for sh in shards:
                idx[pos : pos + len(sh)] = sh.offsets[1:] + base
                pos += len(sh)
                base += sh.n_tokens
            idx.flush()
            del idx
        doc_lists = [sh.prefix.with_name(sh.prefix.name + ".docs.parquet") for sh in shards]
        if all(p.is_file() for p in doc_lists):
            with atomic_path(out_prefix.with_name(out_prefix.name + ".docs.parquet")) as tmp:
                writer = None
                for p in doc_lists:
                    pf = pq.ParquetFile(p)
                    for g in range(pf.num_row_groups):
                        t = pf.read_row_group(g)
                        writer = writer or pq.ParquetWriter(tmp, t.schema)
                        writer.write_table(t)
                if writer is None:  # every part empty is refused above; kept for safety
                    pq.write_table(pq.read_table(doc_lists[0]), tmp)
                else:
                    writer.close()
    info = {
        **first,
        "n_docs": n_docs,
        "n_tokens": n_tokens,
        "n_bytes": sum(int(sh.meta["n_bytes"]) for sh in shards),
        "source": [str(sh.meta.get("source")) for sh in shards],
        "parts": len(shards),
    }
    write_json(out_prefix.with_name(out_prefix.name + ".json"), info)
    Shard(out_prefix)  # the gathered shard passes every check a reader makes
    return info


def configure_gather(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--parts", nargs="+", required=True, help="part shard prefixes, in order")
    parser.add_argument("--lang", required=True, choices=LANGUAGES)
    parser.add_argument("--split", required=True)
    parser.add_argument("--out-prefix", required=True, help="the split's shard prefix")


def run_gather(args: argparse.Namespace) -> None:
    info = gather_shards(list(args.parts), args.out_prefix, args.lang, args.split)
    log.info(
        "%s/%s: %d parts, %d documents, %d tokens -> %s",
        args.lang,
        args.split,
        info["parts"],
        info["n_docs"],
        info["n_tokens"],
        args.out_prefix,
    )
