"""Named model sizes, exact parameter counts and training FLOPs, in closed form.

This module imports no torch on purpose: the Snakefile (resources per rule), `codescale plan` (cost
before anything runs) and the law fits all need sizes and FLOPs, and none of them should pay for or
depend on torch. `tests/test_presets.py` checks every closed form against the real module.

N, the parameter count of the scaling laws, is the NON-EMBEDDING count: every parameter except the
input embedding and the (untied) output head. Kaplan et al. (2020, section 2.1 and appendix D.5)
showed that laws in N excluding embeddings are much cleaner across depth/width and vocabulary sizes;
embedding tables scale with the tokenizer rather than with model capacity, so including them would
make the same architecture "larger" just because its vocabulary is. The total count is reported
alongside (`N_total` in metrics.json) but the fits use N.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from codescale.errors import CodescaleError

# The vocabulary size of the paper-scale table in docs/MODEL_SIZES.md (the paper does not
# state its tokenizer; 32768 = 2**15 is a typical code-BPE size and keeps uint16 token shards).
REFERENCE_VOCAB = 32768
# The vocabulary size the tiny (CPU) table is computed at.
TINY_REFERENCE_VOCAB = 4096


@dataclass(frozen=True)
class Shape:
    """Architecture of one decoder: width, depth, attention heads and SwiGLU hidden width."""

    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


# Paper sizes: the paper gives no layer shapes. These are LLaMA-like: head dim 64 up to d_model 2048
# and 128 above, d_ff = LLaMA's rule 256 * ceil(8/3 * d_model / 256), depth chosen so that the
# non-embedding N is within 3% of the name (7B is LLaMA-2-7B's exact shape, 7.5% under the name).
PAPER_SIZES: tuple[str, ...] = (
    "0.1B", "0.2B", "0.4B", "0.5B", "0.6B", "1.1B", "1.3B", "1.5B", "1.6B",
    "2.0B", "2.4B", "3.0B", "3.1B", "7B", "14B",
)  # fmt: skip
# Single-GPU sizes (one H100/H200, hours per run).
GPU_SIZES: tuple[str, ...] = ("10M", "30M", "85M")
# Tiny sizes for studies on a couple of CPU cores, named by their approximate non-embedding N.
TINY_SIZES: tuple[str, ...] = (
    "2K", "5K", "10K", "20K", "25K", "48K", "50K", "100K", "200K", "500K", "1M",
)  # fmt: skip

PRESETS: dict[str, Shape] = {
    # paper scale
    "0.1B": Shape(768, 14, 12, 2048),
    "0.2B": Shape(1024, 16, 16, 2816),
    "0.4B": Shape(1280, 20, 20, 3584),
    "0.5B": Shape(1536, 18, 24, 4096),
    "0.6B": Shape(1536, 21, 24, 4096),
    "1.1B": Shape(2048, 22, 32, 5632),
    "1.3B": Shape(2048, 25, 32, 5632),
    "1.5B": Shape(2304, 24, 18, 6144),
    "1.6B": Shape(2304, 25, 18, 6144),
    "2.0B": Shape(2560, 25, 20, 6912),
    "2.4B": Shape(2560, 30, 20, 6912),
    "3.0B": Shape(3072, 26, 24, 8192),
    "3.1B": Shape(3072, 27, 24, 8192),
    "7B": Shape(4096, 32, 32, 11008),
    "14B": Shape(5120, 44, 40, 13824),
    # single GPU
    "10M": Shape(256, 12, 4, 768),
    "30M": Shape(512, 9, 8, 1536),
    "85M": Shape(768, 12, 12, 2048),
    # tiny, CPU (head dim 8-32; d_ff picked by hand near 2-3 x d_model to land on the name)
    "2K": Shape(16, 1, 2, 20),
    "5K": Shape(16, 2, 2, 32),
    "10K": Shape(32, 1, 4, 64),
    "20K": Shape(32, 2, 4, 64),
    # One layer, width 32 -> 48 -> 64 (10K, 25K, 48K): the default study's ladder. At its few
    # hundred steps a second layer at the same width gains nothing (20K vs 10K), width does
    # (benchmarks/RESULTS.md section 9); 48K is named for its N (50,368), below 50K's.
    "25K": Shape(48, 1, 3, 112),
    "48K": Shape(64, 1, 4, 176),
    "50K": Shape(48, 2, 3, 112),
    "100K": Shape(64, 2, 4, 176),
    "200K": Shape(64, 4, 4, 176),
    "500K": Shape(96, 4, 3, 288),
    "1M": Shape(128, 5, 4, 352),
}

_SUFFIX = {"K": 10**3, "M": 10**6, "B": 10**9}


def nominal_params(name: str) -> float:
    """The N a preset's name promises ("0.4B" -> 4e8); used to order sizes and to test the table."""
    try:
        return float(name[:-1]) * _SUFFIX[name[-1]]
    except (KeyError, ValueError, IndexError):
        raise CodescaleError(f"size name {name!r} is not a number with a K/M/B suffix") from None


