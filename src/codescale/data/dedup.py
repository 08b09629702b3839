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

from codescale import config as cs_config
from codescale.data import minhash
from codescale.errors import CodescaleError
from codescale.io import atomic_path, read_json, write_json

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


# -- the band-partitioned pipeline ----------------------------------------------------------
#
# Three kinds of bounded jobs, the structure of datatrove's MinHash dedup (signature -> buckets ->
# cluster -> filter) on our own hashing:
# 1. signatures, per (language, corpus part): for each document its rank key (normalised length),
#    the hash of its normalised content, its MinHash signature and LSH band keys: a few hundred
#    bytes to 1 KB per document, computed batch by batch (memory: one batch, not the part);
# 2. cluster, per language: the exact groups from the hashes, candidate pairs band by band from
#    the band keys alone (one band of every part in memory at a time), the estimated Jaccard of
#    the candidates from their signatures, and the greedy keep in the global rank order; it
#    writes the removed doc_ids (memory: ~50 bytes per document plus the candidates' signatures);
# 3. filter, per (language, part): the part's documents less the removed ones, streamed.
# A part's rows are independent of how the corpus was cut into parts, and the cluster job sees
# every part, so 1 part and 8 parts give the same kept and removed sets.

# A candidate whose estimated Jaccard (256 permutations: standard error <= 0.031) is this close
# to the threshold is verified on its shingle sets: the decision is then, up to ~3 standard
# errors, that of the exact Jaccard (precision and recall as exact verification), while only
# these few documents are read back.
VERIFY_MARGIN = 0.1
SIG_BATCH_BYTES = 8 << 20  # content per signature batch (memory ~40x this, see minhash.shingle)


def _band_column(k: int) -> str:
    return f"band_{k:03d}"


def signature_records(
    doc_ids: list[str],
    contents: list[str],
    n_bytes: np.ndarray,
    ngram: int,
    hasher: minhash.MinHasher,
    bands: int,
    rows: int,
    row: np.ndarray | None = None,
) -> pa.Table:
    """One batch's small per-document records: doc_id, row (the document's row in its corpus
    part file, default 0..n-1), n_bytes, length (characters of the
    normalised content: the rank key), exact_hi/exact_lo (the first 16 bytes of the sha256 of
    the normalised content), has_shingles, sig (num_perm uint32, little-endian bytes) and
    band_000.. (uint64 LSH band keys; 0 without shingles)."""
    norm = [normalise(c) for c in contents]
    lengths = np.fromiter((len(x) for x in norm), dtype=np.int64, count=len(norm))
    digests = b"".join(
        hashlib.sha256(x.encode("utf-8", "surrogatepass")).digest()[:16] for x in norm
    )
    exact = np.frombuffer(digests, dtype=">u8").reshape(-1, 2).astype(np.uint64)
    sh = minhash.shingle(norm, ngram)
    sigs = hasher.signatures(sh)
    has = sh.sizes > 0
    keys = minhash.band_keys(sigs, bands, rows)
    keys[~has] = 0
    width = 4 * hasher.num_perm
    cols: dict[str, Any] = {
        "doc_id": pa.array(doc_ids, pa.string()),
        "row": pa.array(np.arange(len(norm)) if row is None else row, pa.int64()),
        "n_bytes": pa.array(n_bytes, pa.int64()),
        "length": pa.array(lengths, pa.int64()),
        "exact_hi": pa.array(exact[:, 0] if len(norm) else [], pa.uint64()),
        "exact_lo": pa.array(exact[:, 1] if len(norm) else [], pa.uint64()),
        "has_shingles": pa.array(has, pa.bool_()),
        "sig": pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(width), len(norm), [None, pa.py_buffer(sigs.astype("<u4").tobytes())]
        ),
    }
    for k in range(bands):
        cols[_band_column(k)] = pa.array(keys[:, k], pa.uint64())
    return pa.table(cols)


Source = Any  # a pa.Table of signature records, or the path of a parquet file of them


