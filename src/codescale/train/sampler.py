"""The data order of a run: which tokens fill training sequence i, for any i, independent of D.

Design (so that a run of D tokens sees exactly the first D tokens a run of 2D tokens sees, and a
resumed run needs nothing but the step number):

- Each source is an infinite token stream. Epoch e of the source is a permutation of its documents
  seeded by (seed, crc32(source name), e); epochs are concatenated. With `unique_tokens = k` the
  stream is the first k tokens of epoch 0, repeated (the cap is checked k <= n_tokens when the plan
  is built, so the capped prefix never spans two epochs).
- Source s's stream is cut, epoch by epoch, into n = (unique - 1) // L chunks of L + 1 tokens at
  stride L (one token of overlap, so every token of the epoch but its last < L + 1 is a prediction
  target exactly once: inputs chunk[:-1], targets chunk[1:]). Chunks cross document boundaries
  (packing); documents end with <|endoftext|>. The source's j-th chunk is chunk perm_e(k) of epoch
  e, (e, k) = divmod(j, n): perm_e is a keyed pseudo-random bijection of [0, n) (ChunkOrder, O(1)
  memory), so consecutive sequences of a source come from anywhere in the epoch. Without it a
  batch of B sequences is B x L consecutive stream tokens, i.e. part of one file, and a small-batch
  run ends fitted to the last files it saw (benchmarks/RESULTS.md "Default study pilots": two
  seeds of one run 0.7-0.8 nats apart, 0.01-0.07 with the permutation).
- Sequence slot i takes the next chunk of one source. The source of each slot follows a fixed
  periodic schedule of PERIOD slots: source s gets W_s = its weight apportioned to PERIOD slots
  (largest remainder), placed at the Sainte-Laguë times (j + 1/2) / W_s, so every prefix of the
  schedule holds each source within about one slot of its share. Slot i = period b, offset r: source
  assign[r], chunk b * W_s + (index of r among s's slots). All of it is O(1) random access.

Nothing here reads the run length, and the state is the integer slot index: batch t of a run with
global batch B is slots [t*B, (t+1)*B).
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from codescale.data.shards import Shard
from codescale.errors import CodescaleError

PERIOD = 65536  # schedule period in slots; weights resolve to multiples of 1/PERIOD
_EPOCH_CACHE = 3


def apportion(weights: list[float], total: int) -> np.ndarray:
    """Integer shares of `total` proportional to `weights` (largest remainder); each must be > 0."""
    w = np.asarray(weights, dtype=np.float64)
    exact = w / w.sum() * total
    shares = np.floor(exact).astype(np.int64)
    remainder = total - int(shares.sum())
    order = np.argsort(-(exact - shares), kind="stable")
    shares[order[:remainder]] += 1
    return shares


def schedule(
    weights: list[float], period: int = PERIOD
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(assign[period], index_in_source[period], shares[S]) of the periodic slot schedule."""
    shares = apportion(weights, period)
    if (shares == 0).any():
        raise CodescaleError(
            f"a source weight below 1/{period} gets no sequences; weights: {list(weights)}"
        )
    src = np.concatenate([np.full(n, s, dtype=np.int64) for s, n in enumerate(shares)])
    idx = np.concatenate([np.arange(n, dtype=np.int64) for n in shares])
    times = (idx + 0.5) / shares[src]
    order = np.lexsort((src, times))  # by time, ties by source order
    return src[order], idx[order], shares


