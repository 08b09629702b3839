"""Byte-level BPE tokenizer: training on a language-balanced sample, and the helpers every stage
uses to turn code into token ids and back.

Why these choices:
- byte-level pre-tokenizer without prefix space, ByteLevel decoder and no normaliser, so
  `decode(encode(text)) == text` for any text (tabs, CRLF, trailing spaces, any unicode);
- special tokens have FIXED ids (end of document 0, pad 1, then one language tag per language in
  `LANGUAGES` order, ids 2..8) whatever their strings are and whichever languages a study uses, so
  shards, models and pair formats never disagree about ids;
- special tokens are only ever inserted by id: `load_tokenizer` turns on `encode_special_tokens`,
  so a source file that literally contains "<|endoftext|>" is encoded as plain text, not as an end
  of document (HF does not serialise that flag, which is why every stage must load through here);
- the training sample takes at most B bytes per language, in the order of a seeded hash of each
  document's doc_id, so one large language cannot dominate the merges, and the sample is the
  same whether a language comes as one parquet or as many parts.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from codescale import LANGUAGES
from codescale import config as cs_config
from codescale.errors import CodescaleError
from codescale.io import atomic_path

log = logging.getLogger(__name__)

DEFAULT_EOD = "<|endoftext|>"
DEFAULT_PAD = "<|pad|>"
DEFAULT_LANGUAGE_TAG = "<|lang:{lang}|>"
EOD_ID = 0
PAD_ID = 1
LANG_IDS: dict[str, int] = {lang: 2 + i for i, lang in enumerate(LANGUAGES)}
N_SPECIAL = 2 + len(LANGUAGES)
N_BYTES_ALPHABET = 256  # the byte-level alphabet every vocabulary starts with


# --------------------------------------------------------------------------- special tokens


def special_tokens(
    eod: str = DEFAULT_EOD, pad: str = DEFAULT_PAD, language_tag: str = DEFAULT_LANGUAGE_TAG
) -> list[str]:
    """The special-token strings in id order (index == id)."""
    if "{lang}" not in language_tag:
        raise CodescaleError(f"language tag template {language_tag!r} must contain '{{lang}}'")
    tokens = [eod, pad, *(language_tag.format(lang=lang) for lang in LANGUAGES)]
    if any(not t for t in tokens):
        raise CodescaleError("special tokens must be non-empty strings")
    if len(set(tokens)) != len(tokens):
        raise CodescaleError(f"special tokens must be distinct, got {tokens}")
    return tokens


def special_ids(tok: Tokenizer) -> dict[str, Any]:
    """{"eod": 0, "pad": 1, "lang": {lang: id}}, after checking the tokenizer has that layout.

    The ids are fixed by design; the check catches a tokenizer.json that was not trained here.
    """
    added = tok.get_added_tokens_decoder()
    for i in range(N_SPECIAL):
        if i not in added or not added[i].special:
            raise CodescaleError(
                f"tokenizer has no special token at id {i}: expected <eod>, <pad> and one "
                f"language tag per language ({', '.join(LANGUAGES)}) at ids 0..{N_SPECIAL - 1}"
            )
    return {"eod": EOD_ID, "pad": PAD_ID, "lang": dict(LANG_IDS)}


# --------------------------------------------------------------------------- load / encode / decode


def load_tokenizer(path: str | os.PathLike[str]) -> Tokenizer:
    """Load tokenizer.json with special strings treated as plain text when encoding raw text."""
    path = Path(path)
    if not path.is_file():
        raise CodescaleError(f"tokenizer not found: {path}")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises a bare Exception on malformed JSON
        raise CodescaleError(f"cannot load tokenizer {path}: {err}") from err
    tok.encode_special_tokens = True
    special_ids(tok)
    return tok


def encode_documents(tok: Tokenizer, lang: str, texts: Sequence[str]) -> list[np.ndarray]:
    """Corpus documents as `[<|lang:LANG|>] + encode(text) + [<|endoftext|>]` (uint32 arrays).

    This is the one place that formats a corpus document; pair formats build on `tok.encode`.
    """
    if lang not in LANG_IDS:
        raise CodescaleError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    if not tok.encode_special_tokens:
        # a tokenizer not loaded through load_tokenizer would turn literal "<|endoftext|>" in
        # source code into end-of-document tokens
        raise CodescaleError(
            "tokenizer must be loaded with codescale.data.tokenizer.load_tokenizer"
        )
    tag = LANG_IDS[lang]
    out = []
    # encode_batch_fast: encode_batch without character offsets, which nothing here needs
    for enc in tok.encode_batch_fast(list(texts), add_special_tokens=False):
        ids = enc.ids
        arr = np.empty(len(ids) + 2, dtype=np.uint32)
        arr[0] = tag
        arr[1:-1] = ids
        arr[-1] = EOD_ID
        out.append(arr)
    return out


def decode_document(tok: Tokenizer, ids: Sequence[int] | np.ndarray) -> str:
    """The text of a corpus document: drops a leading language tag and a trailing <eod>."""
    ids = [int(i) for i in ids]
    if ids and 2 <= ids[0] < N_SPECIAL:
        ids = ids[1:]
    if ids and ids[-1] == EOD_ID:
        ids = ids[:-1]
    return tok.decode(ids, skip_special_tokens=False)


# --------------------------------------------------------------------------- training sample


def _sample_keys(batch: pa.RecordBatch, seed: int, lang: str) -> np.ndarray:
    """A 64-bit key per document (uint64): a keyed hash of its doc_id (of its content when the
    parquet has no doc_id), so the order does not depend on files, parts or row order."""
    col = batch.column("doc_id") if "doc_id" in batch.schema.names else batch.column("content")
    salt = f"{seed}\0{lang}".encode()
    return np.fromiter(
        (
            int.from_bytes(
                hashlib.blake2b(
                    v.encode("utf-8", "surrogatepass"), digest_size=8, key=salt
                ).digest(),
                "little",
            )
            for v in col.to_pylist()
        ),
        dtype=np.uint64,
        count=batch.num_rows,
    )


def sample_language(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    max_bytes: int,
    seed: int,
    lang: str,
) -> list[str]:
    """Up to `max_bytes` utf-8 bytes of documents of one language, from one parquet or several
    (its parts), in the order of a seeded per-document key (`_sample_keys`).

    Whole documents are taken in key order while they fit; the first one that does not fit is
    cut (at a character boundary) to fill the budget exactly. The key depends only on the
    document, so a language given as 1 part or as 8 parts gets the same sample. Two streaming
    passes: the first keeps only (key, size, file, row) of the documents that can still be in
    the sample, so memory is the size of the sample, not of the language.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = [Path(p) for p in paths]
    empty = np.zeros(0, np.int64)
    sel_key, sel_size = np.zeros(0, np.uint64), empty
    sel_file, sel_row = empty, empty
    n_docs = 0
    pfs = []
    for fi, path in enumerate(files):
        pf = open_content_parquet(path, f"training data for {lang}")
        pfs.append(pf)
        cols = ["content"] + (["doc_id"] if "doc_id" in pf.schema_arrow.names else [])
        start = 0
        for batch in pf.iter_batches(columns=cols, batch_size=8192):
            col = batch.column(0)
            if col.null_count:
                raise CodescaleError(f"{path}: column 'content' has null values")
            n = batch.num_rows
            sel_key = np.concatenate([sel_key, _sample_keys(batch, seed, lang)])
            sizes = pc.binary_length(col).to_numpy(zero_copy_only=False).astype(np.int64)
            sel_size = np.concatenate([sel_size, sizes])
            sel_file = np.concatenate([sel_file, np.full(n, fi, np.int64)])
            sel_row = np.concatenate([sel_row, np.arange(start, start + n, dtype=np.int64)])
            order = np.lexsort((sel_row, sel_file, sel_key))
            cut = int(np.searchsorted(np.cumsum(sel_size[order]), max_bytes, side="right")) + 1
            keep = order[:cut]
            sel_key, sel_size = sel_key[keep], sel_size[keep]
            sel_file, sel_row = sel_file[keep], sel_row[keep]
            start += n
            n_docs += n
    if n_docs == 0:
        raise CodescaleError(
            f"no documents for language {lang} in {', '.join(str(f) for f in files)}"
        )
    texts: list[str] = [""] * len(sel_key)
    for fi, pf in enumerate(pfs):
        mine = np.flatnonzero(sel_file == fi)
        if len(mine) == 0:
            continue
        mine = mine[np.argsort(sel_row[mine])]
        rows = sel_row[mine]
        start = 0
        for batch in pf.iter_batches(columns=["content"], batch_size=8192):
            lo, hi = np.searchsorted(rows, [start, start + batch.num_rows])
            if hi > lo:
                values = batch.column(0).take(pa.array(rows[lo:hi] - start)).to_pylist()
                for k, text in zip(mine[lo:hi].tolist(), values, strict=True):
                    texts[k] = text
            start += batch.num_rows
    cumulative = np.cumsum(sel_size)  # sel_* are in key order
    n_whole = int(np.searchsorted(cumulative, max_bytes, side="right"))
    used = int(cumulative[n_whole - 1]) if n_whole else 0
    if n_whole < len(texts) and used < max_bytes:
        last = texts[-1].encode("utf-8")[: max_bytes - used].decode("utf-8", errors="ignore")
        texts[-1] = last
        if not last:
            texts.pop()
    elif n_whole < len(texts):
        texts.pop()
    return texts


