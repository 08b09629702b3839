"""A LLaMA-2-style decoder in one module (after nanoGPT's model.py): the model every run trains.

Architecture (LLaMA-2, Touvron et al. 2023), as the paper states it: pre-norm RMSNorm, rotary
position embeddings (RoPE), SwiGLU feed-forward, multi-head attention with as many key/value heads
as query heads (no GQA), no biases anywhere. The input embedding and the output head are separate
matrices (untied) as in LLaMA: tying forces one matrix to serve both as a lookup table for inputs
and as a classifier over next tokens, which LLaMA and OLMo chose against at scale; untying also
keeps N (non-embedding parameters, see codescale.model.presets) a clean count of the body.

Attention runs through flash-attn (`flash_attn_func`, or `flash_attn_varlen_func` with document
masking) when the package imports and the tensors are CUDA fp16/bf16; otherwise through PyTorch's
`scaled_dot_product_attention` (which itself picks a fused kernel where it can). Both compute exact
softmax attention, so they agree to within floating-point rounding.

Document masking: when `doc_ids` is given, a token attends only to earlier tokens of its own
document (a run of equal consecutive ids in a row). RoPE needs no position reset at document starts:
attention scores depend only on relative positions, so a document's outputs are the same wherever
it sits in the row.

Loss: `forward` returns float32 logits; `token_losses` / `loss` compute cross-entropy from them, so
training, validation and translation loss (masked to the target tokens) share one definition.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codescale.errors import CodescaleError

try:  # optional: pip install flash-attn (the `cuda` extra); absent on CPU machines
    from flash_attn import flash_attn_func, flash_attn_varlen_func
except (ImportError, OSError):  # OSError: a wheel built against another CUDA/torch
    flash_attn_func = None
    flash_attn_varlen_func = None

ATTENTION_IMPLS = ("auto", "sdpa", "flash")


@dataclass
class ModelConfig:
    """All that determines the architecture; stored as `"model"` in each run's config.json."""

    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    max_seq_len: int
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        for key in ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "max_seq_len"):
            if int(getattr(self, key)) < 1:
                raise CodescaleError(f"ModelConfig.{key} must be >= 1, got {getattr(self, key)}")
        if self.d_model % self.n_heads:
            raise CodescaleError(
                f"ModelConfig.d_model ({self.d_model}) must be divisible by"
                f" n_heads ({self.n_heads})"
            )
        if (self.d_model // self.n_heads) % 2:
            raise CodescaleError(
                f"ModelConfig head dim d_model/n_heads = {self.d_model // self.n_heads}"
                " must be even"
                " (RoPE rotates pairs of dimensions)"
            )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


@dataclass
class KVCache:
    """Keys and values of every layer, [B, capacity, H, D] each, for incremental decoding.

    `valid` [B, capacity] marks real tokens (False on left padding); `length` = positions filled.
    """

    k: list[torch.Tensor]
    v: list[torch.Tensor]
    valid: torch.Tensor
    length: int = 0

    def select(self, rows: torch.Tensor) -> None:
        """Keep only batch rows `rows` (finished sequences leave the batch)."""
        self.k = [t.index_select(0, rows) for t in self.k]
        self.v = [t.index_select(0, rows) for t in self.v]
        self.valid = self.valid.index_select(0, rows)


class RMSNorm(nn.Module):
    """Root-mean-square norm with a learned gain (no mean subtraction, no bias), in fp32."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.type_as(x) * self.weight.type_as(x)


def rope_tables(head_dim: int, max_seq_len: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the RoPE angles, [max_seq_len, head_dim / 2], in fp32."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(max_seq_len, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate [B, T, H, D] by position; pairs dimension i with i + D/2 (GPT-NeoX / HF layout).

    Real arithmetic rather than LLaMA's complex view: same rotation up to a fixed permutation of
    dimensions, and torch.compile handles it without complex-number support.
    """
    x1, x2 = x.float().chunk(2, dim=-1)
    cos = cos[None, :, None, :]
    sin = sin[None, :, None, :]
    out = torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.type_as(x)


def segment_ids(doc_ids: torch.Tensor) -> torch.Tensor:
    """Number each run of equal consecutive doc ids in a row 0, 1, 2, ... (what masking uses).

    So two separate spans with the same id never attend to each other, whatever ids the caller used.
    """
    change = (doc_ids[:, 1:] != doc_ids[:, :-1]).long()
    return torch.cat((torch.zeros_like(change[:, :1]), change.cumsum(dim=1)), dim=1)


def doc_ids_from_tokens(tokens: torch.Tensor, eot_id: int) -> torch.Tensor:
    """Document ids for a packed row: a new document starts right after each end-of-text token.

    The end-of-text token belongs to the document it closes (it is predicted from that document).
    """
    is_eot = (tokens == eot_id).long()
    return is_eot.cumsum(dim=1) - is_eot


def _use_flash(q: torch.Tensor, impl: str) -> bool:
    ok = flash_attn_func is not None and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16)
    if impl == "flash" and not ok:
        raise CodescaleError(
            "attention='flash' needs flash-attn installed and CUDA fp16/bf16 tensors"
            f" (flash-attn importable: {flash_attn_func is not None}, device {q.device},"
            f" dtype {q.dtype})"
        )
    return ok and impl != "sdpa"


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, seg: torch.Tensor | None, impl: str = "auto"
) -> torch.Tensor:
    """Causal softmax attention on [B, T, H, D] tensors, within segments when `seg` is given."""
    if _use_flash(q, impl):
        if seg is None:
            return flash_attn_func(q, k, v, causal=True)
        return _flash_varlen(q, k, v, seg)
    qt, kt, vt = (t.transpose(1, 2) for t in (q, k, v))  # SDPA wants [B, H, T, D]
    if seg is None:
        out = F.scaled_dot_product_attention(qt, kt, vt, is_causal=True)
    else:
        t = q.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
        same_doc = seg[:, :, None] == seg[:, None, :]
        mask = (causal[None] & same_doc)[:, None]  # [B, 1, T, T], True = may attend
        out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask)
    return out.transpose(1, 2)