def shape_of(name_or_shape: str | Shape) -> Shape:
    """Resolve a preset name (or pass a Shape through), with an error listing the known names."""
    if isinstance(name_or_shape, Shape):
        return name_or_shape
    try:
        return PRESETS[name_or_shape]
    except (KeyError, TypeError):
        raise CodescaleError(
            f"unknown model size {name_or_shape!r}; known sizes: {', '.join(PRESETS)}"
        ) from None


def param_counts(name_or_shape: str | Shape, vocab_size: int) -> tuple[int, int]:
    """(non_embedding, total) parameters of `codescale.model.llama.Transformer`, exactly.

    Per layer: attention q, k, v, o (4 d^2, no biases), SwiGLU gate, up, down (3 d d_ff) and two
    RMSNorm weights (2 d); plus the final RMSNorm (d). Embedding and untied head add 2 V d.
    """
    s = shape_of(name_or_shape)
    _check_vocab(vocab_size)
    d = s.d_model
    non_embedding = s.n_layers * (4 * d * d + 3 * d * s.d_ff + 2 * d) + d
    return non_embedding, non_embedding + 2 * vocab_size * d


def n_params(name_or_shape: str | Shape) -> int:
    """N of the scaling laws (non-embedding parameters); independent of the vocabulary."""
    return param_counts(name_or_shape, 1)[0]


def model_config(name: str, vocab_size: int, max_seq_len: int) -> dict[str, int]:
    """Keyword arguments of `codescale.model.llama.ModelConfig` for a preset (JSON-ready)."""
    _check_vocab(vocab_size)
    if max_seq_len < 1:
        raise CodescaleError(f"max_seq_len must be >= 1, got {max_seq_len}")
    return {"vocab_size": vocab_size, **asdict(shape_of(name)), "max_seq_len": max_seq_len}


def flops_per_token(name_or_shape: str | Shape, vocab_size: int, seq_len: int) -> int:
    """Training FLOPs per token: 6 (N + d V) + 6 n_layers seq_len d_model (Kaplan et al. 2020).

    Forward is 2 FLOPs per weight per token (a multiply-add) and backward twice that, hence 6 per
    weight: 6N for the non-embedding weights plus 6 d V for the output head, a real matmul (the
    input embedding is a lookup and costs nothing). Attention scores and the weighted sum add
    2 n_layers seq_len d_model forward (Kaplan's n_ctx term, counted over the full context as Kaplan
    and Chinchilla do, although the causal half is masked), again x3 for training.
    """
    s = shape_of(name_or_shape)
    _check_vocab(vocab_size)
    if seq_len < 1:
        raise CodescaleError(f"seq_len must be >= 1, got {seq_len}")
    n = n_params(s)
    return 6 * (n + s.d_model * vocab_size) + 6 * s.n_layers * seq_len * s.d_model


def train_flops(name_or_shape: str | Shape, vocab_size: int, seq_len: int, tokens: int) -> int:
    """Total training FLOPs of a run on `tokens` tokens (exact integer; see flops_per_token)."""
    if tokens < 0:
        raise CodescaleError(f"tokens must be >= 0, got {tokens}")
    return flops_per_token(name_or_shape, vocab_size, seq_len) * int(tokens)


def flops_6nd(n: float, d: float) -> float:
    """The textbook C = 6 N D (no head, no attention term), for comparing with published budgets."""
    return 6.0 * n * d


def size_table(
    names: tuple[str, ...] | list[str], vocab_size: int, seq_len: int
) -> list[dict[str, int | str]]:
    """One row per preset: shape, exact parameter counts and training FLOPs per token."""
    rows: list[dict[str, int | str]] = []
    for name in names:
        s = shape_of(name)
        non_emb, total = param_counts(s, vocab_size)
        rows.append(
            {
                "size": name,
                **asdict(s),
                "head_dim": s.head_dim,
                "N": non_emb,
                "N_total": total,
                "flops_per_token": flops_per_token(s, vocab_size, seq_len),
            }
        )
    return rows


def markdown_table(names: tuple[str, ...] | list[str], vocab_size: int, seq_len: int) -> str:
    """The table docs/MODEL_SIZES.md shows (the test compares the doc with this)."""
    cols = ["size", "d_model", "n_layers", "n_heads", "head_dim", "d_ff", "N", "N_total"]
    lines = ["| " + " | ".join([*cols, "FLOPs/token"]) + " |", "|" + "---|" * (len(cols) + 1)]
    for row in size_table(names, vocab_size, seq_len):
        cells = [str(row[c]) for c in cols] + [f"{row['flops_per_token']:.4g}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _check_vocab(vocab_size: int) -> None:
    if int(vocab_size) < 1:
        raise CodescaleError(f"vocab_size must be >= 1, got {vocab_size}")