def balanced_sample(
    inputs: Mapping[str, str | os.PathLike[str] | Sequence[str | os.PathLike[str]]],
    max_bytes: int,
    seed: int,
) -> dict[str, list[str]]:
    """`sample_language` for every language (one parquet or a list of parts), LANGUAGES order."""
    if max_bytes <= 0:
        raise CodescaleError(f"--sample-bytes-per-language must be positive, got {max_bytes}")
    return {
        lang: sample_language(inputs[lang], max_bytes, seed, lang)
        for lang in LANGUAGES
        if lang in inputs
    }


# --------------------------------------------------------------------------- training


def train_tokenizer(
    samples: Mapping[str, Sequence[str]],
    vocab_size: int,
    eod: str = DEFAULT_EOD,
    pad: str = DEFAULT_PAD,
    language_tag: str = DEFAULT_LANGUAGE_TAG,
) -> Tokenizer:
    """Train the byte-level BPE on per-language samples; returns a tokenizer as load_tokenizer does.

    Deterministic: the BPE trainer's counts do not depend on text order and ties between merges
    are broken by the pair itself, so the same sample gives the same vocabulary and merges.
    """
    specials = special_tokens(eod, pad, language_tag)
    minimum = N_SPECIAL + N_BYTES_ALPHABET
    if vocab_size <= minimum:
        raise CodescaleError(
            f"--vocab-size {vocab_size} too small: the specials and the byte alphabet "
            f"already take {minimum} ids"
        )
    if not any(samples.values()):
        raise CodescaleError("training sample is empty: no text for any language")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_iter_texts(samples), trainer, length=sum(map(len, samples.values())))
    tok.encode_special_tokens = True
    _check_trained(tok, specials)
    if tok.get_vocab_size() < vocab_size:
        log.warning(
            "vocabulary has %d tokens, fewer than the %d asked: the sample is too small",
            tok.get_vocab_size(),
            vocab_size,
        )
    return tok


