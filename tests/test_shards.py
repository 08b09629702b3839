"""Token shards: dtype choice, offsets, and refusing incomplete or damaged shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codescale.data.shards import Shard, dtype_for, write_shard
from codescale.errors import CodescaleError

DOCS = [[2, 10, 11, 0], [3, 0], [], [4, 65535, 7, 8, 0]]


def _write(tmp_path: Path, vocab: int = 65536) -> Path:
    prefix = tmp_path / "s" / "train"
    write_shard(prefix, iter(DOCS), vocab, n_bytes=123, lang="python", split="train")
    return prefix


def test_dtype_follows_vocab_size() -> None:
    assert dtype_for(300) == np.uint16
    assert dtype_for(65536) == np.uint16
    assert dtype_for(65537) == np.uint32


def test_round_trip_and_offsets(tmp_path: Path) -> None:
    prefix = _write(tmp_path)
    shard = Shard(prefix)
    assert shard.tokens.dtype == np.uint16
    assert prefix.with_name("train.bin").stat().st_size == 2 * 11
    assert shard.offsets.tolist() == [0, 4, 6, 6, 11]
    assert shard.offsets.dtype == np.int64
    assert len(shard) == 4 and shard.n_tokens == 11
    for i, doc in enumerate(DOCS):
        assert shard.doc(i).tolist() == doc
    assert shard.doc(-1).tolist() == DOCS[-1]
    with pytest.raises(IndexError):
        shard.doc(4)
    assert shard.meta == {
        "dtype": "uint16",
        "vocab_size": 65536,
        "n_docs": 4,
        "n_tokens": 11,
        "n_bytes": 123,
        "lang": "python",
        "split": "train",
    }


def test_uint32_for_large_vocab(tmp_path: Path) -> None:
    prefix = tmp_path / "big"
    docs = [np.array([70000, 1], dtype=np.uint32), [65536]]
    write_shard(prefix, docs, 100_000, n_bytes=5)
    shard = Shard(prefix)
    assert shard.tokens.dtype == np.uint32
    assert shard.doc(0).tolist() == [70000, 1] and shard.doc(1).tolist() == [65536]


def test_out_of_range_ids_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    for bad in ([5, 300], [-1], np.array([300], dtype=np.uint32)):
        with pytest.raises(CodescaleError, match="out of range"):
            write_shard(tmp_path / "bad", [[1, 2], bad], 300, n_bytes=1)
    assert list(tmp_path.iterdir()) == []  # no temporary or partial files left behind


def test_truncated_bin_is_detected(tmp_path: Path) -> None:
    prefix = _write(tmp_path)
    bin_path = prefix.with_name("train.bin")
    bin_path.write_bytes(bin_path.read_bytes()[:-2])
    with pytest.raises(CodescaleError, match="truncated"):
        Shard(prefix)


def test_missing_json_means_incomplete(tmp_path: Path) -> None:
    prefix = _write(tmp_path)
    prefix.with_name("train.json").unlink()
    with pytest.raises(CodescaleError, match="incomplete"):
        Shard(prefix)


def test_missing_bin_or_index_is_a_clear_error(tmp_path: Path) -> None:
    for suffix in (".bin", ".idx.npy"):
        prefix = _write(tmp_path / suffix.strip("."))
        prefix.with_name("train" + suffix).unlink()
        with pytest.raises(CodescaleError, match="incomplete shard"):
            Shard(prefix)


def test_bad_offsets_are_detected(tmp_path: Path) -> None:
    prefix = _write(tmp_path)
    np.save(prefix.with_name("train.idx.npy"), np.array([0, 6, 4, 6, 11], dtype=np.int64))
    with pytest.raises(CodescaleError, match="corrupt shard index"):
        Shard(prefix)


def test_failed_rewrite_does_not_leave_old_shard_looking_complete(tmp_path: Path) -> None:
    prefix = _write(tmp_path)

    def failing():
        yield [1, 2]
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_shard(prefix, failing(), 65536, n_bytes=1)
    with pytest.raises(CodescaleError, match="incomplete"):
        Shard(prefix)


def test_empty_shard(tmp_path: Path) -> None:
    write_shard(tmp_path / "e", [], 300, n_bytes=0)
    shard = Shard(tmp_path / "e")
    assert len(shard) == 0 and shard.n_tokens == 0 and shard.tokens.size == 0
