"""Size presets: closed forms equal the real module, the doc table is current, FLOPs formula."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from codescale.errors import CodescaleError
from codescale.model import presets
from codescale.model.presets import PRESETS, Shape, param_counts

DOC = Path(__file__).resolve().parents[1] / "docs" / "MODEL_SIZES.md"


@pytest.mark.parametrize("name", list(PRESETS))
def test_closed_form_equals_torch_module(name: str) -> None:
    from codescale.model.llama import ModelConfig, Transformer

    vocab = 1000
    with torch.device("meta"):  # no memory, even for 14B
        model = Transformer(ModelConfig(**presets.model_config(name, vocab, 64)))
    assert param_counts(name, vocab) == (model.num_params(), model.num_params(non_embedding=False))


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_is_llama_like_and_near_its_name(name: str) -> None:
    s = PRESETS[name]
    assert s.d_model % s.n_heads == 0
    n, nominal = presets.n_params(name), presets.nominal_params(name)
    if name in presets.TINY_SIZES:
        assert 8 <= s.head_dim <= 32 and 16 <= s.d_model <= 128
        assert abs(n / nominal - 1) < 0.15
    else:
        assert s.head_dim in (64, 128)
        assert s.d_ff == 256 * math.ceil(8 * s.d_model / 3 / 256)  # LLaMA's rule
        assert abs(n / nominal - 1) < 0.10


def test_groups_cover_presets_and_sizes_increase() -> None:
    groups = presets.PAPER_SIZES + presets.GPU_SIZES + presets.TINY_SIZES
    assert sorted(groups) == sorted(PRESETS)
    for group in (presets.PAPER_SIZES, presets.GPU_SIZES, presets.TINY_SIZES):
        counts = [presets.n_params(n) for n in group]
        assert counts == sorted(counts)


def test_doc_table_is_current() -> None:
    text = DOC.read_text()
    paper = presets.markdown_table(presets.PAPER_SIZES + presets.GPU_SIZES, 32768, 2048)
    tiny = presets.markdown_table(presets.TINY_SIZES, presets.TINY_REFERENCE_VOCAB, 128)
    assert paper in text, "docs/MODEL_SIZES.md paper table is stale; regenerate it"
    assert tiny in text, "docs/MODEL_SIZES.md tiny table is stale; regenerate it"
    # and spot-check one row by hand: 0.1B = 14 * (4*768^2 + 3*768*2048 + 2*768) + 768
    row = re.search(r"^\| 0\.1B \|.*$", text, re.M).group(0).split("|")
    assert int(row[7]) == 99_112_704 and int(row[8]) == 99_112_704 + 2 * 32768 * 768


def test_flops_formula() -> None:
    s = Shape(d_model=64, n_layers=2, n_heads=4, d_ff=128)
    n = 2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64) + 64
    per_token = 6 * n + 6 * 64 * 1000 + 6 * 2 * 256 * 64
    assert presets.flops_per_token(s, 1000, 256) == per_token
    assert presets.train_flops(s, 1000, 256, 10**6) == per_token * 10**6
    assert presets.flops_6nd(n, 10**6) == 6 * n * 10**6
    # For a paper-size model the head + attention terms are a modest correction to 6ND.
    big = presets.train_flops("1.1B", 32768, 2048, 10**9)
    assert 1.0 < big / presets.flops_6nd(presets.n_params("1.1B"), 10**9) < 1.2


def test_model_config_keys() -> None:
    cfg = presets.model_config("2K", 300, 32)
    assert cfg == {
        "vocab_size": 300, "d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 20, "max_seq_len": 32
    }  # fmt: skip


def test_bad_names_and_values() -> None:
    with pytest.raises(CodescaleError, match="unknown model size '3B'.*0.1B"):
        param_counts("3B", 100)
    with pytest.raises(CodescaleError, match="vocab_size"):
        param_counts("2K", 0)
    with pytest.raises(CodescaleError, match="seq_len"):
        presets.train_flops("2K", 100, 0, 10)
    with pytest.raises(CodescaleError, match="K/M/B"):
        presets.nominal_params("big")


def test_presets_module_imports_no_torch() -> None:
    import subprocess
    import sys

    code = "import sys, codescale.model.presets; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
