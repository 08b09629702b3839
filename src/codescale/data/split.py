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
  the sets) with a validation or test document is >= --threshold (dedup.threshold: the same
  near-duplicate measure as dedup) (near_validation / near_test); or
- reference: it contains a reference program from --decontaminate-against (column `content`)
  nearly verbatim: at least --containment-threshold t (split.containment_threshold) of the
  reference's distinct shingles occur in the document (containment, computed exactly on shingle
  sets; candidates by prefix filtering: a document reaching t must share one of the reference's
  p = k - ceil(t k) + 1 rarest shingles, so the search is exact yet never joins on common
  shingles). Containment >= t also covers Jaccard >= t, so near copies of references are caught
  too. References with fewer than --min-reference-shingles distinct shingles are skipped
  (counted): a one-liner would match unrelated code.
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
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from codescale import config as cs_config
from codescale.data import minhash
from codescale.data.dedup import add_minhash_args, bands_rows, read_corpus, write_parquet
from codescale.errors import CodescaleError
from codescale.io import atomic_path, read_json, write_json

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


REMOVAL_REASONS = ("near_validation", "near_test", "reference")


def _removed_table(
    doc_ids: list[str], best: dict[int, tuple[float, str, str]], rows: list[int]
) -> pa.Table:
    """The removed training rows (`rows`, in doc_id order) with best[row] = (score, reason,
    match): what both the one-job split and a split_train part write."""
    return pa.table(
        {
            "doc_id": [doc_ids[i] for i in rows],
            "reason": [best[i][1] for i in rows],
            "match": [best[i][2] for i in rows],
            "score": [best[i][0] for i in rows],
        },
        schema=REMOVED_SCHEMA,
    )


def _reference_counts(ref_sh: minhash.Shingles, n_rows: int, min_shingles: int) -> dict[str, int]:
    """References read, and those long enough to decontaminate against (min_shingles)."""
    used = int((ref_sh.sizes >= max(min_shingles, 1)).sum())
    return {"rows": n_rows, "used": used, "too_short": int(len(ref_sh.sizes)) - used}


def _params(
    ngram: int,
    num_perm: int,
    threshold: float,
    b: int,
    r: int,
    min_shingles: int,
    containment_threshold: float,
) -> dict[str, Any]:
    return {
        "ngram": ngram,
        "num_perm": num_perm,
        "threshold": threshold,
        "containment_threshold": containment_threshold,
        "bands": b,
        "rows": r,
        "min_reference_shingles": min_shingles,
    }


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
    containment_threshold: float = 0.7,
) -> tuple[dict[str, pa.Table], pa.Table, dict[str, Any]]:
    """Split and decontaminate; returns ({split: table}, removed, stats).

    A zero fraction leaves that split empty (the algorithm allows it; the config schema and
    the command line ask for > 0). threshold: Jaccard of near-duplicates (dedup.threshold);
    containment_threshold: share of a reference's shingles (split.containment_threshold)."""
    t0 = time.perf_counter()
    for name, f in (("--validation", validation), ("--test", test)):
        if not 0.0 <= f < 1.0:
            raise CodescaleError(f"{name} must be in [0, 1), got {f}")
    if validation + test >= 1.0:
        raise CodescaleError(f"--validation + --test must be < 1, got {validation + test}")
    _check_thresholds(threshold, containment_threshold)
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
    docs, refs, cont = reference_containment(
        train_sh, ref_sh, containment_threshold, min_reference_shingles
    )
    for d, rf, c in zip(docs.tolist(), refs.tolist(), cont.tolist(), strict=True):
        row = int(order[train_pos[d]])
        if row not in best or best[row][1] != "reference" or c > best[row][0]:
            best[row] = (c, "reference", ref_labels[rf])  # reference wins: it is the eval set

    removed_rows = sorted(best, key=lambda i: doc_ids[i])
    keep = np.ones(len(doc_ids), dtype=bool)
    keep[removed_rows] = False
    out = {s: table.filter(pa.array((split_of == k) & keep)) for k, s in enumerate(SPLITS)}
    removed = _removed_table(doc_ids, best, removed_rows)
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
                for reason in REMOVAL_REASONS
            },
            "references": _reference_counts(ref_sh, len(ref_contents), min_reference_shingles),
            "candidate_pairs_near": len(pairs),
        },
        "params": _params(
            ngram, num_perm, threshold, b, r, min_reference_shingles, containment_threshold
        ),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return out, removed, stats


