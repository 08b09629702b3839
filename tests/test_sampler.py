"""The data order: prefix property, proportions, epochs, unique-token caps, repetition counts;
the mixture plan CLI and its validation; the batch/LR rule and schedules."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from codescale.cli import main
from codescale.data.shards import write_shard
from codescale.errors import CodescaleError
from codescale.train.hparams import HParams, batch_sequences, ladder_lr, lr_at
from codescale.train.mixture import build_plan, parse_count, parse_source
from codescale.train.module import StepBatches
from codescale.train.sampler import PERIOD, ChunkOrder, MixtureSampler, schedule

VOCAB = 65536


def _shard(prefix: Path, n_docs: int, seed: int, base: int = 0) -> np.ndarray:
    """Docs of varied length whose token ids are their global positions (+ base): every stream
    token can be traced back to where it came from."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 40, size=n_docs)
    ids = base + np.arange(int(lengths.sum()))
    docs = np.split(ids, np.cumsum(lengths)[:-1])
    write_shard(prefix, docs, VOCAB, int(lengths.sum()))
    return lengths


@pytest.fixture
def shards(tmp_path: Path) -> dict[str, str]:
    _shard(tmp_path / "a", 200, 1, base=0)
    _shard(tmp_path / "b", 50, 2, base=30000)
    return {"a": str(tmp_path / "a"), "b": str(tmp_path / "b")}


def _plan(shards: dict[str, str], tokens: int, unique_b: int | None = None, seed: int = 7):
    sources = [
        {"name": "a", "prefix": shards["a"], "weight": 0.7, "unique_tokens": None},
        {"name": "b", "prefix": shards["b"], "weight": 0.3, "unique_tokens": unique_b},
    ]
    return build_plan("t", sources, tokens=tokens, seed=seed, seq_len=16, size="2K")


def _run_tokens(plan: dict, batch: int) -> np.ndarray:
    """All sequences a run of plan["tokens"] tokens trains on, in order (as the trainer does)."""
    steps = math.ceil(plan["tokens"] / (batch * plan["seq_len"]))
    data = StepBatches(MixtureSampler(plan), batch, steps)
    return np.concatenate([data[s]["tokens"].numpy() for s in range(steps)])


@pytest.mark.parametrize("unique_b", [None, 100])
def test_run_of_d_tokens_is_a_prefix_of_run_of_2d(shards: dict[str, str], unique_b) -> None:
    short = _run_tokens(_plan(shards, 3000, unique_b), batch=4)
    long = _run_tokens(_plan(shards, 6000, unique_b), batch=4)
    assert len(long) > len(short) > 0
    np.testing.assert_array_equal(long[: len(short)], short)
    # and the order does not depend on how the run batches it either
    other = _run_tokens(_plan(shards, 6000, unique_b), batch=3)
    n = min(len(other), len(long))
    np.testing.assert_array_equal(other[:n], long[:n])


def test_sources_are_read_in_full_epochs_then_reshuffled(shards: dict[str, str]) -> None:
    sampler = MixtureSampler(_plan(shards, 1000))
    stream = sampler.sources[0]
    n = stream.shard.n_tokens
    epoch0, starts0 = stream.read(0, n)
    epoch1, _ = stream.read(n, n)
    np.testing.assert_array_equal(np.sort(epoch0), np.arange(n))  # each token exactly once
    np.testing.assert_array_equal(np.sort(epoch1), np.arange(n))
    assert not np.array_equal(epoch0, epoch1)  # a new permutation per epoch
    assert starts0.sum() == len(stream.shard)  # one start mark per document
    # reading in pieces gives the same stream (random access)
    pieces = np.concatenate([stream.read(p, 37)[0] for p in range(0, 2 * n, 37)])
    np.testing.assert_array_equal(pieces[: 2 * n], np.concatenate([epoch0, epoch1]))
    # other seeds give other orders
    other = MixtureSampler(_plan(shards, 1000, seed=8)).sources[0].read(0, n)[0]
    assert not np.array_equal(other, epoch0)


def test_chunks_are_an_epochs_stride_l_windows_in_a_keyed_order(shards: dict[str, str]) -> None:
    """Each sequence is L + 1 stream tokens at chunk_start; within one epoch the starts are a
    permutation of 0, L, 2L, ... (every target once), not in stream order; doc ids follow
    documents."""
    L = 16
    sampler = MixtureSampler(_plan(shards, 1000))
    batch = sampler.sequences(0, 400)
    starts_of: dict[int, list[int]] = {0: [], 1: []}
    for row in range(400):
        s, j = sampler.slot(row)
        pos = sampler.chunk_start(s, j)
        toks, _ = sampler.sources[s].read(pos, L + 1)
        np.testing.assert_array_equal(batch.tokens[row], toks)
        starts_of[s].append(pos)
    for s, starts in starts_of.items():
        src = sampler.sources[s]
        n = (src.unique - 1) // L
        first = [p for p in starts if p < src.unique][:n]
        if len(first) == n:  # a whole epoch drawn: every window once
            assert sorted(first) == [k * L for k in range(n)]
        assert starts[: min(8, n)] != sorted(starts[: min(8, n)])  # not in stream order
    # doc ids increase by one exactly where a document starts
    s, j = sampler.slot(5)
    toks, starts = sampler.sources[s].read(sampler.chunk_start(s, j), L + 1)
    starts[0] = False
    np.testing.assert_array_equal(batch.doc_ids[5], np.cumsum(starts))


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000, 4099])
def test_chunk_order_is_a_keyed_bijection(n: int) -> None:
    order = ChunkOrder(n, key=12345)
    image = [order(k) for k in range(n)]
    assert sorted(image) == list(range(n))
    assert [ChunkOrder(n, key=12345)(k) for k in range(n)] == image  # a function of the key
    if n >= 64:
        assert image != list(range(n)) and image != [ChunkOrder(n, key=7)(k) for k in range(n)]
    with pytest.raises(CodescaleError, match="outside"):
        order(n)