def _iter_texts(samples: Mapping[str, Sequence[str]]) -> Iterator[str]:
    for texts in samples.values():
        yield from texts


def _check_trained(tok: Tokenizer, specials: list[str]) -> None:
    """Special ids as designed, and no merge that spells a special string out of plain text."""
    for i, s in enumerate(specials):
        if tok.token_to_id(s) != i:
            raise CodescaleError(f"special token {s!r} got id {tok.token_to_id(s)}, expected {i}")
        if tok.encode(s, add_special_tokens=False).ids == [i]:
            raise CodescaleError(
                f"special token {s!r} is also a learned token of plain text; choose a string "
                "that cannot be one pre-token, e.g. '<|...|>'"
            )


# --------------------------------------------------------------------------- CLI


def _parse_inputs(items: Sequence[str]) -> dict[str, list[Path]]:
    """LANG=PATH items -> {lang: [paths]}: a language split into parts repeats LANG."""
    inputs: dict[str, list[Path]] = {}
    for item in items:
        lang, sep, path = item.partition("=")
        if not sep or not path:
            raise CodescaleError(f"--input {item!r}: expected LANG=PATH.parquet")
        if lang not in LANGUAGES:
            raise CodescaleError(
                f"--input {item!r}: unknown language {lang!r}; expected one of "
                f"{', '.join(LANGUAGES)}"
            )
        if Path(path) in inputs.get(lang, []):
            raise CodescaleError(f"--input: {item} given twice")
        inputs.setdefault(lang, []).append(Path(path))
    if not inputs:
        raise CodescaleError("--input: at least one LANG=PATH.parquet is required")
    return inputs