def _check_thresholds(threshold: float, containment_threshold: float) -> None:
    """Both thresholds by the config schema's rules (dedup.threshold in (0, 1), the
    containment in (0, 1]), so the stage and the config agree on what is legal."""
    cs_config.check("dedup.threshold", threshold, "--threshold")
    cs_config.check("split.containment_threshold", containment_threshold, "--containment-threshold")


def _add_containment(parser: argparse.ArgumentParser) -> None:
    t = cs_config.default("split.containment_threshold")
    parser.add_argument(
        "--containment-threshold",
        type=float,
        default=t,
        help=f"remove a training file holding this share of a reference's shingles (default {t})",
    )


def _check_fractions(validation: float, test: float) -> None:
    """--validation and --test by the config schema's rule (split.validation, split.test)."""
    cs_config.check("split.validation", validation, "--validation")
    cs_config.check("split.test", test, "--test")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", required=True, help="deduplicated corpus parquet of one language"
    )
    parser.add_argument("--out-dir", required=True, help="writes train/validation/test.parquet")
    _add_fraction_args(parser)
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
    _add_containment(parser)
    add_minhash_args(parser)


def run(args: argparse.Namespace) -> None:
    _check_fractions(args.validation, args.test)
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
        args.containment_threshold,
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


# --------------------------------------------------------------------------- parts (at scale)
#
# The same split as `split_table`, as bounded jobs over the parts of a language (see README
# "Data at scale"): `assign` (one small job per language) assigns repositories from (repo,
# n_bytes) records of every part; `eval` (per part) writes the part's validation and test rows;
# `index` (one job per language) keeps the LSH band keys of every validation and test document
# plus the shingle sets of the held-out references; `train` (per part) writes the part's
# training rows decontaminated against that index, verifying each candidate on exact shingle
# sets (the candidate evaluation documents are read back by row group); `stats` gathers counts.
# Nothing depends on how documents are grouped into parts: repositories are assigned from byte
# totals, candidates are (band, key) matches against all evaluation documents, and ties between
# matches break by doc_id (references by their row), so 1 part and 8 parts give the same split.

EVAL_ROW_GROUP = 1024  # rows per row group of validation/test parts: candidates are read by group
PART_READ_ROWS = 8192  # rows per streamed batch of the assign and index jobs
REPOS_SCHEMA = pa.schema([("repo", pa.string()), ("split", pa.string()), ("n_bytes", pa.int64())])


def _open_part(path: str | os.PathLike[str], columns: tuple[str, ...]) -> pq.ParquetFile:
    """A part's ParquetFile after checking it exists and has `columns`; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise CodescaleError(f"part not found: {path}")
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise CodescaleError(f"cannot read parquet {path}: {err}") from err
    missing = [c for c in columns if c not in pf.schema_arrow.names]
    if missing:
        raise CodescaleError(f"{path}: missing column(s) {', '.join(missing)}")
    return pf


def part_repo_bytes(paths: list[str], lang: str) -> dict[str, int]:
    """repo -> bytes over every part, streamed: memory is one record per repository."""
    totals: dict[str, int] = {}
    for path in paths:
        pf = _open_part(path, ("repo", "n_bytes"))
        for batch in pf.iter_batches(columns=["repo", "n_bytes"], batch_size=PART_READ_ROWS):
            if batch.column(0).null_count:
                raise CodescaleError(f"{lang}: {path}: column repo has nulls")
            sums = pa.Table.from_batches([batch]).group_by("repo").aggregate([("n_bytes", "sum")])
            for repo, nb in zip(
                sums.column("repo").to_pylist(), sums.column("n_bytes_sum").to_pylist(), strict=True
            ):
                totals[repo] = totals.get(repo, 0) + int(nb or 0)
    return totals


def assign_parts(
    paths: list[str], validation: float, test: float, seed: int, lang: str
) -> pa.Table:
    """The repository table (repo, split, n_bytes; sorted by repo) of a language's parts."""
    _check_fractions(validation, test)
    repo_bytes = part_repo_bytes(paths, lang)
    where = assign_repos(repo_bytes, {"validation": validation, "test": test}, seed, lang)
    repos = sorted(where)
    return pa.table(
        {
            "repo": repos,
            "split": [where[r] for r in repos],
            "n_bytes": [repo_bytes[r] for r in repos],
        },
        schema=REPOS_SCHEMA,
    )


