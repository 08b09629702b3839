"""MinHash + LSH over code token n-grams, vectorised with numpy across many documents at once.

Why not datasketch: it hashes every shingle with SHA-1 in a Python loop and evaluates its 256
permutations with a 61-bit modulo per document. Here tokenisation, shingle hashing and the
permutations run as a handful of numpy passes over a whole batch of documents, and the
permutations are multiply-add hashes modulo 2**64 (no division), so dedup of a corpus is several
times faster at the same parameters (see benchmarks/dedup.py).

Definitions (the dedup and split stages, and their decontamination, share them):
- token: a maximal run of word bytes (ASCII letters, digits, `_`, and every byte >= 0x80, so a
  non-ASCII identifier stays one token) or one ASCII punctuation byte; whitespace separates tokens
  and is otherwise ignored, so re-indented or re-wrapped code still matches.
- shingle: n consecutive tokens of one document (a document with 0 < len < n tokens has one
  shingle, all its tokens). Shingles are hashed to 40 bits and kept as a set per document.
- signature: for each of `num_perm` hash functions h_p(x) = (a_p * x + b_p) mod 2**64 with random
  odd a_p, the top 32 bits of min_x h_p(x) over the document's shingles (the top bits of a
  multiply-add are a universal family; taking the min before the shift is exact because the shift
  is monotone). Documents without tokens get no signature (`has_shingles` is False).
- estimated Jaccard: the fraction of equal signature entries. The stages use signatures only to
  find candidates (LSH) and verify candidates exactly on the shingle sets (pair_jaccard).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from codescale.errors import CodescaleError

U64 = np.uint64
_MASK40 = (1 << 40) - 1
_MAX_DOCS_PER_BATCH = 1 << 24  # the doc index shares a uint64 key with a 40-bit shingle hash

# byte class: 0 whitespace, 1 word, 2 punctuation
_BYTE_CLASS = np.full(256, 2, dtype=np.uint8)
_BYTE_CLASS[[ord(c) for c in " \t\n\r\v\f"]] = 0
for _lo, _hi in (("0", "9"), ("A", "Z"), ("a", "z")):
    _BYTE_CLASS[ord(_lo) : ord(_hi) + 1] = 1
_BYTE_CLASS[ord("_")] = 1
_BYTE_CLASS[0x80:] = 1

# fixed constants (never seeded: shingle hashes must agree between runs and stages)
_CONST_RNG = np.random.default_rng(0x636F64657363616C)  # "codescal"
_BYTE_VALUE = _CONST_RNG.integers(1, 2**63, size=256, dtype=np.uint64) | U64(1)
_POLY = U64(0x9E3779B97F4A7C15)
_POLY_INV = U64(pow(0x9E3779B97F4A7C15, -1, 2**64))
_GRAM_MULT = _CONST_RNG.integers(1, 2**63, size=64, dtype=np.uint64) | U64(1)
_BAND_MULT = _CONST_RNG.integers(1, 2**63, size=4096, dtype=np.uint64) | U64(1)


def mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: turns structured sums into well-spread 64-bit values."""
    z = z.astype(np.uint64, copy=True)
    z ^= z >> U64(30)
    z *= U64(0xBF58476D1CE4E5B9)
    z ^= z >> U64(27)
    z *= U64(0x94D049BB133111EB)
    z ^= z >> U64(31)
    return z


@dataclass
class Shingles:
    """Per-document sets of shingle hashes: doc i owns values[offsets[i]:offsets[i + 1]]."""

    values: np.ndarray  # uint64, 40-bit hashes
    offsets: np.ndarray  # int64, n_docs + 1

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def doc(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)


