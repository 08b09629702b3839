"""Batch size, learning rate and LR schedule as functions of model size N (non-embedding params).

The paper states none of its optimisation settings, so we follow a published, N-indexed rule: the
OLMo model ladder (allenai/OLMo `scripts/ladder.py` and OLMo-core's ladder), which takes its fits
from Porian et al. 2024, "Resolving Discrepancies in Compute-Optimal Scaling of Language Models"
(arXiv 2406.19146):

    global batch = 160 * (N / 108e6) ** (2/3)   sequences of 2048 tokens
    peak LR      = 0.0047 * (N / 108e6) ** (-1/3)

with AdamW betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on matrices (none on embeddings and norms,
as in OLMo), gradient clipping at 1.0. We keep the batch in *tokens* (160 * 2048 * ...) and convert
to sequences of the run's seq_len, so changing seq_len does not change the tokens per step. Every
value can be overridden; the resolved values go to config.json.

Schedules: "cosine" (linear warmup, cosine decay to `min_lr_ratio` of the peak at the last step, as
Chinchilla) and "wsd" (warmup-stable-decay: constant after warmup, then a 1-sqrt cooldown over the
last `decay_fraction` of steps, Hägele et al. 2024, arXiv 2405.18392). The LR is a pure function of
the step, so a resumed run needs no scheduler state to continue exactly.

WSD branches: before its cooldown a WSD run of D tokens is at the constant peak LR, so the runs of
several budgets D_1 < ... < D_K of one (cell, size) share their trajectory up to each one's branch
step (`decay_start`): one stable run trains to the largest branch step and checkpoints at every
one, and each budget's cooldown resumes from its branch checkpoint. That needs a warmup that does
not depend on D: `warmup_tokens` fixes it in tokens (the study sets it to warmup_fraction x the
cell's smallest budget), and the `trajectory` fingerprint of a run leaves out what only the
cooldown reads (steps, decay_fraction, min_lr_ratio).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from codescale.errors import CodescaleError

LADDER_N = 108e6
LADDER_BATCH_SEQS = 160
LADDER_SEQ_LEN = 2048
LADDER_LR = 0.0047
SCHEDULES = ("cosine", "wsd")


def ladder_batch_tokens(n_params: int) -> float:
    """Global batch in tokens for non-embedding N (OLMo ladder / Porian et al. 2024)."""
    if n_params < 1:
        raise CodescaleError(f"N must be >= 1, got {n_params}")
    return LADDER_BATCH_SEQS * LADDER_SEQ_LEN * (n_params / LADDER_N) ** (2 / 3)


def ladder_lr(n_params: int) -> float:
    """Peak AdamW learning rate for non-embedding N (OLMo ladder / Porian et al. 2024)."""
    if n_params < 1:
        raise CodescaleError(f"N must be >= 1, got {n_params}")
    return LADDER_LR * (n_params / LADDER_N) ** (-1 / 3)


def configured_lr(setting: float | dict[str, float] | None, size: str) -> float | None:
    """The config's `train.lr` for model size `size` (a preset name such as "50K").

    `setting` is one LR for every size, a mapping size -> LR, or None (the caller falls back to
    `ladder_lr`). A per-size mapping exists because at tiny sizes one LR does not suit a 10x range
    of N (the default study's pilots, benchmarks/RESULTS.md). Raises CodescaleError naming the size
    when a mapping does not list it (config validation checks every trained size up front).
    """
    if not isinstance(setting, dict):
        return setting
    if size not in setting:
        raise CodescaleError(
            f"config error at 'train.lr': no learning rate for size {size!r} "
            f"(listed: {', '.join(setting) or 'none'})"
        )
    return float(setting[size])


def batch_sequences(n_params: int, seq_len: int, multiple: int = 1) -> int:
    """The ladder batch as a number of sequences of `seq_len`, rounded to a multiple of `multiple`.

    `multiple` is the data-parallel world size times the micro-batch size, so every rank gets the
    same share and it splits into whole micro-batches; at least one sequence per micro-batch.
    """
    seqs = ladder_batch_tokens(n_params) / seq_len
    return max(multiple, multiple * round(seqs / multiple))


@dataclass
class HParams:
    """Resolved optimisation settings of one run (stored under "train" in config.json)."""

    batch_size: int  # global, in sequences
    lr: float
    steps: int
    seq_len: int
    schedule: str = "cosine"
    warmup_fraction: float = 0.05
    decay_fraction: float = 0.2  # wsd only
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0
    warmup_tokens: int | None = None  # overrides warmup_fraction (WSD branches: same for all D)

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise CodescaleError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.batch_size < 1 or self.steps < 1 or self.seq_len < 1:
            raise CodescaleError(
                f"batch_size, steps and seq_len must be >= 1, got {self.batch_size}, "
                f"{self.steps}, {self.seq_len}"
            )
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise CodescaleError(f"lr must be a positive finite number, got {self.lr}")
        for key in ("warmup_fraction", "decay_fraction", "min_lr_ratio"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise CodescaleError(f"{key} must be in [0, 1], got {getattr(self, key)}")
        if self.warmup_tokens is not None and self.warmup_tokens < 0:
            raise CodescaleError(f"warmup_tokens must be >= 0, got {self.warmup_tokens}")

    @property
    def warmup_steps(self) -> int:
        if self.warmup_tokens is not None:
            return round(self.warmup_tokens / self.tokens_per_step)
        return round(self.warmup_fraction * self.steps)

    @property
    def decay_start(self) -> int:
        """WSD: the first step of the cooldown (= the branch step: optimizer steps taken at the
        constant LR before it, warmup included)."""
        return decay_start(self.steps, self.decay_fraction)

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.seq_len

    def to_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "warmup_steps": self.warmup_steps}


def steps_for(tokens: int, batch_size: int, seq_len: int) -> int:
    """Optimizer steps of a run of `tokens` tokens (rounded up to whole global batches)."""
    return math.ceil(int(tokens) / (batch_size * seq_len))


def decay_start(steps: int, decay_fraction: float) -> int:
    """WSD: the step at which the cooldown of a `steps`-step run begins (at least one step of
    cooldown): steps - max(1, round(decay_fraction x steps))."""
    return steps - max(1, round(decay_fraction * steps))


def lr_at(step: int, hp: HParams) -> float:
    """Learning rate for optimizer step `step` (0-based): warmup, then cosine or WSD decay."""
    warm = hp.warmup_steps
    if step < warm:
        return hp.lr * (step + 1) / warm
    floor = hp.lr * hp.min_lr_ratio
    if hp.schedule == "cosine":
        span = max(1, hp.steps - 1 - warm)
        progress = min(1.0, (step - warm) / span)
        return floor + (hp.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    start = hp.decay_start
    decay = hp.steps - start
    if step < start:
        return hp.lr
    progress = min(1.0, (step - start + 1) / decay)
    return floor + (hp.lr - floor) * (1.0 - math.sqrt(progress))