def test_unique_tokens_cap_repeats_the_stream_prefix(shards: dict[str, str]) -> None:
    k = 100
    capped = MixtureSampler(_plan(shards, 1000, unique_b=k)).sources[1]
    free = MixtureSampler(_plan(shards, 1000)).sources[1]
    first, starts = capped.read(0, 3 * k)
    np.testing.assert_array_equal(first[:k], free.read(0, k)[0])
    np.testing.assert_array_equal(first[k : 2 * k], first[:k])
    np.testing.assert_array_equal(first[2 * k :], first[:k])
    assert starts[k] and starts[2 * k]  # the repeat starts a new document
    assert len(set(first.tolist())) == k


def test_proportions_hold_in_every_prefix() -> None:
    weights = [0.55, 0.3, 0.1, 0.05]
    assign, index, shares = schedule(weights)
    assert shares.sum() == PERIOD
    for n in (10, 100, 1000, 12345, PERIOD):
        counts = np.bincount(assign[:n], minlength=4)
        assert np.all(np.abs(counts - n * np.asarray(weights)) <= 1.5), (n, counts)
    # index_in_source numbers each source's slots 0, 1, 2, ...
    for s in range(4):
        np.testing.assert_array_equal(index[assign == s], np.arange(shares[s]))
    with pytest.raises(CodescaleError, match="gets no sequences"):
        schedule([1 - 1e-7, 1e-7])