def _check_fractions(validation: float, test: float) -> None:
    for name, f in (("--validation", validation), ("--test", test)):
        if not 0.0 <= f < 1.0:
            raise CodescaleError(f"{name} must be in [0, 1), got {f}")
    if validation + test >= 1.0:
        raise CodescaleError(f"--validation + --test must be < 1, got {validation + test}")


def _eval_repos(repos_path: str | os.PathLike[str]) -> dict[str, pa.Array]:
    """{split: repos of that split} from the assign job's table."""
    pf = _open_part(repos_path, ("repo", "split"))
    table = pf.read(columns=["repo", "split"])
    return {
        s: table.filter(pc.equal(table.column("split"), s)).column("repo").combine_chunks()
        for s in SPLITS
    }


def split_eval_part(
    docs_path: str, repos_path: str, out: dict[str, str | os.PathLike[str]]
) -> dict[str, int]:
    """Write the validation and test rows of one part (input order kept); returns doc counts.

    Every repository of the part must be in the repository table (else the table is stale).
    """
    table = read_corpus(docs_path)
    by_split = _eval_repos(repos_path)
    repo = table.column("repo")
    known = pc.is_in(repo, value_set=pa.concat_arrays(list(by_split.values())))
    if not pc.all(known).as_py() and table.num_rows:
        missing = repo.filter(pc.invert(known))[0].as_py()
        raise CodescaleError(
            f"{docs_path}: repository {missing!r} is not in {repos_path}; the repository "
            "assignment is older than this part (rerun the split_assign job)"
        )
    counts = {}
    for s in ("validation", "test"):
        rows = table.filter(pc.is_in(repo, value_set=by_split[s]))
        with atomic_path(out[s]) as tmp:
            pq.write_table(rows, tmp, row_group_size=EVAL_ROW_GROUP)
        counts[s] = rows.num_rows
    return counts


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """LSH band keys (uint64, n_docs x bands), the keys `minhash.candidate_pairs` buckets by."""
    if bands * rows > sigs.shape[1]:
        raise CodescaleError(f"bands x rows = {bands * rows} exceeds num_perm = {sigs.shape[1]}")
    mult = minhash._BAND_MULT[:rows]
    out = np.empty((len(sigs), bands), dtype=np.uint64)
    for band in range(bands):
        cols = sigs[:, band * rows : (band + 1) * rows].astype(np.uint64)
        out[:, band] = minhash.mix64((cols * mult).sum(axis=1, dtype=np.uint64))
    return out