class SourceStream:
    """One source's infinite token stream with random access; opens its shard lazily.

    Lazy opening keeps the object cheap to pickle into DataLoader workers (a pickled np.memmap
    would copy the whole shard).
    """

    def __init__(self, name: str, prefix: str, seed: int, unique_tokens: int | None = None):
        self.name = name
        self.prefix = str(prefix)
        self.seed = int(seed)
        self.unique_tokens = unique_tokens
        self._shard: Shard | None = None
        self._epochs: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_shard"] = None
        state["_epochs"] = OrderedDict()
        return state

    @property
    def shard(self) -> Shard:
        if self._shard is None:
            self._shard = Shard(self.prefix)
            if self._shard.n_tokens == 0:
                raise CodescaleError(f"source {self.name}: shard {self.prefix} has no tokens")
            self._lengths = np.diff(self._shard.offsets)
        return self._shard

    @property
    def unique(self) -> int:
        """Distinct stream tokens before the stream repeats (the cap, or the shard size)."""
        return self.unique_tokens if self.unique_tokens is not None else self.shard.n_tokens

    def _epoch(self, e: int) -> tuple[np.ndarray, np.ndarray]:
        """(document permutation, cumulative token starts) of epoch e, cached."""
        hit = self._epochs.get(e)
        if hit is not None:
            self._epochs.move_to_end(e)
            return hit
        shard = self.shard
        rng = np.random.default_rng([self.seed, zlib.crc32(self.name.encode()), e])
        perm = rng.permutation(len(shard))
        starts = np.concatenate(([0], np.cumsum(self._lengths[perm])))
        self._epochs[e] = (perm, starts)
        if len(self._epochs) > _EPOCH_CACHE:
            self._epochs.popitem(last=False)
        return perm, starts

    def read(self, pos: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Stream tokens [pos, pos + n) as int64, and a bool mask of document starts."""
        shard = self.shard
        total = shard.n_tokens
        out = np.empty(n, dtype=np.int64)
        starts = np.zeros(n, dtype=bool)
        filled = 0
        while filled < n:
            p = pos + filled
            if self.unique_tokens is not None:
                epoch, q, end = 0, p % self.unique_tokens, self.unique_tokens
            else:
                epoch, q, end = p // total, p % total, total
            perm, cum = self._epoch(epoch)
            d = int(np.searchsorted(cum, q, side="right")) - 1
            doc = int(perm[d])
            off = q - int(cum[d])
            take = min(n - filled, int(self._lengths[doc]) - off, end - q)
            base = int(shard.offsets[doc]) + off
            out[filled : filled + take] = shard.tokens[base : base + take]
            if off == 0 or q == 0:
                starts[filled] = True
            filled += take
        return out, starts


_MASK64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """splitmix64's finaliser: a 64-bit integer hash (Steele et al. 2014)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


class ChunkOrder:
    """A keyed pseudo-random bijection of [0, n) with O(1) memory and O(1) evaluation.

    A balanced 4-round Feistel network on 2h bits (2^2h >= n, so < 4n) is a bijection of
    [0, 2^2h); cycle-walking (apply again until the value is < n) restricts it to a bijection of
    [0, n) (Black & Rogaway 2002), < 4 rounds on average. A materialised permutation would cost
    8 bytes per chunk: ~0.5 GB per source and rank at a 400 GB language.
    """

    ROUNDS = 4

    def __init__(self, n: int, key: int):
        if n < 1:
            raise CodescaleError(f"a chunk order needs n >= 1, got {n}")
        self.n = int(n)
        bits = max(2, (self.n - 1).bit_length())
        self.half = (bits + 1) // 2
        self.mask = (1 << self.half) - 1
        self.keys = [
            _mix64((int(key) & _MASK64) ^ (r * 0x2545F4914F6CDD1D)) for r in range(self.ROUNDS)
        ]

    def __call__(self, k: int) -> int:
        if not 0 <= k < self.n:
            raise CodescaleError(f"chunk {k} outside [0, {self.n})")
        x = int(k)
        while True:
            left, right = x >> self.half, x & self.mask
            for rk in self.keys:
                left, right = right, left ^ (_mix64(rk ^ right) & self.mask)
            x = (left << self.half) | right
            if x < self.n:
                return x


@dataclass(frozen=True)
class Batch:
    """Sequences [n, seq_len + 1] (inputs [:, :-1], targets [:, 1:]) and per-token document ids."""

    tokens: np.ndarray
    doc_ids: np.ndarray


class MixtureSampler:
    """The run's data order from a mixture plan (see the module docstring)."""

    def __init__(self, plan: dict[str, Any], seq_len: int | None = None):
        self.seq_len = int(seq_len if seq_len is not None else plan["seq_len"])
        if self.seq_len < 1:
            raise CodescaleError(f"seq_len must be >= 1, got {self.seq_len}")
        seed = int(plan["seed"])
        self.sources = [
            SourceStream(s["name"], s["prefix"], seed, s.get("unique_tokens"))
            for s in plan["sources"]
        ]
        self.assign, self.index, self.shares = schedule([s["weight"] for s in plan["sources"]])
        self._orders: OrderedDict[tuple[int, int], ChunkOrder] = OrderedDict()

    def chunk_start(self, s: int, j: int) -> int:
        """Stream position of source s's j-th chunk: chunk perm_e(k) of epoch e (module doc)."""
        src = self.sources[s]
        n = max(1, (src.unique - 1) // self.seq_len)
        e, k = divmod(int(j), n)
        order = self._orders.get((s, e))
        if order is None:
            key = (src.seed << 40) ^ (zlib.crc32(src.name.encode()) << 8) ^ (e * 0x9E3779B1)
            order = self._orders[(s, e)] = ChunkOrder(n, key)
            if len(self._orders) > 4 * len(self.sources):
                self._orders.popitem(last=False)
        return e * src.unique + order(k) * self.seq_len

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sources]

    def slot(self, i: int) -> tuple[int, int]:
        """(source index, chunk index within that source) of sequence slot i."""
        b, r = divmod(int(i), PERIOD)
        s = int(self.assign[r])
        return s, b * int(self.shares[s]) + int(self.index[r])

    def sequences(self, start: int, count: int) -> Batch:
        """Sequence slots [start, start + count)."""
        L = self.seq_len
        tokens = np.empty((count, L + 1), dtype=np.int64)
        doc_ids = np.empty((count, L + 1), dtype=np.int32)
        for row in range(count):
            s, j = self.slot(start + row)
            toks, starts = self.sources[s].read(self.chunk_start(s, j), L + 1)
            starts[0] = False
            tokens[row] = toks
            doc_ids[row] = np.cumsum(starts)
        return Batch(tokens, doc_ids)

    def chunks_per_source(self, n_slots: int) -> np.ndarray:
        """How many chunks each source contributes to the first n_slots slots."""
        full, rem = divmod(int(n_slots), PERIOD)
        counts = full * self.shares.copy()
        counts += np.bincount(self.assign[:rem], minlength=len(self.sources))
        return counts

    def repetitions(self, n_slots: int) -> dict[str, float]:
        """Epochs of each source's unique tokens consumed by the first n_slots slots.

        A source's chunks cover stream tokens [0, chunks * L + 1), so epochs = that / unique.
        """
        counts = self.chunks_per_source(n_slots)
        return {
            src.name: (int(c) * self.seq_len + (1 if c else 0)) / src.unique
            for src, c in zip(self.sources, counts, strict=True)
        }