def _flash_varlen(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, seg: torch.Tensor
) -> torch.Tensor:
    """Document-masked attention with flash-attn: every segment becomes its own sequence.

    Segments are contiguous, so flattening [B, T] row-major keeps each one contiguous; a sequence
    starts at every row start and at every segment change.
    """
    b, t, h, d = q.shape
    starts = torch.ones(b, t, dtype=torch.bool, device=q.device)
    starts[:, 1:] = seg[:, 1:] != seg[:, :-1]
    start_pos = starts.flatten().nonzero().flatten().to(torch.int32)
    end = torch.tensor([b * t], dtype=torch.int32, device=q.device)
    cu_seqlens = torch.cat((start_pos, end))
    max_len = int((cu_seqlens[1:] - cu_seqlens[:-1]).max().item())
    out = flash_attn_varlen_func(
        q.reshape(b * t, h, d),
        k.reshape(b * t, h, d),
        v.reshape(b * t, h, d),
        cu_seqlens,
        cu_seqlens,
        max_len,
        max_len,
        causal=True,
    )
    return out.reshape(b, t, h, d)


class Attention(nn.Module):
    """Multi-head self-attention with RoPE; q, k, v from one fused projection (one matmul)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.head_dim
        self.wqkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.wo = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.impl = "auto"

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, seg: torch.Tensor | None
    ) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = self.wqkv(x).view(b, t, 3, self.n_heads, self.head_dim).unbind(dim=2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        out = attention(q, k, v, seg, self.impl)
        return self.wo(out.reshape(b, t, -1))

    def forward_cached(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: KVCache, layer: int
    ) -> torch.Tensor:
        """Attention for generation: append this step's keys/values to `cache` and attend to all.

        x [B, t, d] holds the tokens at positions cache.length .. cache.length + t - 1 (cos/sin
        already sliced to them). Masking as document masking with doc_ids = cache.valid: a real
        token attends to earlier real tokens only, a padding position to earlier padding.
        """
        b, t, _ = x.shape
        q, k, v = self.wqkv(x).view(b, t, 3, self.n_heads, self.head_dim).unbind(dim=2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        s = cache.length
        cache.k[layer][:, s : s + t] = k
        cache.v[layer][:, s : s + t] = v
        keys, vals = cache.k[layer][:, : s + t], cache.v[layer][:, : s + t]
        valid = cache.valid[:, : s + t]
        causal = torch.ones(t, s + t, dtype=torch.bool, device=x.device).tril(diagonal=s)
        same = valid[:, s:, None] == valid[:, None, :]  # [B, t, s + t]
        mask = (causal[None] & same)[:, None]
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), keys.transpose(1, 2), vals.transpose(1, 2), attn_mask=mask
        )
        return self.wo(out.transpose(1, 2).reshape(b, t, -1))


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)) (Shazeer 2020); gate and up fused into one matmul."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.w13 = nn.Linear(cfg.d_model, 2 * cfg.d_ff, bias=False)
        self.w2 = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w13(x).chunk(2, dim=-1)
        return self.w2(F.silu(gate) * up)


class Block(nn.Module):
    """Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = SwiGLU(cfg)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, seg: torch.Tensor | None
    ) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin, seg)
        return x + self.mlp(self.mlp_norm(x))

    def forward_cached(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: KVCache, layer: int
    ) -> torch.Tensor:
        x = x + self.attn.forward_cached(self.attn_norm(x), cos, sin, cache, layer)
        return x + self.mlp(self.mlp_norm(x))


