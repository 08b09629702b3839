"""`codescale dedup`: exact then MinHash-LSH near-duplicate removal for one language's corpus.

Duplicates inflate some files' weight in training and leak between splits, so they go before
anything else. Two passes over one corpus parquet:

1. exact: documents whose *normalised* content is identical (newlines normalised to `\\n`,
   trailing whitespace of every line stripped, leading/trailing blank lines dropped).
2. near: MinHash signatures of token n-gram sets (codescale.data.minhash), LSH banding for
   candidates (bands/rows lean to recall, see minhash.lsh_params), and a candidate counts only if
   the exact Jaccard of the two shingle sets is >= threshold. Verifying exactly instead of on the
   signature estimate keeps precision at 1 and does not lose the half of all pairs right at the
   threshold whose estimate lands below it; the `jaccard` column is this exact value.

Representative rule (deterministic, independent of input row order): documents are ranked by
(longer normalised content first, then lexicographically smaller doc_id). Within an exact group
the top-ranked document is kept. Near duplicates are resolved greedily in rank order: a document
is removed if some *kept*, higher-ranked document is a verified near duplicate of it, and its
representative is the one with the highest estimated Jaccard (ties: higher rank). So every removed
document is within the threshold of a document that is actually kept (no chaining A~B~C where C
is removed because of a B that was itself removed), and no two kept documents are verified near
duplicates of each other.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from codescale.data import minhash
from codescale.errors import CodescaleError
from codescale.io import atomic_path, write_json

log = logging.getLogger(__name__)

CORPUS_COLUMNS = ("doc_id", "lang", "repo", "path", "content", "n_bytes", "sha256", "source")
REMOVED_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("reason", pa.string()),
        ("representative", pa.string()),
        ("jaccard", pa.float64()),
    ]
)


def read_corpus(
    path: str | os.PathLike[str], columns: tuple[str, ...] = CORPUS_COLUMNS
) -> pa.Table:
    """Read a corpus parquet and check the columns and doc_id uniqueness the stages rely on."""
    path = Path(path)
    if not path.is_file():
        raise CodescaleError(f"input corpus not found: {path}")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise CodescaleError(f"cannot read parquet {path}: {err}") from err
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise CodescaleError(f"{path}: missing column(s) {', '.join(missing)}")
    for col in ("doc_id", "content"):
        if table.column(col).null_count:
            raise CodescaleError(f"{path}: column {col} has {table.column(col).null_count} nulls")
    ids = table.column("doc_id").to_pylist()
    if len(set(ids)) != len(ids):
        dup = next(i for i, c in _count(ids).items() if c > 1)
        raise CodescaleError(f"{path}: doc_id is not unique (e.g. {dup!r})")
    return table


def _count(items: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for i in items:
        counts[i] = counts.get(i, 0) + 1
    return counts


def write_parquet(table: pa.Table, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def normalise(text: str) -> str:
    """Content as compared by exact dedup (see module docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def rank_order(doc_ids: list[str], lengths: np.ndarray) -> np.ndarray:
    """Indices sorted by the representative rule: longer first, then smaller doc_id."""
    by_id = np.argsort(np.asarray(doc_ids, dtype=object), kind="stable")
    return by_id[np.argsort(-lengths[by_id], kind="stable")]


def exact_groups(normalised: list[str], order: np.ndarray) -> np.ndarray:
    """For each document, the index of its exact group's representative (itself if kept)."""
    rep = np.empty(len(normalised), dtype=np.int64)
    first: dict[bytes, int] = {}
    for i in order.tolist():
        digest = hashlib.sha256(normalised[i].encode("utf-8", "surrogatepass")).digest()
        rep[i] = first.setdefault(digest, i)
    return rep


def greedy_near(
    n: int, pairs: np.ndarray, jaccard: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resolve verified near-duplicate pairs over rank positions 0..n-1 (0 = best).

    pairs hold rank positions with pairs[:, 0] < pairs[:, 1]. Returns (kept bool[n],
    representative int64[n] (-1 when kept), jaccard float64[n] (nan when kept)).
    """
    kept = np.ones(n, dtype=bool)
    rep = np.full(n, -1, dtype=np.int64)
    jac = np.full(n, np.nan)
    if len(pairs) == 0:
        return kept, rep, jac
    # by lower-ranked member, then best Jaccard, then higher-ranked partner
    o = np.lexsort((pairs[:, 0], -jaccard, pairs[:, 1]))
    hi, lo, jj = pairs[o, 0].tolist(), pairs[o, 1].tolist(), jaccard[o].tolist()
    for a, b, j in zip(hi, lo, jj, strict=True):
        if kept[b] and kept[a]:  # a < b is already final when b is reached
            kept[b] = False
            rep[b] = a
            jac[b] = j
    return kept, rep, jac


def dedup_table(
    table: pa.Table,
    ngram: int = 5,
    num_perm: int = 256,
    threshold: float = 0.7,
    seed: int = 1,
    bands: int | None = None,
    rows: int | None = None,
) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    """Deduplicate a corpus table; returns (kept, removed, stats)."""
    t0 = time.perf_counter()
    if not 0.0 < threshold < 1.0:
        raise CodescaleError(f"--threshold must be in (0, 1), got {threshold}")
    b, r = bands_rows(threshold, num_perm, bands, rows)
    doc_ids = table.column("doc_id").to_pylist()
    contents = table.column("content").to_pylist()
    n_bytes = np.asarray(table.column("n_bytes").to_numpy(zero_copy_only=False), dtype=np.int64)
    norm = [normalise(c) for c in contents]
    lengths = np.fromiter((len(s) for s in norm), dtype=np.int64, count=len(norm))
    order = rank_order(doc_ids, lengths)
    rep_exact = exact_groups(norm, order)
    survivors = order[rep_exact[order] == order]  # rank order, exact representatives only

    sh = minhash.shingle([norm[i] for i in survivors], ngram)
    sigs = minhash.MinHasher(num_perm, seed).signatures(sh)
    has = sh.sizes > 0
    pairs = minhash.candidate_pairs(sigs, b, r, has)
    est = minhash.pair_jaccard(sh, pairs)  # exact on the shingle sets, not the estimate
    ok = est >= threshold
    kept_s, rep_s, jac_s = greedy_near(len(survivors), pairs[ok], est[ok])

    removed_idx, reasons, reps, jacs = [], [], [], []
    for i in np.flatnonzero(rep_exact != np.arange(len(doc_ids))).tolist():
        removed_idx.append(i)
        reasons.append("exact")
        reps.append(doc_ids[rep_exact[i]])
        jacs.append(1.0)
    for pos in np.flatnonzero(~kept_s).tolist():
        removed_idx.append(int(survivors[pos]))
        reasons.append("near")
        reps.append(doc_ids[survivors[rep_s[pos]]])
        jacs.append(float(jac_s[pos]))
    keep_mask = np.ones(len(doc_ids), dtype=bool)
    keep_mask[removed_idx] = False
    kept = table.filter(pa.array(keep_mask))
    ro = sorted(range(len(removed_idx)), key=lambda k: doc_ids[removed_idx[k]])
    removed = pa.table(
        {
            "doc_id": [doc_ids[removed_idx[k]] for k in ro],
            "reason": [reasons[k] for k in ro],
            "representative": [reps[k] for k in ro],
            "jaccard": [jacs[k] for k in ro],
        },
        schema=REMOVED_SCHEMA,
    )
    stats = {
        "docs_in": len(doc_ids),
        "docs_out": int(keep_mask.sum()),
        "bytes_in": int(n_bytes.sum()),
        "bytes_out": int(n_bytes[keep_mask].sum()),
        "removed": {
            reason: {
                "docs": sum(1 for x in reasons if x == reason),
                "bytes": int(
                    sum(
                        n_bytes[i] for i, x in zip(removed_idx, reasons, strict=True) if x == reason
                    )
                ),
            }
            for reason in ("exact", "near")
        },
        "docs_without_tokens": int((~has).sum()),
        "candidate_pairs": len(pairs),
        "verified_pairs": int(ok.sum()),
        "params": {
            "ngram": ngram,
            "num_perm": num_perm,
            "threshold": threshold,
            "seed": seed,
            "bands": b,
            "rows": r,
            "verification": "exact Jaccard of shingle sets",
            "representative_rule": "longest normalised content, then smallest doc_id",
        },
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return kept, removed, stats


def bands_rows(
    threshold: float, num_perm: int, bands: int | None, rows: int | None
) -> tuple[int, int]:
    if bands is None and rows is None:
        return minhash.lsh_params(threshold, num_perm)
    if bands is None or rows is None:
        raise CodescaleError("give both --bands and --rows, or neither")
    if bands < 1 or rows < 1 or bands * rows > num_perm:
        raise CodescaleError(f"--bands x --rows must be in 1..--num-perm ({num_perm})")
    return bands, rows


def add_minhash_args(parser: argparse.ArgumentParser, seed: int) -> None:
    """The MinHash/LSH flags shared by dedup and split."""
    parser.add_argument("--ngram", type=int, default=5, help="tokens per shingle (default 5)")
    parser.add_argument("--num-perm", type=int, default=256, help="MinHash permutations")
    parser.add_argument(
        "--threshold", type=float, default=0.7, help="Jaccard threshold (default 0.7)"
    )
    parser.add_argument("--seed", type=int, default=seed, help=f"hash seed (default {seed})")
    parser.add_argument(
        "--bands", type=int, default=None, help="LSH bands (default: chosen from threshold)"
    )
    parser.add_argument("--rows", type=int, default=None, help="LSH rows per band (with --bands)")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="corpus parquet of one language")
    parser.add_argument("--output", required=True, help="kept documents (parquet)")
    parser.add_argument("--removed", required=True, help="removed documents (parquet)")
    parser.add_argument("--stats", required=True, help="statistics (json)")
    add_minhash_args(parser, seed=1)


def run(args: argparse.Namespace) -> None:
    table = read_corpus(args.input)
    kept, removed, stats = dedup_table(
        table, args.ngram, args.num_perm, args.threshold, args.seed, args.bands, args.rows
    )
    stats = {"input": str(args.input), **stats}
    write_parquet(kept, args.output)
    write_parquet(removed, args.removed)
    write_json(args.stats, stats)
    log.info(
        "%s: %d -> %d docs (exact %d, near %d) in %.1fs",
        args.input,
        stats["docs_in"],
        stats["docs_out"],
        stats["removed"]["exact"]["docs"],
        stats["removed"]["near"]["docs"],
        stats["seconds"],
    )