def _token_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hash every token of every text; returns (uint64 token hashes, int64 token offsets)."""
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    lengths = np.fromiter((len(b) + 1 for b in encoded), dtype=np.int64, count=len(encoded))
    data = np.frombuffer(b"\n".join(encoded) + b"\n", dtype=np.uint8)
    doc_start = np.concatenate(([0], np.cumsum(lengths)))
    cls = _BYTE_CLASS[data]
    word = cls == 1
    prev_word = np.concatenate(([False], word[:-1]))
    next_word = np.concatenate((word[1:], [False]))
    punct = cls == 2
    starts = np.flatnonzero(punct | (word & ~prev_word))
    ends = np.flatnonzero(punct | (word & ~next_word)) + 1
    # polynomial hash of each token's bytes from prefix sums: sum_k v[s+k] * P**k
    # = (C[e] - C[s]) * P**-s (mod 2**64; P is odd so it is invertible)
    n = len(data)
    powers = np.full(n, _POLY, dtype=np.uint64)
    powers[0] = 1
    np.cumprod(powers, out=powers)
    csum = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(_BYTE_VALUE[data] * powers, out=csum[1:])
    powers.fill(_POLY_INV)
    powers[0] = 1
    np.cumprod(powers, out=powers)  # now P**-k
    h = (csum[ends] - csum[starts]) * powers[starts]
    h += (ends - starts).astype(np.uint64) * U64(0xD6E8FEB86659FD93)
    tok_doc = np.searchsorted(doc_start, starts, side="right") - 1
    tok_offsets = np.searchsorted(tok_doc, np.arange(len(texts) + 1), side="left").astype(np.int64)
    return mix64(h), tok_offsets


def _shingle_batch(texts: Sequence[str], ngram: int) -> Shingles:
    tok, tok_off = _token_hashes(texts)
    n_docs = len(texts)
    n_tok = np.diff(tok_off)
    doc_of_tok = np.repeat(np.arange(n_docs, dtype=np.int64), n_tok)
    parts_val: list[np.ndarray] = []
    parts_doc: list[np.ndarray] = []
    n_windows = len(tok) - ngram + 1
    if n_windows > 0:
        acc = tok[:n_windows] * _GRAM_MULT[0]
        for k in range(1, ngram):
            acc += tok[k : k + n_windows] * _GRAM_MULT[k]
        ok = doc_of_tok[:n_windows] == doc_of_tok[ngram - 1 :]
        parts_val.append(acc[ok])
        parts_doc.append(doc_of_tok[:n_windows][ok])
    short = np.flatnonzero((n_tok > 0) & (n_tok < ngram))
    if len(short):
        acc = np.zeros(len(short), dtype=np.uint64)
        first = tok_off[short]
        for k in range(ngram - 1):
            m = n_tok[short] > k
            acc[m] += tok[first[m] + k] * _GRAM_MULT[k]
        parts_val.append(acc)
        parts_doc.append(short)
    if not parts_val:
        return Shingles(np.zeros(0, np.uint64), np.zeros(n_docs + 1, np.int64))
    vals = mix64(np.concatenate(parts_val)) >> U64(24)
    docs = np.concatenate(parts_doc).astype(np.uint64)
    key = _sorted_unique((docs << U64(40)) | vals)  # set per document, grouped by document
    key_doc = (key >> U64(40)).astype(np.int64)
    offsets = np.searchsorted(key_doc, np.arange(n_docs + 1), side="left").astype(np.int64)
    return Shingles(key & U64(_MASK40), offsets)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique's hash path is several times slower on uint64 keys)."""
    a = np.sort(a)
    if len(a) == 0:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def _batches(texts: Sequence[str], batch_bytes: int) -> Iterator[tuple[int, int]]:
    """Split texts into consecutive [start, end) ranges of about batch_bytes characters."""
    start, size = 0, 0
    for i, t in enumerate(texts):
        size += len(t) + 1
        if size >= batch_bytes or i + 1 - start >= _MAX_DOCS_PER_BATCH:
            yield start, i + 1
            start, size = i + 1, 0
    if start < len(texts) or not texts:
        yield start, len(texts)


def shingle(texts: Sequence[str], ngram: int = 5, batch_bytes: int = 1 << 22) -> Shingles:
    """Shingle sets of all texts (batched so memory stays ~40x the batch, not the corpus)."""
    _check_ngram(ngram)
    vals, offs, base = [], [np.zeros(1, np.int64)], 0
    for a, b in _batches(texts, batch_bytes):
        s = _shingle_batch(texts[a:b], ngram)
        vals.append(s.values)
        offs.append(s.offsets[1:] + base)
        base += len(s.values)
    return Shingles(np.concatenate(vals) if vals else np.zeros(0, np.uint64), np.concatenate(offs))


def _check_ngram(ngram: int) -> None:
    if not 1 <= ngram <= len(_GRAM_MULT):
        raise CodescaleError(f"ngram must be in 1..{len(_GRAM_MULT)}, got {ngram}")