def test_repetitions_count_epochs_per_source(shards: dict[str, str]) -> None:
    plan = _plan(shards, 20_000, unique_b=100)
    sampler = MixtureSampler(plan)
    n_slots = 1000
    counts = np.zeros(2, dtype=int)
    for i in range(n_slots):
        counts[sampler.slot(i)[0]] += 1
    np.testing.assert_array_equal(sampler.chunks_per_source(n_slots), counts)
    reps = sampler.repetitions(n_slots)
    n_a = sampler.sources[0].shard.n_tokens
    assert reps["a"] == pytest.approx((counts[0] * 16 + 1) / n_a)
    assert reps["b"] == pytest.approx((counts[1] * 16 + 1) / 100)
    assert reps["b"] > 10 and 1 < reps["a"] < 3
    # the plan's expected epochs agree with what the run consumes
    by_name = {s["name"]: s for s in plan["sources"]}
    full = sampler.repetitions(plan["tokens"] // 16)
    for name in ("a", "b"):
        assert full[name] == pytest.approx(by_name[name]["expected_epochs"], rel=0.01)
    # across period boundaries too
    big = 3 * PERIOD + 17
    np.testing.assert_array_equal(
        sampler.chunks_per_source(big),
        3 * sampler.shares + np.bincount(sampler.assign[:17], minlength=2),
    )


def test_mixture_cli_writes_plan(shards: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "runs" / "x" / "mixture.json"
    rc = main(
        [
            "mixture", "--run", "mono/x", "--size", "5K", "--spec-json", '{"study": "mono"}',
            "--source", f"a={shards['a']}:0.7", "--source", f"b={shards['b']}:0.3:100",
            "--tokens", "2K", "--seed", "3", "--seq-len", "16", "--out", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    plan = json.loads(out.read_text())
    assert plan["run"] == "mono/x" and plan["tokens"] == 2000 and plan["seed"] == 3
    assert plan["size"] == "5K" and plan["seq_len"] == 16
    assert plan["spec"] == {"study": "mono"}
    b = plan["sources"][1]
    assert b["unique_tokens"] == 100 and b["expected_epochs"] == pytest.approx(2000 * 0.3 / 100)


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        (["a={a}:0.5", "b={b}:0.4"], "must sum to 1"),
        (["a={a}:1.0", "b={b}:0.0"], "weight must be > 0"),
        (["a={a}/missing:1.0"], "does not exist"),
        (["a={a}:0.5", "b={b}:0.5:999999999"], "unique_tokens"),
        (["a={a}"], "expected NAME=PREFIX:WEIGHT"),
        (["a={a}:0.5", "a={b}:0.5"], "duplicate source"),
    ],
)
def test_mixture_cli_rejects_bad_sources(
    shards: dict[str, str], tmp_path: Path, capsys, sources: list[str], message: str
) -> None:
    args = ["mixture", "--run", "r", "--size", "2K", "--tokens", "1000", "--seq-len", "16"]
    for s in sources:
        args += ["--source", s.format(a=shards["a"], b=shards["b"])]
    assert main([*args, "--out", str(tmp_path / "m.json")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--size", "3Q"], "--size: unknown model size '3Q'; known sizes: "),
        (
            ["--size", "2K", "--spec-json", '{"name": "r", "size": "5K"}'],
            "--spec-json says size '5K', but --size is '2K'",
        ),
        (
            ["--size", "2K", "--spec-json", '{"tokens": 2000}'],
            "--spec-json says tokens 2000, but --tokens is 1000",
        ),
        (
            ["--size", "2K", "--spec-json", '{"name": "other"}'],
            "--spec-json says name 'other', but --run is 'r'",
        ),
    ],
)
def test_mixture_cli_rejects_an_unknown_size_or_a_spec_that_disagrees(
    shards: dict[str, str], tmp_path: Path, capsys, extra: list[str], message: str
) -> None:
    """The plan is the one carrier of size, D and seed (issue #14): an unknown preset fails with
    the known ones listed, and a study spec that records another value fails naming both."""
    source = f"a={shards['a']}:1.0"
    args = ["mixture", "--run", "r", "--tokens", "1000", "--seq-len", "16", "--seed", "0",
            "--source", source, *extra, "--out", str(tmp_path / "m.json")]  # fmt: skip
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_incomplete_shard_is_rejected(shards: dict[str, str], tmp_path: Path) -> None:
    Path(shards["b"] + ".json").unlink()  # a shard without its .json is not complete
    with pytest.raises(CodescaleError, match="incomplete or missing shard"):
        _plan(shards, 1000)


def test_parse_helpers() -> None:
    assert parse_count("100K", "x") == 100_000 and parse_count("1.5M", "x") == 1_500_000
    assert parse_source("py=/a:b/c:0.25:1K") == {
        "name": "py", "prefix": "/a:b/c", "weight": 0.25, "unique_tokens": 1000,
    }  # fmt: skip
    assert parse_source("py=/a/c:1")["unique_tokens"] is None
    with pytest.raises(CodescaleError):
        parse_count("ten", "x")


def test_ladder_rule_and_schedules() -> None:
    # the OLMo ladder's anchor: N = 108M -> 160 x 2048-token sequences at LR 0.0047
    assert batch_sequences(108_000_000, 2048) == 160
    assert ladder_lr(108_000_000) == pytest.approx(0.0047)
    assert batch_sequences(8 * 108_000_000, 2048) == 640  # batch ~ N^(2/3)
    assert ladder_lr(8 * 108_000_000) == pytest.approx(0.0047 / 2)  # LR ~ N^(-1/3)
    assert batch_sequences(5000, 128, multiple=4) % 4 == 0
    hp = HParams(batch_size=8, lr=1e-3, steps=100, seq_len=16, warmup_fraction=0.1)
    lrs = [lr_at(s, hp) for s in range(100)]
    assert lrs[9] == pytest.approx(1e-3) and all(
        a < b for a, b in zip(lrs[:9], lrs[1:10], strict=True)
    )
    assert lrs[-1] == pytest.approx(1e-4) and all(
        a >= b for a, b in zip(lrs[9:-1], lrs[10:], strict=True)
    )
    wsd = HParams(batch_size=8, lr=1e-3, steps=100, seq_len=16, schedule="wsd")
    wl = [lr_at(s, wsd) for s in range(100)]
    assert wl[50] == wl[79] == pytest.approx(1e-3) and wl[-1] == pytest.approx(1e-4)
    with pytest.raises(CodescaleError, match="schedule"):
        HParams(batch_size=8, lr=1e-3, steps=10, seq_len=16, schedule="linear")


def test_weights_from_allocation_drop_shares_the_schedule_cannot_resolve(tmp_path):
    """The optimised-allocation run takes the optimiser's proportions; a share below the sampler's
    resolution (1/PERIOD) would get no sequences, so that source is left out, not an error."""
    import json

    from codescale.cli import main
    from codescale.data.shards import write_shard

    for lang in ("python", "rust"):
        write_shard(tmp_path / lang, [[2, 5, 6, 0]] * 4, vocab_size=16, n_bytes=8, lang=lang)
    alloc = tmp_path / "allocation.json"
    alloc.write_text(json.dumps({"proportions": {"python": 1 - 1e-9, "rust": 1.0004e-9}}))
    out = tmp_path / "mixture.json"
    argv = ["mixture", "--run", "allocation/optimised/x", "--size", "2K", "--seq-len", "2",
            "--tokens", "64",
            "--source", f"python={tmp_path / 'python'}:0.5", f"rust={tmp_path / 'rust'}:0.5",
            "--weights-from", str(alloc), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    plan = json.loads(out.read_text())
    assert [(s["name"], s["weight"]) for s in plan["sources"]] == [("python", 1.0)]
    assert plan["spec"]["weights"] == {"python": 1.0}