def open_content_parquet(path: Path, what: str) -> pq.ParquetFile:
    if not path.is_file():
        raise CodescaleError(f"{what}: {path} does not exist")
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise CodescaleError(f"{what}: cannot read parquet {path}: {err}") from err
    field = pf.schema_arrow.field("content") if "content" in pf.schema_arrow.names else None
    if field is None:
        raise CodescaleError(f"{what}: {path} has no 'content' column")
    # a null-typed column is what an empty table written without a schema has; nulls in a
    # non-empty one are refused when the rows are read
    if not (
        pa.types.is_string(field.type)
        or pa.types.is_large_string(field.type)
        or pa.types.is_null(field.type)
    ):
        raise CodescaleError(f"{what}: {path} column 'content' is {field.type}, expected string")
    return pf


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        action="extend",
        nargs="+",
        default=[],
        metavar="LANG=PATH",
        help="a language's training parquet (column 'content'); repeat per language and part",
    )
    parser.add_argument("--out", required=True, help="tokenizer.json to write")
    # options that set a config key (its x-cli in the schema) default to the schema's
    D = cs_config.default  # noqa: N806
    parser.add_argument(
        "--vocab-size",
        type=int,
        default=D("tokenizer.vocab_size"),
        help="total ids incl. specials",
    )
    parser.add_argument(
        "--sample-bytes-per-language",
        type=int,
        default=D("tokenizer.sample_bytes_per_language"),
        help="at most this many utf-8 bytes of training text per language",
    )
    parser.add_argument(
        "--seed", type=int, default=D("seed"), help="seed of the per-language sample"
    )
    special = "tokenizer.special_tokens"
    parser.add_argument("--eod", default=D(f"{special}.eod"), help="end-of-document token (id 0)")
    parser.add_argument("--pad", default=D(f"{special}.pad"), help="padding token (id 1)")
    parser.add_argument(
        "--language-tag",
        default=D(f"{special}.language_tag"),
        help="language tag template with {lang} (ids 2..8, LANGUAGES order)",
    )


def run(args: argparse.Namespace) -> None:
    inputs = _parse_inputs(args.input)
    special_tokens(args.eod, args.pad, args.language_tag)  # fail before the slow part
    samples = balanced_sample(inputs, args.sample_bytes_per_language, args.seed)
    for lang, texts in samples.items():
        n_bytes = sum(len(t.encode("utf-8")) for t in texts)
        log.info("%s: %d documents, %d bytes in the sample", lang, len(texts), n_bytes)
    tok = train_tokenizer(samples, args.vocab_size, args.eod, args.pad, args.language_tag)
    with atomic_path(args.out) as tmp:
        tok.save(str(tmp))
    log.info("wrote %s (vocab %d)", args.out, tok.get_vocab_size())