class Transformer(nn.Module):
    """The decoder: tokens [B, T] (and optional doc_ids [B, T]) -> float32 logits [B, T, V].

    `attention` picks the kernel: "auto" (flash-attn where possible, else SDPA), "sdpa" or "flash"
    (an error where flash-attn cannot run). It is not part of ModelConfig: it changes speed, not
    the function the model computes.
    """

    def __init__(self, cfg: ModelConfig, attention: str = "auto") -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        cos, sin = rope_tables(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta)
        # Not persistent: derived from the config, so they stay out of checkpoints and safetensors.
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.set_attention(attention)
        self.reset_parameters()

    def set_attention(self, impl: str) -> None:
        """Switch the attention kernel of every layer ("auto", "sdpa" or "flash")."""
        if impl not in ATTENTION_IMPLS:
            raise CodescaleError(f"attention must be one of {ATTENTION_IMPLS}, got {impl!r}")
        for layer in self.layers:
            layer.attn.impl = impl

    def reset_parameters(self) -> None:
        """Initialise every weight from the global seed (torch.initial_seed()): init_weights."""
        self.init_weights(torch.initial_seed())

    @torch.no_grad()
    def init_weights(self, seed: int) -> None:
        """LLaMA/OLMo-style init: N(0, 0.02) everywhere, residual outputs scaled down by depth.

        The attention output and SwiGLU down projections write into the residual stream once per
        layer each, 2 n_layers times in all; std 0.02 / sqrt(2 n_layers) keeps the residual's
        variance at initialisation independent of depth (GPT-2, nanoGPT).

        Each weight is drawn from its own generator, seeded by (seed, parameter name), as a full
        tensor on the CPU; a sharded (FSDP2 DTensor) weight keeps its rank's slice of it. So the
        initial weights are the same for one process, DDP and FSDP at any world size, and FSDP
        can build the model on the meta device: no rank ever holds more than one full weight
        (train/module.py, parallelize_fsdp). Also recomputes the RoPE tables, which the meta
        device leaves empty. Meta tensors are skipped (nothing to fill yet).
        """
        from torch.distributed.tensor import DTensor, distribute_tensor

        cos, sin = rope_tables(self.cfg.head_dim, self.cfg.max_seq_len, self.cfg.rope_theta)
        if not self.rope_cos.is_meta:
            self.rope_cos.copy_(cos)
            self.rope_sin.copy_(sin)
        scaled = 0.02 / math.sqrt(2 * self.cfg.n_layers)
        for name, param in self.named_parameters():
            if param.is_meta:
                continue
            # the names of the plain model, whatever wraps its blocks (checkpointing, compile)
            key = name.replace("_checkpoint_wrapped_module.", "").replace("_orig_mod.", "")
            full = torch.empty(param.shape, dtype=torch.float32)
            if key.endswith("norm.weight"):
                full.fill_(1.0)
            else:
                std = scaled if key.endswith(("attn.wo.weight", "mlp.w2.weight")) else 0.02
                # the CPU generator keeps 32 bits of its seed: fold (seed, name) into 32
                gen = torch.Generator().manual_seed(zlib.crc32(f"{seed}/{key}".encode()))
                full.normal_(0.0, std, generator=gen)
            if isinstance(param, DTensor):
                shard = distribute_tensor(
                    full, param.device_mesh, param.placements, src_data_rank=None
                )
                param.to_local().copy_(shard.to_local())
            else:
                param.copy_(full)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; non_embedding=True leaves out the embedding and head (the laws' N)."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding:
            total -= self.embed.weight.numel() + self.head.weight.numel()
        return total

    def forward(self, tokens: torch.Tensor, doc_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [B, T, V] in float32; with doc_ids, attention stays inside each document."""
        t = tokens.shape[1]
        if t > self.cfg.max_seq_len:
            raise CodescaleError(
                f"sequence length {t} exceeds the model's max_seq_len {self.cfg.max_seq_len}"
            )
        if doc_ids is not None and doc_ids.shape != tokens.shape:
            raise CodescaleError(
                f"doc_ids shape {tuple(doc_ids.shape)} != tokens shape {tuple(tokens.shape)}"
            )
        seg = None if doc_ids is None else segment_ids(doc_ids)
        cos, sin = self.rope_cos[:t], self.rope_sin[:t]
        x = self.embed(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin, seg)
        return self.head(self.norm(x)).float()

    def new_cache(self, batch: int, capacity: int | None = None) -> KVCache:
        """An empty key/value cache for `batch` rows of up to `capacity` (max_seq_len) tokens."""
        cap = self.cfg.max_seq_len if capacity is None else capacity
        p = self.embed.weight
        shape = (batch, cap, self.cfg.n_heads, self.cfg.head_dim)
        return KVCache(
            k=[torch.zeros(shape, dtype=p.dtype, device=p.device) for _ in self.layers],
            v=[torch.zeros(shape, dtype=p.dtype, device=p.device) for _ in self.layers],
            valid=torch.zeros((batch, cap), dtype=torch.bool, device=p.device),
        )

    def forward_cached(
        self, tokens: torch.Tensor, cache: KVCache, valid: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits [B, t, V] (float32) for `tokens` [B, t] continuing what `cache` holds.

        Generation only (the training forward is `forward`, untouched): the first call (prefill)
        passes the left-padded prompts with `valid` [B, t] (False on padding), later calls one
        token per row. Equals `forward` on the whole sequence (with doc_ids = valid) up to
        floating-point rounding; SDPA only, as flash-attn's KV-cache kernels are not used.
        """
        t = tokens.shape[1]
        s = cache.length
        if s + t > cache.k[0].shape[1]:
            raise CodescaleError(
                f"KV cache holds {cache.k[0].shape[1]} positions; {s} + {t} do not fit"
            )
        cache.valid[:, s : s + t] = True if valid is None else valid
        cos, sin = self.rope_cos[s : s + t], self.rope_sin[s : s + t]
        x = self.embed(tokens)
        for i, layer in enumerate(self.layers):
            x = layer.forward_cached(x, cos, sin, cache, i)
        cache.length = s + t
        return self.head(self.norm(x)).float()

    def token_losses(
        self, tokens: torch.Tensor, targets: torch.Tensor, doc_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Per-token cross-entropy [B, T] in nats (e.g. sum over a translation's target tokens)."""
        logits = self(tokens, doc_ids)
        nll = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
        return nll.view_as(targets)

    def loss(
        self,
        tokens: torch.Tensor,
        targets: torch.Tensor,
        doc_ids: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mean cross-entropy over the positions where `mask` is true (all positions by default).

        An all-false mask gives NaN rather than a silent 0 (no data-dependent check here, so the
        training step stays one compiled graph).
        """
        nll = self.token_losses(tokens, targets, doc_ids)
        if mask is None:
            return nll.mean()
        m = mask.to(nll.dtype)
        return (nll * m).sum() / m.sum()
