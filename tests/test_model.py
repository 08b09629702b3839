"""The decoder: shapes, causality, document masking, attention kernels, init and compile."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from codescale.errors import CodescaleError
from codescale.model import llama
from codescale.model.llama import ModelConfig, Transformer, doc_ids_from_tokens, segment_ids

CFG = ModelConfig(vocab_size=50, d_model=32, n_layers=2, n_heads=4, d_ff=64, max_seq_len=16)


@pytest.fixture
def model() -> Transformer:
    torch.manual_seed(0)
    return Transformer(CFG).eval()


def tokens(b: int = 2, t: int = 12, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, CFG.vocab_size, (b, t), generator=g)


def test_forward_shape_and_dtype(model: Transformer) -> None:
    logits = model(tokens(3, 10))
    assert logits.shape == (3, 10, CFG.vocab_size)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


def test_causal_future_token_does_not_change_past(model: Transformer) -> None:
    x = tokens()
    y = x.clone()
    y[:, 7] = (y[:, 7] + 1) % CFG.vocab_size
    a, b = model(x), model(y)
    torch.testing.assert_close(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_doc_masking_isolates_documents(model: Transformer) -> None:
    # Row: document A (5 tokens) then document B (7 tokens). B's logits must equal those of B alone.
    x = tokens(1, 12)
    doc = torch.tensor([[0] * 5 + [1] * 7])
    masked = model(x, doc)
    alone = model(x[:, 5:])
    torch.testing.assert_close(masked[:, 5:], alone, rtol=1e-5, atol=1e-5)
    # A is unaffected by B, and changing A does not move B.
    torch.testing.assert_close(masked[:, :5], model(x[:, :5]), rtol=1e-5, atol=1e-5)
    x2 = x.clone()
    x2[:, :5] = (x2[:, :5] + 3) % CFG.vocab_size
    torch.testing.assert_close(model(x2, doc)[:, 5:], masked[:, 5:])
    # Without doc_ids the second document does see the first.
    assert not torch.allclose(model(x)[:, 5:], alone, atol=1e-5)


def test_segment_ids_split_reused_ids() -> None:
    doc = torch.tensor([[7, 7, 3, 3, 7, 7]])
    assert segment_ids(doc).tolist() == [[0, 0, 1, 1, 2, 2]]


def test_doc_ids_from_tokens_eot_closes_its_document() -> None:
    toks = torch.tensor([[5, 6, 0, 7, 0, 0, 8]])
    assert doc_ids_from_tokens(toks, eot_id=0).tolist() == [[0, 0, 0, 1, 1, 2, 3]]


def reference_attention(q, k, v, seg=None):
    """Explicit softmax(QK^T / sqrt(d)) V with a causal (and document) mask, [B, T, H, D]."""
    q, k, v = (t.transpose(1, 2).double() for t in (q, k, v))
    t = q.shape[2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    allowed = torch.ones(t, t, dtype=torch.bool).tril()[None, None]
    if seg is not None:
        allowed = allowed & (seg[:, None, :, None] == seg[:, None, None, :])
    scores = scores.masked_fill(~allowed, float("-inf"))
    return (scores.softmax(-1) @ v).transpose(1, 2).float()


@pytest.mark.parametrize("with_docs", [False, True])
def test_sdpa_matches_explicit_softmax(with_docs: bool) -> None:
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 9, 3, 8, generator=g) for _ in range(3))
    seg = segment_ids(torch.tensor([[0] * 4 + [1] * 5, [0] * 9])) if with_docs else None
    out = llama.attention(q, k, v, seg, impl="sdpa")
    torch.testing.assert_close(out, reference_attention(q, k, v, seg), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(
    llama.flash_attn_func is None or not torch.cuda.is_available(),
    reason="flash-attn vs SDPA equality needs the flash-attn package and a CUDA GPU",
)
@pytest.mark.parametrize("with_docs", [False, True])
def test_flash_matches_sdpa_on_gpu(with_docs: bool) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=128, d_model=128, n_layers=2, n_heads=2, d_ff=256, max_seq_len=64)
    m = Transformer(cfg).cuda().to(torch.bfloat16).eval()
    x = torch.randint(0, 128, (2, 64), device="cuda")
    doc = torch.tensor([[0] * 20 + [1] * 44, [0] * 64], device="cuda") if with_docs else None
    with torch.no_grad():
        m.set_attention("flash")
        a = m(x, doc)
        m.set_attention("sdpa")
        b = m(x, doc)
    torch.testing.assert_close(a, b, rtol=2e-2, atol=2e-2)


def test_flash_requested_without_support_is_an_error(model: Transformer) -> None:
    model.set_attention("flash")
    with pytest.raises(CodescaleError, match="flash"):
        model(tokens())
    with pytest.raises(CodescaleError, match="attention must be"):
        model.set_attention("xformers")


def test_param_count_and_untied_head(model: Transformer) -> None:
    d, v = CFG.d_model, CFG.vocab_size
    body = CFG.n_layers * (4 * d * d + 3 * d * CFG.d_ff + 2 * d) + d
    assert model.num_params() == body
    assert model.num_params(non_embedding=False) == body + 2 * v * d
    assert model.embed.weight.data_ptr() != model.head.weight.data_ptr()
    assert not any("rope" in k for k in model.state_dict())  # derived buffers stay out


def test_init_scales_residual_projections() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=64, d_model=256, n_layers=8, n_heads=4, d_ff=512, max_seq_len=8)
    m = Transformer(cfg)
    assert abs(m.layers[0].attn.wqkv.weight.std().item() - 0.02) < 1e-3
    scaled = 0.02 / math.sqrt(16)
    assert abs(m.layers[3].mlp.w2.weight.std().item() - scaled) < 5e-4
    assert abs(m.layers[3].attn.wo.weight.std().item() - scaled) < 5e-4
    assert torch.equal(m.norm.weight, torch.ones(256))


def test_init_is_per_seed_and_independent_of_meta_build_and_wrapping() -> None:
    """The initial weights depend on the seed only: a model built on the meta device and
    materialised (what FSDP does, shard by shard) or with its blocks wrapped for activation
    checkpointing starts from exactly the weights of a plain one, RoPE tables included."""
    from codescale.train.module import apply_activation_checkpointing

    torch.manual_seed(3)
    plain = Transformer(CFG)
    again = Transformer(CFG)  # same global seed, no reseed: same weights
    with torch.device("meta"):
        meta = Transformer(CFG)
    apply_activation_checkpointing(meta)
    assert all(p.is_meta for p in meta.parameters())
    meta.to_empty(device="cpu")
    meta.reset_parameters()
    for other in (again, meta):
        state = other.state_dict()
        got = {k.replace("_checkpoint_wrapped_module.", ""): v for k, v in state.items()}
        assert got.keys() == plain.state_dict().keys()
        assert all(torch.equal(v, got[k]) for k, v in plain.state_dict().items())
        assert torch.equal(other.rope_cos, plain.rope_cos)
    torch.manual_seed(4)
    assert not torch.equal(Transformer(CFG).embed.weight, plain.embed.weight)
    # distinct draws per weight: no two layers start alike
    assert not torch.equal(plain.layers[0].attn.wqkv.weight, plain.layers[1].attn.wqkv.weight)


def test_loss_helpers_match_cross_entropy(model: Transformer) -> None:
    x = tokens()
    y = torch.roll(x, -1, dims=1)
    logits = model(x)
    expected = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    torch.testing.assert_close(model.loss(x, y), expected)
    mask = torch.zeros_like(x, dtype=torch.bool)
    mask[:, 6:] = True
    per_tok = model.token_losses(x, y)
    torch.testing.assert_close(model.loss(x, y, mask=mask), per_tok[:, 6:].mean())


def test_bad_inputs_raise(model: Transformer) -> None:
    with pytest.raises(CodescaleError, match="max_seq_len"):
        model(tokens(1, 17))
    with pytest.raises(CodescaleError, match="doc_ids shape"):
        model(tokens(1, 8), torch.zeros(1, 7, dtype=torch.long))
    with pytest.raises(CodescaleError, match="divisible"):
        ModelConfig(vocab_size=8, d_model=30, n_layers=1, n_heads=4, d_ff=8, max_seq_len=4)
    with pytest.raises(CodescaleError, match="n_layers"):
        ModelConfig(vocab_size=8, d_model=32, n_layers=0, n_heads=4, d_ff=8, max_seq_len=4)


@pytest.mark.parametrize("with_docs", [False, True])
def test_compiles_as_one_graph(model: Transformer, with_docs: bool) -> None:
    # backend="eager" traces with dynamo (fullgraph=True fails on any graph break) without codegen,
    # which keeps this fast on CPU; inductor itself is exercised by the GPU training runs.
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    x = tokens()
    doc = torch.tensor([[0] * 6 + [1] * 6] * 2) if with_docs else None
    torch.testing.assert_close(compiled(x, doc), model(x, doc))


def test_backward_reaches_every_parameter(model: Transformer) -> None:
    model.train()
    x = tokens()
    model.loss(x, torch.roll(x, -1, dims=1)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
