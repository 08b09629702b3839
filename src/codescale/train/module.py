"""The LightningModule that trains one decoder, built to run as fast as a plain PyTorch loop.

Why the Trainer measured 0.44x of a plain compiled loop (DESIGN.md, H200), from Lightning 2.6's
source (lightning/pytorch/...), and what this module does instead:

1. Host-device syncs every step. `self.log(..., prog_bar=True)` puts the loss in the progress-bar
   metrics; TQDMProgressBar (refresh_rate=1) calls `get_metrics` -> `progress_bar_metrics` ->
   `convert_tensors_to_scalars` -> `.item()` on every batch (callbacks/progress/tqdm_progress.py
   `on_train_batch_end`). A sync per step stops the CPU from queueing the next step while the GPU
   runs this one, so all of Lightning's per-step Python (hooks, loop bookkeeping, result
   collection) lands on the critical path instead of hiding behind GPU work. With world_size > 1
   the epoch loop adds another one: `_broadcast_sigterm_tensor` broadcasts a flag and calls
   `.item()` on every batch (loops/training_epoch_loop.py, `on_advance_start`).
   -> we never call `self.log` and use no Lightning progress bar or logger; per-step losses stay
   on the device and are read with one `.item()`-free `torch.stack(...).cpu()` every `log_every`
   steps (`flush_losses`).
2. torch.compile of the LightningModule. `trainer.fit(torch.compile(module))` is unwrapped by
   `utilities/compile.py:from_compiled`, which wraps `training_step` (and forward) in the dynamo
   context: dynamo then traces Lightning's own code inside training_step (`self.log`, result
   collection, optimizer wrappers), hitting graph breaks and recompiles.
   -> we compile only the pure function model.loss (forward + cross-entropy in one graph), the
   same thing the plain loop compiles.
3. Automatic optimization runs forward/backward inside a closure passed to `optimizer.step`
   (loops/optimization/automatic.py), through the precision plugin's `optimizer_step`, with
   `on_before_zero_grad`, `on_before_backward`, `on_after_backward`, `on_before_optimizer_step`
   hooks and a `ClosureResult` per step, plus batch-size extraction for logging. It is correct but
   it is Python per step, which only costs time once (1) has exposed it.
   -> manual optimization: `manual_backward`, one foreach `clip_grad_norm_`, the
   fused AdamW step, `zero_grad(set_to_none=True)`. No LR scheduler object: the LR is a pure
   function of the step (hparams.lr_at), set on the param groups.
4. Data: Lightning would inject a DistributedSampler and re-iterate the loader from the start on
   resume; the data order here is a function of the step (sampler.py), so the loader is built from
   trainer.global_step after the checkpoint is restored, and use_distributed_sampler=False.

benchmarks/train_throughput.py measures this module's step against the plain loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import lightning as L
import torch
from torch.utils.data import Dataset, Sampler

from codescale.errors import CodescaleError
from codescale.model.llama import ModelConfig, Transformer
from codescale.train.checkpoint import rng_state, set_rng_state
from codescale.train.hparams import HParams, lr_at
from codescale.train.sampler import MixtureSampler


class StepBatches(Dataset):
    """Item `step` = this rank's share of global batch `step` (a dict of CPU tensors)."""

    def __init__(
        self,
        sampler: MixtureSampler,
        batch_size: int,
        steps: int,
        rank: int = 0,
        world_size: int = 1,
        doc_mask: bool = False,
    ):
        if batch_size % world_size:
            raise CodescaleError(
                f"global batch {batch_size} is not divisible by the world size {world_size}"
            )
        self.sampler = sampler
        self.local = batch_size // world_size
        self.batch_size = batch_size
        self.steps = steps
        self.rank = rank
        self.doc_mask = doc_mask

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        first = step * self.batch_size + self.rank * self.local
        batch = self.sampler.sequences(first, self.local)
        out = {"tokens": torch.from_numpy(batch.tokens)}
        if self.doc_mask:
            out["doc_ids"] = torch.from_numpy(batch.doc_ids)
        return out


class ResumeSampler(Sampler[int]):
    """Steps [start(), steps), with start read when iteration begins (after a checkpoint restore).

    __len__ is the full run, not the remainder: Lightning restores its batch counter from the
    checkpoint and ends the epoch when that counter reaches len(loader); a remainder length would
    end it early and restart the data at the resume step.
    """

    def __init__(self, start: Callable[[], int], steps: int):
        self.start = start
        self.steps = steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start(), self.steps))