def _read(src: Source, columns: list[str]) -> pa.Table:
    if isinstance(src, pa.Table):
        return src.select(columns)
    return pq.read_table(src, columns=columns)


def _sigs_of(sig: pa.Array, num_perm: int) -> np.ndarray:
    """uint32 (n, num_perm) from a fixed-size-binary column of signatures."""
    arr = sig.combine_chunks() if isinstance(sig, pa.ChunkedArray) else sig
    buf = np.frombuffer(arr.buffers()[1], dtype="<u4")
    return buf[arr.offset * num_perm : (arr.offset + len(arr)) * num_perm].reshape(-1, num_perm)


def _contents(src: Source, rows: np.ndarray) -> list[str]:
    """The content of the given rows (sorted) of a corpus table or part file, reading only the
    row groups that hold them."""
    if isinstance(src, pa.Table):
        return src.column("content").take(pa.array(rows)).to_pylist()
    pf = pq.ParquetFile(src)
    ends = np.cumsum([pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])
    out: list[str] = []
    group = np.searchsorted(ends, rows, side="right")
    for g in np.unique(group).tolist():
        local = rows[group == g] - (ends[g - 1] if g else 0)
        col = pf.read_row_group(g, columns=["content"]).column("content")
        out.extend(col.take(pa.array(local)).to_pylist())
    return out