def build_index(
    eval_parts: dict[str, list[str]],
    references: list[str],
    out_dir: str | os.PathLike[str],
    ngram: int = 5,
    num_perm: int = 256,
    threshold: float = 0.7,
    seed: int = 0,
    bands: int | None = None,
    rows: int | None = None,
) -> dict[str, int]:
    """The decontamination index of one language, three parquet files in out_dir:

    - docs.parquet: doc_id, split, file, row of every validation/test document (doc = row number);
    - bands.parquet: band (int32), key (uint64), doc (int64) of every document with shingles;
    - refs.parquet: label ('file#row'), shingles (list<uint64>) of every reference.
    Streams the parts in batches: memory is the index itself (bands x 20 bytes per document).
    """
    cs_config.check("dedup.threshold", threshold, "--threshold")
    b, r = bands_rows(threshold, num_perm, bands, rows)
    hasher = minhash.MinHasher(num_perm, seed)
    doc_cols: dict[str, list[Any]] = {"doc_id": [], "split": [], "file": [], "row": []}
    key_parts, doc_parts = [], []
    n = 0
    for split in ("validation", "test"):
        for path in eval_parts.get(split, []):
            pf = _open_part(path, ("doc_id", "content"))
            start = 0
            for batch in pf.iter_batches(columns=["doc_id", "content"], batch_size=PART_READ_ROWS):
                ids = batch.column(0).to_pylist()
                sh = minhash.shingle(batch.column(1).to_pylist(), ngram)
                keys = band_keys(hasher.signatures(sh), b, r)
                valid = np.flatnonzero(sh.sizes > 0)
                key_parts.append(keys[valid])
                doc_parts.append(valid + n)
                doc_cols["doc_id"].extend(ids)
                doc_cols["split"].extend([split] * len(ids))
                doc_cols["file"].extend([str(path)] * len(ids))
                doc_cols["row"].extend(range(start, start + len(ids)))
                start += len(ids)
                n += len(ids)
    keys = np.concatenate(key_parts) if key_parts else np.zeros((0, b), np.uint64)
    docs = np.concatenate(doc_parts) if doc_parts else np.zeros(0, np.int64)
    band_table = pa.table(
        {
            "band": np.repeat(np.arange(b, dtype=np.int32)[None, :], len(keys), 0).ravel(),
            "key": keys.ravel(),
            "doc": np.repeat(docs.astype(np.int64), b),
        }
    )
    ref_contents, ref_labels = read_references(references)
    ref_sh = minhash.shingle(ref_contents, ngram)
    refs_table = pa.table(
        {
            "label": pa.array(ref_labels, pa.string()),
            "shingles": pa.array(
                [ref_sh.doc(i) for i in range(len(ref_sh))], pa.list_(pa.uint64())
            ),
        }
    )
    out_dir = Path(out_dir)
    write_parquet(pa.table(doc_cols, schema=INDEX_DOCS_SCHEMA), out_dir / "docs.parquet")
    write_parquet(band_table, out_dir / "bands.parquet")
    write_parquet(refs_table, out_dir / "refs.parquet")
    return {"eval_docs": n, "band_keys": band_table.num_rows, "references": len(ref_labels)}


INDEX_DOCS_SCHEMA = pa.schema(
    [("doc_id", pa.string()), ("split", pa.string()), ("file", pa.string()), ("row", pa.int64())]
)


def _read_rows(path: str, rows: np.ndarray) -> list[str]:
    """`content` of the given rows (sorted) of one parquet, reading only their row groups."""
    pf = _open_part(path, ("content",))
    meta = pf.metadata
    starts = np.cumsum([0] + [meta.row_group(g).num_rows for g in range(meta.num_row_groups)])
    if len(rows) and rows[-1] >= starts[-1]:
        raise CodescaleError(
            f"{path} has {starts[-1]} rows, the decontamination index names row {rows[-1]}: "
            "the index is older than the file (rerun the split_index job)"
        )
    groups = np.searchsorted(starts, rows, side="right") - 1
    out: list[str] = []
    for g in np.unique(groups).tolist():
        col = pf.read_row_group(g, columns=["content"]).column(0)
        out.extend(col.take(pa.array(rows[groups == g] - starts[g])).to_pylist())
    return out