def param_groups(model: Transformer, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices except the input embedding (OLMo); none on norm weights."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim >= 2 and not name.startswith("embed.") else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


class LMModule(L.LightningModule):
    """Manual-optimization training of `Transformer` on packed sequences (see module docstring)."""

    def __init__(
        self,
        model_cfg: dict[str, Any],
        hp: HParams,
        micro_batches: int = 1,
        compile: bool = False,
    ):
        super().__init__()
        self.automatic_optimization = False
        self.model = Transformer(ModelConfig(**model_cfg))
        self.hp = hp
        self.micro_batches = micro_batches
        self.use_compile = compile
        self._loss_fn = torch.compile(self.model.loss) if compile else self.model.loss
        self._pending: list[torch.Tensor] = []  # per-step losses not yet read back (device)
        self._pending_first_step = 0
        self.curve: list[list[float]] = []  # [step, tokens_seen, mean loss since last point]
        self._window: list[float] = []  # losses read back since the last curve point
        self.last_loss: float | None = None
        self.train_time_s = 0.0  # accumulated over attempts (restored from checkpoints)
        self.fingerprint = ""

    def configure_optimizers(self) -> torch.optim.Optimizer:
        fused = next(self.model.parameters()).is_cuda
        return torch.optim.AdamW(
            param_groups(self.model, self.hp.weight_decay),
            lr=self.hp.lr,
            betas=(self.hp.beta1, self.hp.beta2),
            eps=self.hp.eps,
            fused=fused,
        )

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        opt = self.optimizers()
        step = self.global_step
        lr = lr_at(step, self.hp)
        for group in opt.param_groups:
            group["lr"] = lr
        if not self._pending:
            self._pending_first_step = step
        tokens = batch["tokens"]
        docs = batch.get("doc_ids")
        total = None
        for chunk in range(self.micro_batches):
            rows = slice(
                chunk * tokens.shape[0] // self.micro_batches,
                (chunk + 1) * tokens.shape[0] // self.micro_batches,
            )
            t = tokens[rows]
            d = docs[rows, :-1] if docs is not None else None
            loss = self._loss_fn(t[:, :-1], t[:, 1:], d)
            self.manual_backward(loss / self.micro_batches)
            part = loss.detach() / self.micro_batches
            total = part if total is None else total + part
        # clip_grad_norm_ directly (bf16/fp32 need no unscaling): its norm tells a step whose
        # update was poisoned by an inf/NaN gradient although the loss itself was finite
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.hp.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        self._pending.append(torch.stack((total.float(), norm.float())))

    def flush_losses(self, tokens_per_step: int, point: bool) -> float | None:
        """Read back the pending per-step losses and gradient norms (one sync); check finiteness.

        With `point`, close the current window of steps into a curve point [step, tokens, mean]
        and return its mean. Windows end only at log steps (plus the last step), whatever
        checkpoints or signals read in between, so an interrupted run has the same curve.
        Raises CodescaleError naming the first step whose loss is NaN or inf, before anything
        (checkpoint, outputs) can be written from the diverged weights.
        """
        if self._pending:
            rows = torch.stack(self._pending).cpu().tolist()
            first = self._pending_first_step
            self._pending = []
            for k, (loss, norm) in enumerate(rows):
                if not (math.isfinite(loss) and math.isfinite(norm)):
                    raise CodescaleError(
                        f"non-finite training loss ({loss}) or gradient norm ({norm}) at step "
                        f"{first + k + 1} (lr {lr_at(first + k, self.hp):.3g}); the run stops, "
                        "the last good checkpoint is kept"
                    )
            losses = [loss for loss, _ in rows]
            self._window.extend(losses)
            self.last_loss = losses[-1]
        if not (point and self._window):
            return None
        mean = sum(self._window) / len(self._window)
        self.curve.append([self.global_step, self.global_step * tokens_per_step, mean])
        self._window = []
        return mean

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["codescale"] = {
            "fingerprint": self.fingerprint,
            "rng": rng_state(),
            "curve": self.curve,
            "window": self._window,
            "last_loss": self.last_loss,
            "train_time_s": self.train_time_s,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        extra = checkpoint.get("codescale", {})
        if extra.get("fingerprint") != self.fingerprint:
            raise CodescaleError(
                "checkpoint was written by a different configuration; delete it to start fresh"
            )
        self.curve = extra["curve"]
        self._window = extra["window"]
        self.last_loss = extra["last_loss"]
        self.train_time_s = extra["train_time_s"]
        set_rng_state(extra["rng"])