def cluster(
    sources: list[Source],
    threshold: float,
    num_perm: int,
    bands: int,
    corpora: list[Source] | None = None,
    ngram: int = 5,
    margin: float = VERIFY_MARGIN,
    max_bucket: int = 64,
) -> tuple[pa.Table, dict[str, Any]]:
    """Decide what goes, from the signature records of every part (in part order).

    Returns (removed, stats): removed = doc_id, reason (exact/near), representative, jaccard
    (1.0 for exact; the estimated Jaccard of the signatures for near), part (index into
    sources), sorted by doc_id. Representative rule as in the module docstring: rank = longer
    normalised content first, then smaller doc_id; exact groups keep their top-ranked document;
    near duplicates are resolved greedily in rank order over the candidates whose estimated
    Jaccard is >= threshold."""
    import pyarrow.compute as pc

    base = ["doc_id", "n_bytes", "length", "exact_hi", "exact_lo", "has_shingles"]
    tabs = [_read(src, base) for src in sources]
    part_of = np.concatenate(
        [np.full(t.num_rows, k, np.int32) for k, t in enumerate(tabs)] or [np.zeros(0, np.int32)]
    )
    offsets = np.concatenate(([0], np.cumsum([t.num_rows for t in tabs]))).astype(np.int64)
    t = pa.concat_tables(tabs).combine_chunks() if tabs else None
    n = 0 if t is None else t.num_rows
    if n == 0:
        empty = _REMOVED_PART.empty_table()
        stats = _cluster_stats(0, 0, np.zeros(0, np.int64), [], 0, 0, len(sources))
        return empty, {**stats, "exactly_verified_pairs": 0}
    ids = t.column("doc_id")
    if pc.count_distinct(ids).as_py() != n:
        counts = pc.value_counts(ids)
        dup = next(v["values"] for v in counts.to_pylist() if v["counts"] > 1)
        raise CodescaleError(f"doc_id is not unique across the parts (e.g. {dup!r})")
    n_bytes = t.column("n_bytes").to_numpy()
    order = pc.sort_indices(t, [("length", "descending"), ("doc_id", "ascending")])
    order = order.to_numpy().astype(np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    hi = t.column("exact_hi").to_numpy()
    lo = t.column("exact_lo").to_numpy()
    by_hash = np.lexsort((rank, lo, hi))  # groups of equal hashes, best rank first
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (hi[by_hash][1:] != hi[by_hash][:-1]) | (lo[by_hash][1:] != lo[by_hash][:-1])
    group_first = by_hash[np.flatnonzero(new_group)[np.cumsum(new_group) - 1]]
    rep_exact = np.empty(n, dtype=np.int64)
    rep_exact[by_hash] = group_first
    survivors = order[rep_exact[order] == order]  # rank order, exact representatives only
    has = t.column("has_shingles").to_numpy(zero_copy_only=False)[survivors]
    valid = np.flatnonzero(has)  # survivor positions that take part in LSH

    found = []
    for k in range(bands):
        col = _band_column(k)
        keys = np.concatenate([_read(src, [col]).column(col).to_numpy() for src in sources])
        found.append(minhash.bucket_pairs(keys[survivors[valid]], max_bucket))
        del keys
    pairs = minhash._unique_pairs(found, valid)  # survivor positions, i < j
    del found
    # estimated Jaccard from the signatures of the documents in candidate pairs only
    need = np.unique(pairs) if len(pairs) else np.zeros(0, np.int64)
    glob = survivors[need]
    sigs = np.zeros((len(need), num_perm), dtype=np.uint32)
    for k, src in enumerate(sources):
        lo_k, hi_k = offsets[k], offsets[k + 1]
        mine = np.flatnonzero((glob >= lo_k) & (glob < hi_k))
        if len(mine):
            rows = pa.array(glob[mine] - lo_k)
            sig_col = _read(src, ["sig"]).column("sig").take(rows)
            sigs[mine] = _sigs_of(sig_col, num_perm)
    local = np.searchsorted(need, pairs) if len(pairs) else pairs
    est = minhash.estimated_jaccard(sigs, local)
    # candidates whose estimate is within `margin` of the threshold: exact Jaccard of the
    # shingle sets, from their contents read back (only these rows of the corpus parts)
    unsure = np.flatnonzero(np.abs(est - threshold) < margin) if corpora is not None else []
    if len(unsure):
        docs = np.unique(local[unsure])  # indices into need
        texts: list[str] = [""] * len(docs)
        g = survivors[need[docs]]
        row_col = np.concatenate([_read(x, ["row"]).column("row").to_numpy() for x in sources])
        for k, corpus in enumerate(corpora or []):
            mine = np.flatnonzero((g >= offsets[k]) & (g < offsets[k + 1]))
            if len(mine):
                rows = row_col[g[mine]]
                o = np.argsort(rows)
                for pos, text in zip(mine[o], _contents(corpus, rows[o]), strict=True):
                    texts[pos] = normalise(text)
        sh = minhash.shingle(texts, ngram)
        est[unsure] = minhash.pair_jaccard(sh, np.searchsorted(docs, local[unsure]))
    ok = est >= threshold
    kept_s, rep_s, jac_s = greedy_near(len(survivors), pairs[ok], est[ok])

    ex = np.flatnonzero(rep_exact != np.arange(n))
    near = np.flatnonzero(~kept_s)
    removed_idx = np.concatenate([ex, survivors[near]]).astype(np.int64)
    reasons = ["exact"] * len(ex) + ["near"] * len(near)
    reps = np.concatenate([rep_exact[ex], survivors[rep_s[near]]]).astype(np.int64)
    jacs = np.concatenate([np.ones(len(ex)), jac_s[near]])
    removed = pa.table(
        {
            "doc_id": ids.take(pa.array(removed_idx)),
            "reason": pa.array(reasons, pa.string()),
            "representative": ids.take(pa.array(reps)),
            "jaccard": pa.array(jacs, pa.float64()),
            "part": pa.array(part_of[removed_idx], pa.int32()),
        },
        schema=_REMOVED_PART,
    )
    removed = removed.take(pc.sort_indices(removed, [("doc_id", "ascending")]))
    stats = _cluster_stats(n, int((~has).sum()), n_bytes, reasons, len(pairs), int(ok.sum()),
                           len(sources), removed_idx)  # fmt: skip
    stats["exactly_verified_pairs"] = len(unsure)
    return removed, stats


_REMOVED_PART = REMOVED_SCHEMA.append(pa.field("part", pa.int32()))


def _cluster_stats(
    n: int,
    without_tokens: int,
    n_bytes: np.ndarray,
    reasons: list[str],
    candidates: int,
    verified: int,
    parts: int,
    removed_idx: np.ndarray | None = None,
) -> dict[str, Any]:
    removed_idx = np.zeros(0, np.int64) if removed_idx is None else removed_idx
    is_exact = np.array([r == "exact" for r in reasons], dtype=bool)
    gone = np.zeros(n, dtype=bool)
    gone[removed_idx] = True
    return {
        "docs_in": n,
        "docs_out": int(n - gone.sum()),
        "bytes_in": int(n_bytes.sum()),
        "bytes_out": int(n_bytes[~gone].sum()),
        "removed": {
            "exact": {
                "docs": int(is_exact.sum()),
                "bytes": int(n_bytes[removed_idx[is_exact]].sum()),
            },
            "near": {
                "docs": int((~is_exact).sum()),
                "bytes": int(n_bytes[removed_idx[~is_exact]].sum()),
            },
        },
        "docs_without_tokens": without_tokens,
        "candidate_pairs": candidates,
        "verified_pairs": verified,
        "parts": parts,
    }


def _params(ngram: int, num_perm: int, threshold: float, seed: int, b: int, r: int) -> dict:
    return {
        "ngram": ngram,
        "num_perm": num_perm,
        "threshold": threshold,
        "seed": seed,
        "bands": b,
        "rows": r,
        "verification": f"exact Jaccard of the shingle sets where the signatures' estimate is "
        f"within {VERIFY_MARGIN} of the threshold, else the estimate",
        "representative_rule": "longest normalised content, then smallest doc_id",
    }


def _check(threshold: float, ngram: int) -> None:
    """--threshold and --ngram by the config schema's rules (dedup.threshold in (0, 1), ngram in
    1..64): one rule for the config and the command line."""
    cs_config.check("dedup.threshold", threshold, "--threshold")
    cs_config.check("dedup.ngram", ngram, "--ngram")


def dedup_table(
    table: pa.Table,
    ngram: int = 5,
    num_perm: int = 256,
    threshold: float = 0.7,
    seed: int = 0,
    bands: int | None = None,
    rows: int | None = None,
) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    """Deduplicate a corpus table in memory (one part of the pipeline above); returns (kept,
    removed, stats). The defaults are the config schema's (seed 0 as `codescale dedup` and the
    workflow's dedup jobs use it)."""
    t0 = time.perf_counter()
    _check(threshold, ngram)
    b, r = bands_rows(threshold, num_perm, bands, rows)
    n_bytes = np.asarray(table.column("n_bytes").to_numpy(zero_copy_only=False), dtype=np.int64)
    records = signature_records(
        table.column("doc_id").to_pylist(), table.column("content").to_pylist(), n_bytes,
        ngram, minhash.MinHasher(num_perm, seed), b, r,
    )  # fmt: skip
    removed, stats = cluster([records], threshold, num_perm, b, [table], ngram)
    gone = set(removed.column("doc_id").to_pylist())
    keep = [i not in gone for i in table.column("doc_id").to_pylist()]
    kept = table.filter(pa.array(keep, pa.bool_()))
    stats = {**stats, "params": _params(ngram, num_perm, threshold, seed, b, r),
             "seconds": round(time.perf_counter() - t0, 3)}  # fmt: skip
    return kept, removed.drop_columns(["part"]), stats


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


def add_minhash_args(parser: argparse.ArgumentParser) -> None:
    """The MinHash/LSH flags shared by dedup and split; defaults from the config schema
    (dedup.ngram, dedup.num_perm, dedup.threshold, seed)."""
    ngram, num_perm = cs_config.default("dedup.ngram"), cs_config.default("dedup.num_perm")
    threshold, seed = cs_config.default("dedup.threshold"), cs_config.default("seed")
    parser.add_argument(
        "--ngram", type=int, default=ngram, help=f"tokens per shingle (default {ngram})"
    )
    parser.add_argument(
        "--num-perm", type=int, default=num_perm, help=f"MinHash permutations (default {num_perm})"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=threshold,
        help=f"Jaccard threshold of near-duplicates, in (0, 1) (default {threshold})",
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
    add_minhash_args(parser)


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


# -- the pipeline's commands: dedup-signatures, dedup-cluster, dedup-filter ---------------------


def _selection(path: str | None, lang: str) -> dict[str, Any]:
    """The corpus's choice for one language (selection.json of `codescale corpus-gather`)."""
    if path is None:
        return {}
    sel = read_json(path)
    if lang not in sel:
        raise CodescaleError(f"{path}: no language {lang!r} (the corpus has {', '.join(sel)})")
    return sel[lang]


def _part_batches(path: str, columns: list[str], selection: dict[str, Any], part: str):
    """A corpus part's rows of `columns`, in batches, only those the corpus keeps."""
    from codescale.data.corpus import selected

    if not Path(path).is_file():
        raise CodescaleError(f"corpus part not found: {path}")
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise CodescaleError(f"cannot read parquet {path}: {err}") from err
    names = pf.schema_arrow.names
    want = list(dict.fromkeys([*columns, "doc_id", "sel_hi", "sel_lo"]))
    missing = [c for c in want if c not in names]
    if missing:
        raise CodescaleError(
            f"{path}: missing column(s) {', '.join(missing)} (not a part of `codescale corpus "
            "--part`)"
        )
    start = 0
    for batch in pf.iter_batches(batch_size=1024, columns=want):  # <= 1024 x max_file_bytes
        t = pa.Table.from_batches([batch])
        # the row number in the part file: the cluster job reads uncertain candidates back
        t = t.append_column("row", pa.array(np.arange(start, start + t.num_rows, dtype=np.int64)))
        start += t.num_rows
        mask = selected(t, selection, part)
        if mask.all():
            yield t
        elif mask.any():
            yield t.filter(pa.array(mask))


def configure_signatures(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="one language's corpus part parquet")
    parser.add_argument("--selection", default=None, help="the corpus's selection.json")
    parser.add_argument("--lang", required=True, help="the language of --input")
    parser.add_argument("--part", required=True, help="the part's name (p00000, ...)")
    parser.add_argument("--output", required=True, help="signature records (parquet)")
    add_minhash_args(parser)


def run_signatures(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    _check(args.threshold, args.ngram)
    b, r = bands_rows(args.threshold, args.num_perm, args.bands, args.rows)
    hasher = minhash.MinHasher(args.num_perm, args.seed)
    selection = _selection(args.selection, args.lang)
    n = 0
    with atomic_path(args.output) as tmp:
        writer = None
        ids: list[str] = []
        texts: list[str] = []
        sizes: list[int] = []
        rows_: list[int] = []
        size = 0

        def flush() -> None:
            nonlocal writer, size
            rec = signature_records(ids, texts, np.asarray(sizes, np.int64), args.ngram, hasher,
                                    b, r, np.asarray(rows_, np.int64))  # fmt: skip
            if writer is None:
                writer = pq.ParquetWriter(tmp, rec.schema)
            writer.write_table(rec)
            ids.clear()
            texts.clear()
            sizes.clear()
            rows_.clear()
            size = 0

        batches = _part_batches(args.input, ["content", "n_bytes"], selection, args.part)
        for t in batches:
            ids.extend(t.column("doc_id").to_pylist())
            texts.extend(t.column("content").to_pylist())
            sizes.extend(t.column("n_bytes").to_pylist())
            rows_.extend(t.column("row").to_pylist())
            size += int(pc_sum(t.column("n_bytes")))
            n += t.num_rows
            if size >= SIG_BATCH_BYTES:
                flush()
        if ids or writer is None:
            flush()
        assert writer is not None
        writer.close()
    log.info("%s %s: signatures of %d docs in %.1fs", args.lang, args.part, n,
             time.perf_counter() - t0)  # fmt: skip


def pc_sum(col: pa.ChunkedArray) -> int:
    import pyarrow.compute as pc

    return pc.sum(col).as_py() or 0


def configure_cluster(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--signatures", nargs="+", required=True,
                        help="every part's signature records, in part order")  # fmt: skip
    parser.add_argument("--corpus", nargs="+", required=True,
                        help="every part's corpus parquet, in part order (candidates near the "
                        "threshold are read back and verified exactly)")  # fmt: skip
    parser.add_argument("--removed", required=True, help="removed documents of every part")
    parser.add_argument("--stats", required=True, help="statistics (json)")
    add_minhash_args(parser)


def run_cluster(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    _check(args.threshold, args.ngram)
    b, r = bands_rows(args.threshold, args.num_perm, args.bands, args.rows)
    if len(args.corpus) != len(args.signatures):
        raise CodescaleError(
            f"--corpus names {len(args.corpus)} parts, --signatures {len(args.signatures)}: "
            "give one corpus part per signature file, in the same order"
        )
    for path in [*args.signatures, *args.corpus]:
        if not Path(path).is_file():
            raise CodescaleError(f"input not found: {path}")
    want = ["doc_id", "row", "n_bytes", "length", "exact_hi", "exact_lo", "has_shingles", "sig"]
    want += [_band_column(k) for k in range(b)]
    for path in args.signatures:
        missing = [c for c in want if c not in pq.read_schema(path).names]
        if missing:
            raise CodescaleError(
                f"{path}: missing column(s) {', '.join(missing)}: not the signature records of "
                "this codescale and these --bands/--rows (rerun `codescale dedup-signatures`)"
            )
    removed, stats = cluster(
        list(args.signatures), args.threshold, args.num_perm, b, list(args.corpus), args.ngram
    )
    parts = [Path(p).name.split(".")[0] for p in args.signatures]
    removed = removed.set_column(
        removed.schema.get_field_index("part"), "part",
        pa.array([parts[k] for k in removed.column("part").to_pylist()], pa.string()),
    )  # fmt: skip
    stats = {
        "input": [str(p) for p in args.signatures],
        **stats,
        "params": _params(args.ngram, args.num_perm, args.threshold, args.seed, b, r),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    write_parquet(removed, args.removed)
    write_json(args.stats, stats)
    log.info("%d -> %d docs (exact %d, near %d) in %.1fs", stats["docs_in"], stats["docs_out"],
             stats["removed"]["exact"]["docs"], stats["removed"]["near"]["docs"],
             stats["seconds"])  # fmt: skip


def configure_filter(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="one language's corpus part parquet")
    parser.add_argument("--selection", default=None, help="the corpus's selection.json")
    parser.add_argument("--lang", required=True, help="the language of --input")
    parser.add_argument("--part", required=True, help="the part's name (p00000, ...)")
    parser.add_argument("--removed-all", required=True, help="dedup-cluster's removed documents")
    parser.add_argument("--output", required=True, help="kept documents of the part (parquet)")
    parser.add_argument("--removed", required=True, help="removed documents of the part")


def run_filter(args: argparse.Namespace) -> None:
    removed = pq.read_table(args.removed_all, filters=[("part", "=", args.part)])
    removed = removed.drop_columns(["part"]).cast(REMOVED_SCHEMA)
    gone = set(removed.column("doc_id").to_pylist())
    schema = _corpus_schema()
    n_in = n_out = 0
    with atomic_path(args.output) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for t in _part_batches(args.input, list(CORPUS_COLUMNS), _selection(args.selection,
                               args.lang), args.part):  # fmt: skip
            ids = t.column("doc_id").to_pylist()
            keep = pa.array([i not in gone for i in ids], pa.bool_())
            kept = t.filter(keep).select(list(CORPUS_COLUMNS)).cast(schema)
            n_in += t.num_rows
            n_out += kept.num_rows
            writer.write_table(kept)
    if n_in - n_out != removed.num_rows:
        raise CodescaleError(
            f"{args.input}: {removed.num_rows} documents of part {args.part} are listed as "
            f"removed but {n_in - n_out} were found: the signatures and the corpus disagree"
        )
    write_parquet(removed, args.removed)
    log.info("%s %s: %d -> %d docs", args.lang, args.part, n_in, n_out)


def _corpus_schema() -> pa.Schema:
    from codescale.data.corpus import _schema_fields

    return pa.schema(_schema_fields())
