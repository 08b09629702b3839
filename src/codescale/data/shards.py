"""Token shards: flat memmapped token ids plus document offsets, the one format every trainer reads.

A shard is `P.bin` (ids), `P.idx.npy` (int64 offsets, n_docs + 1) and `P.json` (metadata). The
.json is written last, so its presence means the shard is complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codescale.errors import CodescaleError
from codescale.io import atomic_path, write_json


def dtype_for(vocab_size: int) -> np.dtype:
    """uint16 halves the disk and page cache of every shard whenever the vocabulary fits."""
    return np.dtype(np.uint16) if vocab_size <= 65536 else np.dtype(np.uint32)


def write_shard(
    prefix: str | os.PathLike[str],
    docs: Iterable[Sequence[int] | np.ndarray],
    vocab_size: int,
    n_bytes: int,
    **meta: Any,
) -> dict[str, Any]:
    """Write documents (each a sequence of token ids) as one shard; returns its metadata.

    An existing .json at the prefix is removed first: while the .bin and .idx.npy are being
    replaced, the old metadata must not make the half-rewritten shard look complete.
    """
    prefix = Path(prefix)
    dtype = dtype_for(vocab_size)
    offsets = [0]
    bin_path = prefix.with_name(prefix.name + ".bin")
    prefix.with_name(prefix.name + ".json").unlink(missing_ok=True)
    with atomic_path(bin_path) as tmp_bin:
        with open(tmp_bin, "wb") as fh:
            for doc in docs:
                arr = np.asarray(doc)
                if arr.dtype.kind not in "ui":
                    arr = arr.astype(np.int64)  # lists, floats: let the range check decide
                if arr.size and (
                    (arr.dtype.kind == "i" and arr.min() < 0) or arr.max() >= vocab_size
                ):
                    raise CodescaleError(f"{prefix}: token id out of range [0, {vocab_size})")
                fh.write(arr.astype(dtype, copy=False).tobytes())
                offsets.append(offsets[-1] + int(arr.size))
        idx_path = prefix.with_name(prefix.name + ".idx.npy")
        with atomic_path(idx_path) as tmp_idx, open(tmp_idx, "wb") as fh:
            np.save(fh, np.asarray(offsets, dtype=np.int64))
    info = {
        "dtype": dtype.name,
        "vocab_size": int(vocab_size),
        "n_docs": len(offsets) - 1,
        "n_tokens": offsets[-1],
        "n_bytes": int(n_bytes),
        **meta,
    }
    write_json(prefix.with_name(prefix.name + ".json"), info)
    return info


class Shard:
    """A read-only, memory-mapped shard; refuses incomplete or inconsistent files on open."""

    def __init__(self, prefix: str | os.PathLike[str]):
        self.prefix = Path(prefix)
        meta_path = self.prefix.with_name(self.prefix.name + ".json")
        idx_path = self.prefix.with_name(self.prefix.name + ".idx.npy")
        bin_path = self.prefix.with_name(self.prefix.name + ".bin")
        if not meta_path.exists():
            raise CodescaleError(f"incomplete or missing shard: {meta_path} does not exist")
        for path in (idx_path, bin_path):
            if not path.exists():
                raise CodescaleError(f"incomplete shard: {path} does not exist")
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text())
            n_tokens = int(self.meta["n_tokens"])
            n_docs = int(self.meta["n_docs"])
            itemsize = np.dtype(self.meta["dtype"]).itemsize
        except (ValueError, KeyError, TypeError) as err:
            raise CodescaleError(f"corrupt shard metadata {meta_path}: {err!r}") from err
        try:
            self.offsets = np.load(idx_path)
        except (ValueError, OSError) as err:
            raise CodescaleError(f"corrupt shard index {idx_path}: {err}") from err
        if (
            self.offsets.ndim != 1
            or len(self.offsets) != n_docs + 1
            or int(self.offsets[0]) != 0
            or int(self.offsets[-1]) != n_tokens
            or bool(np.any(np.diff(self.offsets) < 0))
        ):
            raise CodescaleError(
                f"corrupt shard index {idx_path}: offsets must run from 0 to n_tokens={n_tokens} "
                f"without decreasing, one per document (+1) for n_docs={n_docs}"
            )
        expected = n_tokens * itemsize
        size = bin_path.stat().st_size
        if size != expected:
            raise CodescaleError(
                f"corrupt or truncated shard: {bin_path} has {size} bytes, expected {expected}"
            )
        self.tokens = (
            np.memmap(bin_path, dtype=self.meta["dtype"], mode="r")
            if n_tokens
            else np.zeros(0, dtype=self.meta["dtype"])
        )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.meta["n_tokens"])

    def doc(self, i: int) -> np.ndarray:
        """Token ids of document i (negative i counts from the end, as for lists)."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"document {i} out of range for a shard of {n} documents")
        i %= n
        return np.asarray(self.tokens[self.offsets[i] : self.offsets[i + 1]])
