"""Benchmark codescale's MinHash-LSH near-dedup against datasketch on the same corpus and settings.

Both run in this process on the same documents with the same tokens, n-gram, permutations and LSH
bands/rows. Ground truth is the exact Jaccard of *every* document pair, computed from shingle
strings (not from either tool's hashes) with a sparse matrix product; precision and recall are of
each tool's final decision (LSH candidate and estimated Jaccard >= threshold) against it.

Corpus: results/corpus/*.parquet if present (or --corpus), else .py files under /usr/lib/python3*/.

    nice python benchmarks/dedup.py [--corpus P.parquet ...] [--max-mb 16] [--no-write]
"""

from __future__ import annotations

import sys

# benchmarks/ holds scripts named like stdlib modules (tokenize.py): keep it off the import path
sys.path[:] = [p for p in sys.path if p not in ("", __file__.rsplit("/", 1)[0])]

import argparse  # noqa: E402
import glob  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from codescale.data import minhash  # noqa: E402
from codescale.data.dedup import VERIFY_MARGIN, dedup_table, normalise  # noqa: E402

TOKEN = re.compile(r"[A-Za-z0-9_\x80-\U0010ffff]+|[^A-Za-z0-9_\x80-\U0010ffff\s]")
REPO = Path(__file__).resolve().parents[1]


def load(args: argparse.Namespace) -> tuple[list[str], str]:
    paths = args.corpus or sorted(glob.glob(str(REPO / "results/corpus/*.parquet")))
    limit = int(args.max_mb * 1e6)
    texts: list[str] = []
    size = 0
    if paths:
        for p in paths:
            for c in pq.read_table(p, columns=["content"]).column("content").to_pylist():
                if size >= limit:
                    break
                texts.append(c)
                size += len(c.encode())
        return texts, f"{len(paths)} corpus parquet(s): {', '.join(Path(p).name for p in paths)}"
    files = sorted(glob.glob("/usr/lib/python3*/**/*.py", recursive=True))
    for f in files:
        if size >= limit:
            break
        c = Path(f).read_text(encoding="utf-8", errors="replace")
        texts.append(c)
        size += len(c.encode())
    return texts, ".py files under /usr/lib/python3*/ (sorted, first until --max-mb)"


def string_shingles(text: str, n: int) -> set[str]:
    toks = TOKEN.findall(text)
    if not toks:
        return set()
    return {" ".join(toks[i : i + n]) for i in range(max(1, len(toks) - n + 1))}


def run_datasketch(texts, n, num_perm, threshold, seed, params):
    from datasketch import MinHash, MinHashLSH

    t0, c0 = time.perf_counter(), time.process_time()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, params=params)
    sketches, inserted = [], []
    for i, t in enumerate(texts):
        sh = string_shingles(t, n)
        m = MinHash(num_perm=num_perm, seed=seed)
        m.update_batch([s.encode() for s in sh])
        sketches.append(m)
        if sh:
            lsh.insert(i, m)
            inserted.append(i)
    pairs = set()
    for i in inserted:
        for j in lsh.query(sketches[i]):
            if j != i:
                pairs.add((min(i, j), max(i, j)))
    found = {p for p in pairs if sketches[p[0]].jaccard(sketches[p[1]]) >= threshold}
    return (time.perf_counter() - t0, time.process_time() - c0), len(pairs), found


def run_codescale(texts, n, num_perm, threshold, seed, bands, rows, exact=True, margin=None):
    """exact: every candidate decided on its exact shingle sets; margin (what the dedup stage
    does, codescale.data.dedup.VERIFY_MARGIN): only those whose estimate is that close to the
    threshold, the rest on the estimate."""
    t0, c0 = time.perf_counter(), time.process_time()
    sh = minhash.shingle(texts, n)
    sigs = minhash.MinHasher(num_perm, seed).signatures(sh)
    pairs = minhash.candidate_pairs(sigs, bands, rows, sh.sizes > 0)
    if margin is not None:
        est = minhash.estimated_jaccard(sigs, pairs)
        unsure = np.flatnonzero(np.abs(est - threshold) < margin)
        est[unsure] = minhash.pair_jaccard(sh, pairs[unsure])
    else:
        est = minhash.pair_jaccard(sh, pairs) if exact else minhash.estimated_jaccard(sigs, pairs)
    found = {(int(a), int(b)) for a, b in pairs[est >= threshold]}
    return (time.perf_counter() - t0, time.process_time() - c0), len(pairs), found


