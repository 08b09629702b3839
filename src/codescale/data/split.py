"""`codescale split`: train / validation / test by repository, with train decontaminated.

Why by repository: files of one repository share code, names and licence headers, so a split by
file would leak near copies of validation files into training.

Assignment (deterministic, independent of row order): repositories are ordered by
sha256(f"{seed}\\0{repo}"). Walking that order, a repository goes to validation while validation
holds less than its byte target (fraction x all bytes) and would not exceed twice the target,
else likewise to test, else to train. Then every split with a positive fraction that is still
empty takes the smallest repository (bytes, then hash order) from the split with the most
repositories, and train likewise; so with >= 3 repositories every split is non-empty. Fewer
repositories than non-empty splits is an error naming the language and the count.

Decontamination removes a training document when
- near: its Jaccard (same shingle sets as dedup; candidates from MinHash LSH, verified exactly on
  the sets) with a validation or test document is >= threshold (near_validation / near_test); or
- reference: it contains a reference program from --decontaminate-against (column `content`)
  nearly verbatim: at least `threshold` of the reference's distinct shingles occur in the
  document (containment, computed exactly on shingle sets; candidates by prefix filtering: a
  document reaching the threshold must share one of the reference's p = k - ceil(t k) + 1 rarest
  shingles, so the search is exact yet never joins on common shingles). Containment >= t also
  covers Jaccard >= t, so near copies of references are caught too. References with fewer than
  --min-reference-shingles distinct shingles are skipped (counted): a one-liner would match
  unrelated code.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from codescale.data import minhash
from codescale.data.dedup import add_minhash_args, bands_rows, read_corpus, write_parquet
from codescale.errors import CodescaleError
from codescale.io import write_json

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
REMOVED_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("reason", pa.string()),
        ("match", pa.string()),
        ("score", pa.float64()),
    ]
)


def assign_repos(
    repo_bytes: dict[str, int], fractions: dict[str, float], seed: int, lang: str
) -> dict[str, str]:
    """repo -> split name, by the rule in the module docstring."""
    wanted = ["train"] + [s for s in ("validation", "test") if fractions[s] > 0]
    if len(repo_bytes) < len(wanted):
        raise CodescaleError(
            f"{lang}: {len(repo_bytes)} repositor{'y' if len(repo_bytes) == 1 else 'ies'} "
            f"cannot fill {len(wanted)} non-empty splits ({', '.join(wanted)}); "
            "need at least one repository per split"
        )
    key = {r: hashlib.sha256(f"{seed}\0{r}".encode()).hexdigest() for r in repo_bytes}
    order = sorted(repo_bytes, key=key.__getitem__)
    total = sum(repo_bytes.values())
    target = {s: fractions[s] * total for s in ("validation", "test")}
    filled = dict.fromkeys(SPLITS, 0)
    members: dict[str, list[str]] = {s: [] for s in SPLITS}
    for repo in order:
        size = repo_bytes[repo]
        dest = "train"
        for s in ("validation", "test"):
            if filled[s] < target[s] and filled[s] + size <= 2 * target[s]:
                dest = s
                break
        members[dest].append(repo)
        filled[dest] += size
    for s in wanted:
        if not members[s]:
            donor = max(SPLITS, key=lambda d: (len(members[d]), d == "train"))
            repo = min(members[donor], key=lambda r: (repo_bytes[r], key[r]))
            members[donor].remove(repo)
            members[s].append(repo)
    return {r: s for s in SPLITS for r in members[s]}


def read_references(paths: list[str]) -> tuple[list[str], list[str]]:
    """(contents, labels 'file#row') of every reference parquet; errors name the file."""
    contents: list[str] = []
    labels: list[str] = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise CodescaleError(f"--decontaminate-against: file not found: {path}")
        try:
            df = pl.read_parquet(path)
        except Exception as err:  # polars raises several types for a non-parquet file
            raise CodescaleError(f"cannot read parquet {path}: {err}") from err
        if "content" not in df.columns:
            raise CodescaleError(f"{path}: missing column content")
        col = df["content"].fill_null("").to_list()
        contents.extend(col)
        labels.extend(f"{path.name}#{i}" for i in range(len(col)))
    return contents, labels


def reference_containment(
    train: minhash.Shingles,
    refs: minhash.Shingles,
    threshold: float,
    min_shingles: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (train doc, reference) with containment >= threshold: (docs, refs, containment)."""
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    sizes = refs.sizes
    use = np.flatnonzero(sizes >= max(min_shingles, 1))
    if len(use) == 0 or len(train.values) == 0:
        return empty
    r_of = np.repeat(use, sizes[use])
    r_val = np.concatenate([refs.doc(i) for i in use])
    t_of = np.repeat(np.arange(len(train), dtype=np.int64), train.sizes)
    hit = np.isin(train.values, r_val)
    t_of, t_val = t_of[hit], train.values[hit]
    if len(t_val) == 0:
        return empty
    uniq, freq = np.unique(t_val, return_counts=True)
    pos = np.clip(np.searchsorted(uniq, r_val), 0, len(uniq) - 1)
    r_freq = np.where(uniq[pos] == r_val, freq[pos], 0)
    o = np.lexsort((r_val, r_freq, r_of))  # per reference, rarest shingles first
    r_of, r_val = r_of[o], r_val[o]
    first = np.searchsorted(r_of, r_of, side="left")
    rank = np.arange(len(r_of)) - first
    need = np.ceil(threshold * sizes[r_of] - 1e-9).astype(np.int64)
    prefix = rank < sizes[r_of] - need + 1
    tdf = pl.DataFrame({"doc": t_of, "sh": t_val})
    rdf = pl.DataFrame({"ref": r_of, "sh": r_val})
    cand = tdf.join(rdf.filter(pl.Series(prefix)), on="sh").select("doc", "ref").unique()
    if cand.height == 0:
        return empty
    counts = (
        tdf.filter(pl.col("doc").is_in(cand["doc"].unique().implode()))
        .join(rdf, on="sh")
        .join(cand, on=["doc", "ref"], how="semi")
        .group_by("doc", "ref")
        .len()
    )
    cont = counts["len"].to_numpy() / sizes[counts["ref"].to_numpy()]
    ok = cont >= threshold
    return counts["doc"].to_numpy()[ok], counts["ref"].to_numpy()[ok], cont[ok]