class MinHasher:
    """The num_perm hash functions of one seed; signatures are uint32 (n_docs, num_perm)."""

    def __init__(self, num_perm: int = 256, seed: int = 1, chunk: int = 2048):
        if num_perm < 1:
            raise CodescaleError(f"num_perm must be >= 1, got {num_perm}")
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.a = (rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False) | U64(1))[
            :, None
        ]
        self.b = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)[:, None]
        self.chunk = chunk  # shingles per numpy pass: (num_perm x chunk) uint64 stays in cache

    def signatures(self, sh: Shingles) -> np.ndarray:
        """Min over each document's shingles of every permutation; empty docs stay all-ones."""
        n_docs = len(sh)
        sig = np.full((n_docs, self.num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
        vals, offs = sh.values, sh.offsets
        if len(vals) == 0:
            return (sig >> U64(32)).astype(np.uint32)
        work = np.empty((self.num_perm, self.chunk), dtype=np.uint64)
        nonempty = np.flatnonzero(np.diff(offs) > 0)
        starts_ne = offs[nonempty]
        for lo in range(0, len(vals), self.chunk):
            hi = min(lo + self.chunk, len(vals))
            # documents overlapping [lo, hi): each forms one contiguous segment of the chunk
            d0 = np.searchsorted(starts_ne, lo, side="right") - 1
            d1 = np.searchsorted(starts_ne, hi, side="left")
            docs = nonempty[d0:d1]
            seg = np.maximum(offs[docs], lo) - lo
            h = work[:, : hi - lo]
            np.multiply(self.a, vals[lo:hi][None, :], out=h)
            h += self.b
            red = np.minimum.reduceat(h, seg, axis=1)
            sig[docs] = np.minimum(sig[docs], red.T)
        return (sig >> U64(32)).astype(np.uint32)


def signatures(
    texts: Sequence[str],
    ngram: int = 5,
    num_perm: int = 256,
    seed: int = 1,
    batch_bytes: int = 1 << 22,
) -> tuple[np.ndarray, np.ndarray]:
    """Signatures (uint32, n x num_perm) and has_shingles (bool, n) of texts, batch by batch."""
    _check_ngram(ngram)
    hasher = MinHasher(num_perm, seed)
    sigs, has = [], []
    for a, b in _batches(texts, batch_bytes):
        sh = _shingle_batch(texts[a:b], ngram)
        sigs.append(hasher.signatures(sh))
        has.append(sh.sizes > 0)
    if not sigs:
        return np.zeros((0, num_perm), np.uint32), np.zeros(0, bool)
    return np.concatenate(sigs), np.concatenate(has)


@functools.lru_cache(maxsize=64)
def lsh_params(
    threshold: float, num_perm: int, fp_weight: float = 0.05, fn_weight: float = 0.95
) -> tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm minimising weighted false positives + negatives.

    The criterion of datasketch's MinHashLSH: areas under the candidate-probability curve
    1 - (1 - s**r)**b below the threshold (false positives) and above it (false negatives).
    datasketch weighs both 0.5, which finds only about half of the pairs right at the threshold
    (0.7, 256 perms: 25 x 10). codescale verifies every candidate on the shingle sets, so a false
    positive costs only a little arithmetic and the default leans to recall: 36 x 7 catches 96%
    of pairs at Jaccard 0.7 and 25% of pairs at 0.5.
    """
    if not 0.0 < threshold < 1.0:
        raise CodescaleError(f"threshold must be in (0, 1), got {threshold}")
    s_lo = np.linspace(0.0, threshold, 513)
    s_hi = np.linspace(threshold, 1.0, 513)
    best, best_err = (1, num_perm), math.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = np.trapezoid(1 - (1 - s_lo**r) ** b, s_lo)
            fn = np.trapezoid((1 - s_hi**r) ** b, s_hi)
            err = fp_weight * fp + fn_weight * fn
            if err < best_err - 1e-12:
                best, best_err = (b, r), err
    return best


def candidate_pairs(
    sigs: np.ndarray,
    bands: int,
    rows: int,
    valid: np.ndarray | None = None,
    max_bucket: int = 64,
) -> np.ndarray:
    """Pairs (i, j), i < j, of documents sharing at least one LSH band bucket; int64 (k, 2).

    A bucket of m <= max_bucket documents gives all m(m-1)/2 pairs; a bigger one (a swarm of
    near-identical boilerplate) pairs every member with its max_bucket lowest-index members
    only, which keeps the work linear. Callers order documents by priority so that the members
    a larger bucket is compared with are the ones most likely kept.
    """
    if bands * rows > sigs.shape[1]:
        raise CodescaleError(f"bands x rows = {bands * rows} exceeds num_perm = {sigs.shape[1]}")
    if rows > len(_BAND_MULT):
        raise CodescaleError(f"rows per band must be <= {len(_BAND_MULT)}, got {rows}")
    idx = np.arange(len(sigs)) if valid is None else np.flatnonzero(valid)
    if len(idx) < 2:
        return np.zeros((0, 2), np.int64)
    keys = band_keys(sigs[idx], bands, rows)
    found = [bucket_pairs(keys[:, band], max_bucket) for band in range(bands)]
    return _unique_pairs(found, idx)


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """LSH band keys, uint64 (n_docs, bands): band k's key hashes signature columns
    k*rows..(k+1)*rows-1, so two documents share bucket k iff those columns agree (up to 2**-64
    collisions). Stored per document, they let the band buckets be formed far from the
    signatures (codescale.data.dedup's cluster job)."""
    if bands * rows > sigs.shape[1]:
        raise CodescaleError(f"bands x rows = {bands * rows} exceeds num_perm = {sigs.shape[1]}")
    if rows > len(_BAND_MULT):
        raise CodescaleError(f"rows per band must be <= {len(_BAND_MULT)}, got {rows}")
    out = np.empty((len(sigs), bands), dtype=np.uint64)
    for band in range(bands):
        cols = sigs[:, band * rows : (band + 1) * rows].astype(np.uint64)
        out[:, band] = mix64((cols * _BAND_MULT[:rows]).sum(axis=1, dtype=np.uint64))
    return out


def _unique_pairs(found: list[np.ndarray], idx: np.ndarray) -> np.ndarray:
    """The distinct pairs of several bands' bucket pairs (positions in idx), as idx values."""
    pairs = np.concatenate(found) if found else np.zeros((0, 2), np.int64)
    if len(pairs) == 0:
        return np.zeros((0, 2), np.int64)
    n = np.int64(len(idx))
    code = _sorted_unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack([idx[code // n], idx[code % n]], axis=1).astype(np.int64)


def bucket_pairs(key: np.ndarray, max_bucket: int = 64) -> np.ndarray:
    """Pairs (i, j) of positions with equal keys in one band, i < j in a bucket's index order
    (see candidate_pairs for max_bucket)."""
    order = np.argsort(key, kind="stable")  # within a bucket, members stay in index order
    sk = key[order]
    cut = np.flatnonzero(sk[1:] != sk[:-1]) + 1
    starts = np.concatenate(([0], cut))
    sizes = np.diff(np.concatenate((starts, [len(sk)])))
    out = []
    for m in np.unique(sizes[sizes >= 2]):
        g = starts[sizes == m]
        if m <= max_bucket:
            iu, ju = np.triu_indices(m, 1)
        else:
            iu, ju = np.triu_indices(max_bucket, 1, m)
        out.append(np.stack([order[g[:, None] + iu].ravel(), order[g[:, None] + ju].ravel()], 1))
    return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


def estimated_jaccard(sigs: np.ndarray, pairs: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Fraction of equal signature entries for each pair (float64)."""
    out = np.empty(len(pairs), dtype=np.float64)
    for lo in range(0, len(pairs), chunk):
        p = pairs[lo : lo + chunk]
        out[lo : lo + chunk] = (sigs[p[:, 0]] == sigs[p[:, 1]]).mean(axis=1)
    return out


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two shingle sets (1.0 for two empty sets)."""
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 1.0


def pair_jaccard(sh: Shingles, pairs: np.ndarray, max_elems: int = 1 << 22) -> np.ndarray:
    """Exact Jaccard of the shingle sets of each pair (float64), vectorised over chunks of pairs.

    The two sets of a pair are tagged with the pair's index and sorted together; since each set
    has distinct values, equal neighbours are exactly the intersection.
    """
    out = np.empty(len(pairs), dtype=np.float64)
    sizes = sh.sizes
    cost = sizes[pairs[:, 0]] + sizes[pairs[:, 1]] if len(pairs) else np.zeros(0, np.int64)
    lo = 0
    while lo < len(pairs):
        hi = lo + 1 + int(np.searchsorted(np.cumsum(cost[lo + 1 :]), max_elems - cost[lo]))
        p = pairs[lo:hi]
        tags, vals = [], []
        for side in (0, 1):
            d = p[:, side]
            n = sizes[d]
            idx = np.repeat(sh.offsets[d] - np.concatenate(([0], np.cumsum(n)[:-1])), n)
            idx += np.arange(int(n.sum()))
            vals.append(sh.values[idx])
            tags.append(np.repeat(np.arange(len(p), dtype=np.uint64), n))
        key = np.sort(np.concatenate(tags) << U64(40) | np.concatenate(vals))
        dup = key[1:][key[1:] == key[:-1]] >> U64(40)
        inter = np.bincount(dup.astype(np.int64), minlength=len(p))
        union = sizes[p[:, 0]] + sizes[p[:, 1]] - inter
        out[lo:hi] = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        lo = hi
    return out