def exact_truth(texts, n, threshold) -> set[tuple[int, int]]:
    """All pairs with exact shingle-set Jaccard >= threshold (sparse X X^T)."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, t in enumerate(texts):
        ids = [vocab.setdefault(s, len(vocab)) for s in string_shingles(t, n)]
        rows.extend([i] * len(ids))
        cols.extend(ids)
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), (len(texts), len(vocab)))
    sizes = np.asarray(x.sum(axis=1)).ravel()
    inter = sp.triu(x @ x.T, k=1).tocoo()
    jac = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    ok = jac >= threshold - 1e-9
    return set(zip(inter.row[ok].tolist(), inter.col[ok].tolist(), strict=True))


def pr(found: set, truth: set) -> tuple[float, float]:
    tp = len(found & truth)
    return (tp / len(found) if found else 1.0), (tp / len(truth) if truth else 1.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", nargs="*", default=[], help="corpus parquet(s) (column content)")
    ap.add_argument("--max-mb", type=float, default=16.0, help="use documents up to this size")
    ap.add_argument("--ngram", type=int, default=5)
    ap.add_argument("--num-perm", type=int, default=256)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-write", action="store_true", help="do not update benchmarks/RESULTS.md")
    args = ap.parse_args()

    raw, source = load(args)
    texts = [normalise(t) for t in raw]  # what dedup's near pass sees
    mb = sum(len(t.encode()) for t in raw) / 1e6
    n, k, t, s = args.ngram, args.num_perm, args.threshold, args.seed
    b, r = minhash.lsh_params(t, k)
    print(
        f"corpus: {source}\n{len(texts)} docs, {mb:.1f} MB; ngram {n}, perms {k}, "
        f"threshold {t}, bands x rows {b} x {r}",
        flush=True,
    )

    b0, r0 = minhash.lsh_params(t, k, 0.5, 0.5)  # datasketch's own choice
    print(f"LSH: datasketch criterion {b0} x {r0}; codescale default {b} x {r}", flush=True)
    t_cs, cand_cs, found_cs = run_codescale(texts, n, k, t, s, b0, r0, exact=False)
    t_ds, cand_ds, found_ds = run_datasketch(texts, n, k, t, s, (b0, r0))
    t_def, cand_def, found_def = run_codescale(texts, n, k, t, s, b, r, exact=True)
    t_mix, cand_mix, found_mix = run_codescale(texts, n, k, t, s, b, r, margin=VERIFY_MARGIN)
    c0 = time.process_time()
    t0 = time.perf_counter()
    _, _, stats = dedup_table(_as_table(raw))
    t_stage = (time.perf_counter() - t0, time.process_time() - c0)
    truth = exact_truth(texts, n, t)
    ratio_wall = t_ds[0] / t_cs[0]
    ratio_cpu = t_ds[1] / t_cs[1]
    table = [
        "| implementation | LSH b x r | verify | wall s | CPU s | docs/s (CPU) | MB/s (CPU) "
        "| candidates | pairs >= t | precision | recall |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        _row(
            "codescale minhash", f"{b0}x{r0}", "estimate", t_cs, texts, mb, cand_cs, found_cs, truth
        ),
        _row(
            "datasketch 2.0.0", f"{b0}x{r0}", "estimate", t_ds, texts, mb, cand_ds, found_ds, truth
        ),
        _row(
            "codescale default", f"{b}x{r}", "exact", t_def, texts, mb, cand_def, found_def, truth
        ),
        _row(
            "codescale stage's rule",
            f"{b}x{r}",
            f"exact within {VERIFY_MARGIN} of t",
            t_mix,
            texts,
            mb,
            cand_mix,
            found_mix,
            truth,
        ),  # fmt: skip
        f"| codescale dedup stage (exact + near, end to end) | {b}x{r} | exact near t | "
        f"{t_stage[0]:.2f} | {t_stage[1]:.2f} | {len(texts) / t_stage[1]:.0f} | "
        f"{mb / t_stage[1]:.2f} | {stats['candidate_pairs']} | "
        f"removed {stats['docs_in'] - stats['docs_out']} | | |",
    ]
    summary = (
        f"Speed-up codescale / datasketch at identical settings: **{ratio_cpu:.1f}x CPU time**, "
        f"{ratio_wall:.1f}x wall time (the 2 cores are shared, so wall time is noisy). "
        f"Ground truth: {len(truth)} pairs with exact Jaccard >= {t} among all "
        f"{len(texts) * (len(texts) - 1) // 2} pairs."
    )
    print("\n".join(table))
    print(summary)
    if not args.no_write:
        section = "\n".join(
            [
                "## Dedup",
                "",
                f"`nice python benchmarks/dedup.py` on {_machine()}; corpus: {source}; "
                f"{len(texts)} docs, {mb:.1f} MB; ngram {n}, {k} permutations, threshold {t}. "
                "Timings include tokenising, shingling, hashing, LSH and verification; precision "
                "and recall are of each tool's final near-dup decision (LSH candidate and "
                "similarity >= threshold) against exact Jaccard over all pairs.",
                "",
                *table,
                "",
                summary,
                "",
            ]
        )
        _write_section(REPO / "benchmarks" / "RESULTS.md", section)
    return 0


def _row(name, lsh, verify, secs, texts, mb, cand, found, truth) -> str:
    p, r = pr(found, truth)
    return (
        f"| {name} | {lsh} | {verify} | {secs[0]:.2f} | {secs[1]:.2f} | "
        f"{len(texts) / secs[1]:.0f} | {mb / secs[1]:.2f} | {cand} | {len(found)} | "
        f"{p:.3f} | {r:.3f} |"
    )


def _as_table(texts):
    import hashlib

    import pyarrow as pa

    ids = [f"bench/{i:06d}" for i in range(len(texts))]
    return pa.table(
        {
            "doc_id": ids,
            "lang": ["python"] * len(texts),
            "repo": ["bench"] * len(texts),
            "path": ids,
            "content": texts,
            "n_bytes": [len(t.encode()) for t in texts],
            "sha256": [hashlib.sha256(t.encode()).hexdigest() for t in texts],
            "source": ["bench"] * len(texts),
        }
    )


def _machine() -> str:
    import os
    import platform

    py = sys.version.split()[0]
    return f"{platform.machine()}, {os.cpu_count()} CPU cores (shared), Python {py}"


def _write_section(path: Path, section: str) -> None:
    from codescale.io import atomic_path

    old = path.read_text() if path.exists() else "# Benchmark results\n\n"
    start = old.find("## Dedup")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + section
    else:
        end = old.find("\n## ", start + 1)
        new = old[:start] + section + ("" if end < 0 else old[end + 1 :])
    with atomic_path(path) as tmp:
        tmp.write_text(new)


if __name__ == "__main__":
    sys.exit(main())