def split_table(
    table: pa.Table,
    validation: float,
    test: float,
    seed: int,
    references: tuple[list[str], list[str]] = ([], []),
    ngram: int = 5,
    num_perm: int = 256,
    threshold: float = 0.7,
    bands: int | None = None,
    rows: int | None = None,
    min_reference_shingles: int = 16,
    lang: str = "?",
) -> tuple[dict[str, pa.Table], pa.Table, dict[str, Any]]:
    """Split and decontaminate; returns ({split: table}, removed, stats)."""
    t0 = time.perf_counter()
    for name, f in (("--validation", validation), ("--test", test)):
        if not 0.0 <= f < 1.0:
            raise CodescaleError(f"{name} must be in [0, 1), got {f}")
    if validation + test >= 1.0:
        raise CodescaleError(f"--validation + --test must be < 1, got {validation + test}")
    if not 0.0 < threshold < 1.0:
        raise CodescaleError(f"--threshold must be in (0, 1), got {threshold}")
    b, r = bands_rows(threshold, num_perm, bands, rows)
    repos = table.column("repo").to_pylist()
    if any(x is None for x in repos):
        raise CodescaleError(f"{lang}: column repo has nulls")
    n_bytes = np.asarray(table.column("n_bytes").to_numpy(zero_copy_only=False), dtype=np.int64)
    repo_bytes: dict[str, int] = {}
    for repo, nb in zip(repos, n_bytes.tolist(), strict=True):
        repo_bytes[repo] = repo_bytes.get(repo, 0) + nb
    where = assign_repos(repo_bytes, {"validation": validation, "test": test}, seed, lang)
    split_of = np.array([SPLITS.index(where[x]) for x in repos], dtype=np.int64)

    doc_ids = table.column("doc_id").to_pylist()
    contents = table.column("content").to_pylist()
    # evaluation documents first: in an oversized LSH bucket they are the ones compared against
    order = np.concatenate([np.flatnonzero(split_of == k) for k in (1, 2, 0)])
    sh = minhash.shingle([contents[i] for i in order], ngram)
    sigs = minhash.MinHasher(num_perm, seed).signatures(sh)
    pairs = minhash.candidate_pairs(sigs, b, r, sh.sizes > 0)
    so = split_of[order]
    cross = (so[pairs[:, 0]] != 0) & (so[pairs[:, 1]] == 0)  # eval docs precede train docs
    pairs = pairs[cross]
    est = minhash.pair_jaccard(sh, pairs)

    best: dict[int, tuple[float, str, str]] = {}  # input row -> (score, reason, match)
    for (e, t), j in zip(pairs.tolist(), est.tolist(), strict=True):
        if j >= threshold:
            row = int(order[t])
            cand = (j, f"near_{SPLITS[so[e]]}", doc_ids[order[e]])
            if row not in best or cand[0] > best[row][0]:
                best[row] = cand
    ref_contents, ref_labels = references
    ref_sh = minhash.shingle(ref_contents, ngram)
    n_train = int((so == 0).sum())
    train_pos = np.arange(len(order) - n_train, len(order))  # train docs are last in `order`
    train_sh = minhash.Shingles(
        sh.values[sh.offsets[train_pos[0]] :] if n_train else np.zeros(0, np.uint64),
        (sh.offsets[len(order) - n_train :] - sh.offsets[len(order) - n_train]),
    )
    docs, refs, cont = reference_containment(train_sh, ref_sh, threshold, min_reference_shingles)
    for d, rf, c in zip(docs.tolist(), refs.tolist(), cont.tolist(), strict=True):
        row = int(order[train_pos[d]])
        if row not in best or best[row][1] != "reference" or c > best[row][0]:
            best[row] = (c, "reference", ref_labels[rf])  # reference wins: it is the eval set

    removed_rows = sorted(best, key=lambda i: doc_ids[i])
    keep = np.ones(len(doc_ids), dtype=bool)
    keep[removed_rows] = False
    out = {s: table.filter(pa.array((split_of == k) & keep)) for k, s in enumerate(SPLITS)}
    removed = pa.table(
        {
            "doc_id": [doc_ids[i] for i in removed_rows],
            "reason": [best[i][1] for i in removed_rows],
            "match": [best[i][2] for i in removed_rows],
            "score": [best[i][0] for i in removed_rows],
        },
        schema=REMOVED_SCHEMA,
    )
    reasons = ("near_validation", "near_test", "reference")
    stats: dict[str, Any] = {
        "lang": lang,
        "seed": seed,
        "fractions": {"validation": validation, "test": test},
        "splits": {
            s: {
                "docs": out[s].num_rows,
                "bytes": int(n_bytes[(split_of == k) & keep].sum()),
                "repos": len({x for x, w in where.items() if w == s}),
            }
            for k, s in enumerate(SPLITS)
        },
        "decontamination": {
            "train_docs_before": n_train,
            "removed": {
                reason: {
                    "docs": sum(1 for i in removed_rows if best[i][1] == reason),
                    "bytes": int(sum(n_bytes[i] for i in removed_rows if best[i][1] == reason)),
                }
                for reason in reasons
            },
            "references": {
                "rows": len(ref_contents),
                "used": int((ref_sh.sizes >= max(min_reference_shingles, 1)).sum()),
                "too_short": int((ref_sh.sizes < max(min_reference_shingles, 1)).sum()),
            },
            "candidate_pairs_near": len(pairs),
        },
        "params": {
            "ngram": ngram,
            "num_perm": num_perm,
            "threshold": threshold,
            "bands": b,
            "rows": r,
            "min_reference_shingles": min_reference_shingles,
        },
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return out, removed, stats


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", required=True, help="deduplicated corpus parquet of one language"
    )
    parser.add_argument("--out-dir", required=True, help="writes train/validation/test.parquet")
    parser.add_argument("--validation", type=float, default=0.05, help="byte fraction (0.05)")
    parser.add_argument("--test", type=float, default=0.05, help="byte fraction (0.05)")
    parser.add_argument(
        "--decontaminate-against",
        nargs="*",
        default=[],
        metavar="PARQUET",
        help="reference parquets (column content) removed from train by containment",
    )
    parser.add_argument(
        "--min-reference-shingles",
        type=int,
        default=16,
        help="skip references with fewer distinct shingles (default 16)",
    )
    add_minhash_args(parser, seed=0)


def run(args: argparse.Namespace) -> None:
    table = read_corpus(args.input)
    langs = set(table.column("lang").to_pylist())
    lang = langs.pop() if len(langs) == 1 else Path(args.input).stem
    refs = read_references(list(args.decontaminate_against))
    out, removed, stats = split_table(
        table,
        args.validation,
        args.test,
        args.seed,
        refs,
        args.ngram,
        args.num_perm,
        args.threshold,
        args.bands,
        args.rows,
        args.min_reference_shingles,
        lang,
    )
    stats = {"input": str(args.input), "references": list(args.decontaminate_against), **stats}
    out_dir = Path(args.out_dir)
    for s in SPLITS:
        write_parquet(out[s], out_dir / f"{s}.parquet")
    write_parquet(removed, out_dir / "removed.parquet")
    write_json(out_dir / "stats.json", stats)
    sp = stats["splits"]
    log.info(
        "%s: train %d / validation %d / test %d docs; decontamination removed %d",
        lang,
        sp["train"]["docs"],
        sp["validation"]["docs"],
        sp["test"]["docs"],
        removed.num_rows,
    )