def split_train_part(
    docs_path: str,
    repos_path: str,
    index_dir: str | os.PathLike[str],
    ngram: int = 5,
    num_perm: int = 256,
    threshold: float = 0.7,
    seed: int = 0,
    bands: int | None = None,
    rows: int | None = None,
    min_reference_shingles: int = 16,
    containment_threshold: float = 0.7,
) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    """The training rows of one part, decontaminated against the index: (train, removed, stats).

    Same rules as `split_table` (near: exact Jaccard >= threshold with a validation/test
    document among LSH candidates; reference: containment >= containment_threshold; a reference
    match wins, else the highest score, ties by the match's doc_id / the reference's row).
    """
    t0 = time.perf_counter()
    _check_thresholds(threshold, containment_threshold)
    b, r = bands_rows(threshold, num_perm, bands, rows)
    table = read_corpus(docs_path)
    by_split = _eval_repos(repos_path)
    eval_repos = pa.concat_arrays([by_split["validation"], by_split["test"]])
    train = table.filter(pc.invert(pc.is_in(table.column("repo"), value_set=eval_repos)))
    doc_ids = train.column("doc_id").to_pylist()
    sh = minhash.shingle(train.column("content").to_pylist(), ngram)
    keys = band_keys(minhash.MinHasher(num_perm, seed).signatures(sh), b, r)
    valid = np.flatnonzero(sh.sizes > 0)

    index_dir = Path(index_dir)
    idx_bands = pl.read_parquet(_index_file(index_dir, "bands.parquet"))
    tdf = pl.DataFrame(
        {
            "band": np.repeat(np.arange(b, dtype=np.int32)[None, :], len(valid), 0).ravel(),
            "key": keys[valid].ravel(),
            "t": np.repeat(valid.astype(np.int64), b),
        }
    )
    cand = tdf.join(idx_bands, on=["band", "key"]).select("t", "doc").unique().sort("doc", "t")
    best: dict[int, tuple[float, str, str]] = {}  # train row -> (score, reason, match)
    n_pairs = cand.height
    if n_pairs:
        idx_docs = pl.read_parquet(_index_file(index_dir, "docs.parquet"))
        wanted = np.unique(cand["doc"].to_numpy())
        info = idx_docs[wanted.tolist()]
        contents: list[str] = [""] * len(wanted)
        files = info["file"].to_list()
        rows_of = info["row"].to_numpy()
        for f in dict.fromkeys(files):
            pos = np.flatnonzero(np.array(files) == f)
            pos = pos[np.argsort(rows_of[pos])]
            for p, text in zip(pos.tolist(), _read_rows(f, rows_of[pos]), strict=True):
                contents[p] = text
        eval_sh = minhash.shingle(contents, ngram)
        both = minhash.Shingles(
            np.concatenate([eval_sh.values, sh.values]),
            np.concatenate([eval_sh.offsets, sh.offsets[1:] + eval_sh.offsets[-1]]),
        )
        e_pos = np.searchsorted(wanted, cand["doc"].to_numpy())
        t_rows = cand["t"].to_numpy()
        jac = minhash.pair_jaccard(both, np.stack([e_pos, t_rows + len(wanted)], axis=1))
        eval_ids = info["doc_id"].to_list()
        eval_split = info["split"].to_list()
        for e, t, j in zip(e_pos.tolist(), t_rows.tolist(), jac.tolist(), strict=True):
            if j >= threshold:
                c = (j, f"near_{eval_split[e]}", eval_ids[e])
                old = best.get(t)
                if old is None or c[0] > old[0] or (c[0] == old[0] and c[2] < old[2]):
                    best[t] = c

    refs = pq.read_table(_index_file(index_dir, "refs.parquet"))
    ref_vals = refs.column("shingles").to_pylist()
    ref_sh = minhash.Shingles(
        np.concatenate([np.asarray(v, np.uint64) for v in ref_vals])
        if ref_vals
        else np.zeros(0, np.uint64),
        np.concatenate([[0], np.cumsum([len(v) for v in ref_vals])]).astype(np.int64),
    )
    ref_labels = refs.column("label").to_pylist()
    docs, refs_hit, cont = reference_containment(
        sh, ref_sh, containment_threshold, min_reference_shingles
    )
    ref_best: dict[int, tuple[float, int]] = {}
    for d, rf, c in zip(docs.tolist(), refs_hit.tolist(), cont.tolist(), strict=True):
        if d not in ref_best or (c, -rf) > (ref_best[d][0], -ref_best[d][1]):
            ref_best[d] = (c, rf)
    for d, (c, rf) in ref_best.items():
        best[d] = (c, "reference", ref_labels[rf])  # reference wins: it is the eval set

    removed_rows = sorted(best, key=lambda i: doc_ids[i])
    keep = np.ones(len(doc_ids), dtype=bool)
    keep[removed_rows] = False
    n_bytes = np.asarray(train.column("n_bytes").to_numpy(zero_copy_only=False), dtype=np.int64)
    removed = _removed_table(doc_ids, best, removed_rows)
    stats = {
        "input": str(docs_path),
        "train_docs_before": len(doc_ids),
        "removed_bytes": {
            reason: int(sum(n_bytes[i] for i in removed_rows if best[i][1] == reason))
            for reason in REMOVAL_REASONS
        },
        "candidate_pairs_near": n_pairs,
        "references": _reference_counts(ref_sh, len(ref_labels), min_reference_shingles),
        "params": _params(
            ngram, num_perm, threshold, b, r, min_reference_shingles, containment_threshold
        ),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return train.filter(pa.array(keep)), removed, stats


def _index_file(index_dir: Path, name: str) -> Path:
    path = index_dir / name
    if not path.is_file():
        raise CodescaleError(f"decontamination index file not found: {path}")
    return path


def _column_sum(path: str, column: str) -> tuple[int, int]:
    """(rows, sum of an integer column) of one parquet, streamed."""
    pf = _open_part(path, (column,))
    total = 0
    for batch in pf.iter_batches(columns=[column], batch_size=65536):
        total += int(pc.sum(batch.column(0)).as_py() or 0)
    return pf.metadata.num_rows, total


def gather_stats(
    lang: str,
    repos_path: str,
    split_parts: dict[str, list[str]],
    removed_parts: list[str],
    part_stats: list[str],
    fractions: dict[str, float],
    seed: int,
) -> dict[str, Any]:
    """`results/split/{lang}/stats.json` from the parts (the shape `split_table` reports)."""
    repos = _open_part(repos_path, ("split",)).read(columns=["split"]).column(0).to_pylist()
    splits = {}
    for s in SPLITS:
        n_docs = n_b = 0
        for path in split_parts.get(s, []):
            d, nb = _column_sum(path, "n_bytes")
            n_docs += d
            n_b += nb
        splits[s] = {"docs": n_docs, "bytes": n_b, "repos": repos.count(s)}
    parts = [read_json(p) for p in part_stats]
    counts = dict.fromkeys(REMOVAL_REASONS, 0)
    for path in removed_parts:
        reasons = _open_part(path, ("reason",)).read(columns=["reason"]).column(0).to_pylist()
        for reason in reasons:
            counts[reason] += 1
    first = parts[0] if parts else {"params": {}, "references": {}}
    return {
        "lang": lang,
        "seed": seed,
        "fractions": fractions,
        "parts": len(part_stats),
        "splits": splits,
        "decontamination": {
            "train_docs_before": sum(p["train_docs_before"] for p in parts),
            "removed": {
                reason: {
                    "docs": counts[reason],
                    "bytes": sum(p["removed_bytes"][reason] for p in parts),
                }
                for reason in REMOVAL_REASONS
            },
            "references": first["references"],
            "candidate_pairs_near": sum(p["candidate_pairs_near"] for p in parts),
        },
        "params": first["params"],
        "seconds": round(sum(p["seconds"] for p in parts), 3),
    }


# --------------------------------------------------------------------------- CLI of the parts


def _add_fraction_args(parser: argparse.ArgumentParser) -> None:
    """--validation, --test: defaults split.validation, split.test of the config schema."""
    for split in ("validation", "test"):
        f = cs_config.default(f"split.{split}")
        parser.add_argument(f"--{split}", type=float, default=f, help=f"byte fraction ({f})")


def _add_fractions(parser: argparse.ArgumentParser) -> None:
    _add_fraction_args(parser)
    seed = cs_config.default("seed")
    parser.add_argument("--seed", type=int, default=seed, help="seed of the repository order")


def configure_assign(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", nargs="+", required=True, help="deduplicated parts (parquet)")
    parser.add_argument("--lang", required=True, help="language (named in errors)")
    parser.add_argument("--out", required=True, help="repository table: repo, split, n_bytes")
    _add_fractions(parser)


def run_assign(args: argparse.Namespace) -> None:
    _check_fractions(args.validation, args.test)
    table = assign_parts(list(args.input), args.validation, args.test, args.seed, args.lang)
    write_parquet(table, args.out)
    counts = {s: table.column("split").to_pylist().count(s) for s in SPLITS}
    log.info("%s: %d repositories from %d parts: %s", args.lang, table.num_rows,
             len(args.input), counts)  # fmt: skip


def configure_eval(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="one deduplicated part (parquet)")
    parser.add_argument("--repos", required=True, help="repository table of `split-assign`")
    parser.add_argument("--validation-out", required=True, help="validation rows (parquet)")
    parser.add_argument("--test-out", required=True, help="test rows (parquet)")


def run_eval(args: argparse.Namespace) -> None:
    out = {"validation": args.validation_out, "test": args.test_out}
    counts = split_eval_part(args.input, args.repos, out)
    log.info("%s: validation %d, test %d docs", args.input, counts["validation"], counts["test"])


def configure_index(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--validation", nargs="*", default=[], help="validation parts")
    parser.add_argument("--test", nargs="*", default=[], help="test parts")
    parser.add_argument(
        "--decontaminate-against", nargs="*", default=[], metavar="PARQUET",
        help="reference parquets (column content)",
    )  # fmt: skip
    parser.add_argument("--out-dir", required=True, help="writes docs/bands/refs.parquet")
    add_minhash_args(parser)


def run_index(args: argparse.Namespace) -> None:
    counts = build_index(
        {"validation": list(args.validation), "test": list(args.test)},
        list(args.decontaminate_against),
        args.out_dir,
        args.ngram,
        args.num_perm,
        args.threshold,
        args.seed,
        args.bands,
        args.rows,
    )
    log.info("index %s: %s", args.out_dir, counts)


def configure_train(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="one deduplicated part (parquet)")
    parser.add_argument("--repos", required=True, help="repository table of `split-assign`")
    parser.add_argument("--index", required=True, help="directory of `split-index`")
    parser.add_argument("--out", required=True, help="decontaminated training rows (parquet)")
    parser.add_argument("--removed", required=True, help="removed rows with reason (parquet)")
    parser.add_argument("--stats", required=True, help="the part's counts (json)")
    parser.add_argument(
        "--min-reference-shingles", type=int, default=16,
        help="skip references with fewer distinct shingles (default 16)",
    )  # fmt: skip
    _add_containment(parser)
    add_minhash_args(parser)


def run_train(args: argparse.Namespace) -> None:
    train, removed, stats = split_train_part(
        args.input,
        args.repos,
        args.index,
        args.ngram,
        args.num_perm,
        args.threshold,
        args.seed,
        args.bands,
        args.rows,
        args.min_reference_shingles,
        args.containment_threshold,
    )
    write_parquet(train, args.out)
    write_parquet(removed, args.removed)
    write_json(args.stats, stats)
    log.info("%s: train %d docs, decontamination removed %d", args.input, train.num_rows,
             removed.num_rows)  # fmt: skip


def configure_stats(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", required=True)
    parser.add_argument("--repos", required=True, help="repository table of `split-assign`")
    for s in SPLITS:
        parser.add_argument(f"--{s}", nargs="*", default=[], help=f"{s} parts")
    parser.add_argument("--removed", nargs="*", default=[], help="removed parts")
    parser.add_argument("--part-stats", nargs="*", default=[], help="per-part stats (json)")
    parser.add_argument("--validation-fraction", type=float, required=True)
    parser.add_argument("--test-fraction", type=float, required=True)
    parser.add_argument("--seed", type=int, default=cs_config.default("seed"))
    parser.add_argument("--out", required=True, help="stats.json to write")


def run_stats(args: argparse.Namespace) -> None:
    stats = gather_stats(
        args.lang,
        args.repos,
        {s: list(getattr(args, s)) for s in SPLITS},
        list(args.removed),
        list(args.part_stats),
        {"validation": args.validation_fraction, "test": args.test_fraction},
        args.seed,
    )
    write_json(args.out, stats)
    sp = stats["splits"]
    log.info(
        "%s: train %d / validation %d / test %d docs over %d parts",
        args.lang, sp["train"]["docs"], sp["validation"]["docs"], sp["test"]["docs"],
        stats["parts"],
    )  # fmt: skip
