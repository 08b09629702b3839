"""`codescale tokenize`: one language's split of the corpus as a token shard.

Streams the parquet in batches (memory stays at one batch of text plus the offsets, whatever the
corpus size), encodes each document as `[<|lang:LANG|>] + encode(content) + [<|endoftext|>]` and
writes the shard with `write_shard`. A first, cheap pass over the `content` column counts documents
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
from codescale.data.shards import write_shard
from codescale.data.tokenizer import encode_documents, load_tokenizer, open_content_parquet
from codescale.errors import CodescaleError
from codescale.io import atomic_path

log = logging.getLogger(__name__)


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
) -> dict[str, Any]:
    """Tokenize one parquet into the shard `out_prefix`; returns the shard's metadata.

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
    if n_docs == 0:
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
            yield from encode_documents(tok, lang, batch.column(0).to_pylist())
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


def run(args: argparse.Namespace) -> None:
    tok = load_tokenizer(args.tokenizer)
    sha = hashlib.sha256(Path(args.tokenizer).read_bytes()).hexdigest()
    info = tokenize_split(
        tok, args.input, args.lang, args.split, args.out_prefix, args.batch_size, None, sha
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
