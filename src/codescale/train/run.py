"""`codescale train`: train one model on one mixture plan with Lightning; write weights + metrics.

Outputs (in --out-dir, each written atomically): model.safetensors, metrics.json, config.json, in
the formats of docs/ARCHITECTURE.md. Checkpoints go to --checkpoint-dir (never the output dir, so
Snakemake never deletes them): every --checkpoint-every steps, at the last step, and when SIGTERM
or SIGUSR1 (Slurm's preemption / time-limit warning) arrives, after which the run exits non-zero so
Snakemake's retry resubmits it; the resubmitted job resumes from last.ckpt exactly (weights,
optimizer, step, RNG; the data order is a function of the step). Lightning's own Slurm auto-requeue
is disabled: requeueing is Snakemake's job. The checkpoint is deleted once the outputs exist
(--keep-checkpoint keeps it).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.environments import SLURMEnvironment
from torch.utils.data import DataLoader

from codescale.data.shards import Shard
from codescale.errors import CodescaleError
from codescale.io import atomic_path, write_json
from codescale.model import presets
from codescale.model.llama import Transformer
from codescale.train.checkpoint import (
    LAST,
    AtomicCheckpointIO,
    check_fingerprint,
    fingerprint,
    last_checkpoint,
)
from codescale.train.hparams import HParams, batch_sequences, ladder_lr
from codescale.train.mixture import load_plan, parse_count
from codescale.train.module import LMModule, ResumeSampler, StepBatches
from codescale.train.sampler import MixtureSampler

log = logging.getLogger(__name__)

# Dense bf16 tensor-core peaks (vendor datasheets, FLOP/s, no sparsity), matched by device name in
# this order (first substring that matches wins).
PEAK_BF16_FLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H200", 989e12),
    ("H800", 989e12),
    ("H100", 989e12),
    ("A100", 312e12),
)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


def peak_flops(device_name: str) -> float | None:
    """Per-device bf16 dense peak for a CUDA device name, None when unknown."""
    for key, peak in PEAK_BF16_FLOPS:
        if key in device_name:
            return peak
    return None


class RunControl(Callback):
    """Loss read-back, progress, periodic/signal checkpoints, in one place per training step.

    Reading losses only every `log_every` steps keeps host-device syncs off the hot path (see
    module.py); checkpoints and stops always read first, so NaN weights are never saved.
    """

    def __init__(self, ckpt_path: Path):
        self.ckpt_path = ckpt_path
        self.configure(steps=1, log_every=1, ckpt_every=0, tokens_per_step=1)
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}
        self._bar: Any = None

    def configure(self, steps: int, log_every: int, ckpt_every: int, tokens_per_step: int) -> None:
        """Set once the run length is known (it depends on the world size the Trainer resolves)."""
        self.steps = steps
        self.log_every = log_every
        self.ckpt_every = ckpt_every
        self.tokens_per_step = tokens_per_step

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signal = signum

    def on_train_start(self, trainer: L.Trainer, pl_module: LMModule) -> None:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        self._clock = time.perf_counter()
        self._last_step = trainer.global_step
        self._last_time = self._clock
        if trainer.is_global_zero and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.steps, initial=trainer.global_step, unit="step")

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_train_batch_end(self, trainer, pl_module: LMModule, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        last = step >= self.steps
        log_due = step % self.log_every == 0 or last
        ckpt_due = last or (self.ckpt_every > 0 and step % self.ckpt_every == 0)
        stop = self.signal is not None
        if trainer.world_size > 1:  # a collective, so only on steps every rank agrees on
            stop = log_due and trainer.strategy.reduce_boolean_decision(stop, all=False)
        if not (log_due or ckpt_due or stop):
            return
        mean = pl_module.flush_losses(self.tokens_per_step, point=log_due)
        now = time.perf_counter()
        pl_module.train_time_s += now - self._clock
        self._clock = now
        if mean is not None and trainer.is_global_zero:
            self._report(step, mean, now)
        if ckpt_due or stop:
            trainer.save_checkpoint(self.ckpt_path)
        if stop:
            name = signal.Signals(self.signal).name if self.signal else "a stop signal"
            raise CodescaleError(
                f"received {name} at step {step}/{self.steps}: checkpoint saved to "
                f"{self.ckpt_path}; run again to resume"
            )

    def _report(self, step: int, loss: float, now: float) -> None:
        dt = max(now - self._last_time, 1e-9)
        tps = (step - self._last_step) * self.tokens_per_step / dt
        if self._bar is not None:
            self._bar.update(step - self._last_step)
            self._bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{tps:,.0f}")
        else:
            log.info(
                "step %d/%d tokens %d loss %.4f tokens/s %.0f",
                step,
                self.steps,
                step * self.tokens_per_step,
                loss,
                tps,
            )
        self._last_step, self._last_time = step, now


@torch.no_grad()
def validation_loss(
    model: Transformer,
    prefix: str,
    seq_len: int,
    max_tokens: int | None,
    batch_size: int,
    doc_mask: bool,
    autocast: torch.dtype | None,
) -> tuple[float, int]:
    """Mean next-token loss (nats) over the first `max_tokens` target tokens of a shard.

    The shard's tokens in stored order, cut into rows of seq_len inputs + their targets (the last
    row may be shorter); with doc_mask, attention stays within documents as in training.
    """
    shard = Shard(prefix)
    n = shard.n_tokens if max_tokens is None else min(shard.n_tokens, max_tokens + 1)
    if n < 2:
        raise CodescaleError(f"validation shard {prefix} has fewer than 2 tokens")
    toks = torch.from_numpy(np.asarray(shard.tokens[:n], dtype=np.int64))
    doc_of = torch.from_numpy(
        np.searchsorted(shard.offsets, np.arange(n), side="right").astype(np.int64) - 1
    )
    device = next(model.parameters()).device
    total, count = 0.0, 0
    starts = list(range(0, n - 1, seq_len))
    for i in range(0, len(starts), batch_size):
        group = starts[i : i + batch_size]
        for width in sorted({min(seq_len, n - 1 - s) for s in group}):
            rows = [s for s in group if min(seq_len, n - 1 - s) == width]
            x = torch.stack([toks[s : s + width] for s in rows]).to(device)
            y = torch.stack([toks[s + 1 : s + 1 + width] for s in rows]).to(device)
            d = torch.stack([doc_of[s : s + width] for s in rows]).to(device) if doc_mask else None
            with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
                nll = model.token_losses(x, y, d)
            total += float(nll.double().sum())
            count += nll.numel()
    return total / count, count


def _parse_val(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        lang, sep, prefix = item.partition("=")
        if not sep or not lang or not prefix:
            raise CodescaleError(f"--val {item!r}: expected LANG=PREFIX")
        if lang in out:
            raise CodescaleError(f"--val {lang} given twice")
        Shard(prefix)  # fail before training, not after
        out[lang] = prefix
    return out


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mixture", required=True, help="mixture.json from `codescale mixture`")
    parser.add_argument("--size", required=True, help="model size preset, e.g. 5K, 0.1B")
    parser.add_argument("--out-dir", required=True, help="model.safetensors/metrics/config here")
    parser.add_argument("--checkpoint-dir", required=True, help="checkpoints (resume from here)")
    parser.add_argument("--val", action="extend", nargs="+", default=[], metavar="LANG=PREFIX")
    parser.add_argument("--seq-len", type=int, default=None, help="default: the mixture's")
    parser.add_argument("--batch-size", type=int, default=None, help="global, in sequences")
    parser.add_argument("--micro-batch-size", type=int, default=None, help="per device per pass")
    parser.add_argument("--lr", type=float, default=None, help="peak LR (default: OLMo ladder)")
    parser.add_argument("--schedule", choices=("cosine", "wsd"), default="cosine")
    parser.add_argument("--warmup-fraction", type=float, default=0.05)
    parser.add_argument("--decay-fraction", type=float, default=0.2, help="wsd cooldown share")
    parser.add_argument("--min-lr-ratio", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--checkpoint-every", type=int, default=1000, help="steps; 0: only last")
    parser.add_argument("--keep-checkpoint", action="store_true", help="keep last.ckpt at the end")
    parser.add_argument("--log-every", type=int, default=0, help="steps; 0: about 200 points")
    parser.add_argument("--doc-mask", action="store_true", help="document-level causal mask")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model's loss")
    parser.add_argument(
        "--precision",
        choices=("auto", "bf16-mixed", "32-true"),
        default="auto",
        help="auto: bf16-mixed on a GPU with bf16, else 32-true",
    )
    parser.add_argument("--accelerator", default="auto")
    parser.add_argument("--devices", default="auto")
    parser.add_argument(
        "--num-nodes", type=int, default=int(os.environ.get("SLURM_NNODES", "1") or 1)
    )
    parser.add_argument("--max-val-tokens", default="1M", help="per language; 0: all")
    parser.add_argument("--loader-workers", type=int, default=None, help="default 0 CPU, 2 GPU")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def _precision(requested: str, accelerator: str) -> str:
    if requested != "auto":
        return requested
    gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"


def run(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    plan = load_plan(args.mixture)
    seq_len = args.seq_len or int(plan["seq_len"])
    vocab = int(Shard(plan["sources"][0]["prefix"]).meta["vocab_size"])
    val = _parse_val(args.val)
    max_val = parse_count(args.max_val_tokens, "--max-val-tokens") or None
    model_cfg = presets.model_config(args.size, vocab, seq_len)
    n_params, _ = presets.param_counts(args.size, vocab)
    precision = _precision(args.precision, args.accelerator)
    ckpt_dir = Path(args.checkpoint_dir)
    out_dir = Path(args.out_dir)
    if ckpt_dir.resolve() == out_dir.resolve():
        raise CodescaleError("--checkpoint-dir must differ from --out-dir")
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")

    plugins: list[Any] = [AtomicCheckpointIO()]
    if SLURMEnvironment.detect():
        plugins.append(SLURMEnvironment(auto_requeue=False))
    devices: int | str = int(args.devices) if str(args.devices).isdigit() else args.devices
    trainer_kw: dict[str, Any] = dict(
        accelerator=args.accelerator,
        devices=devices,
        num_nodes=args.num_nodes,
        precision=precision,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        use_distributed_sampler=False,
        plugins=plugins,
        default_root_dir=str(ckpt_dir),
    )
    control = RunControl(ckpt_dir / LAST)
    trainer = L.Trainer(max_steps=-1, callbacks=[control], **trainer_kw)
    world = trainer.world_size  # resolved from the environment; the batch rule needs it
    micro = args.micro_batch_size
    batch = args.batch_size or batch_sequences(n_params, seq_len, world * (micro or 1))
    local = batch // world
    if batch % world or (micro and local % micro):
        raise CodescaleError(
            f"global batch {batch} must split evenly over {world} devices"
            + (f" and micro-batches of {micro}" if micro else "")
        )
    steps = math.ceil(int(plan["tokens"]) / (batch * seq_len))
    hp = HParams(
        batch_size=batch,
        lr=args.lr or ladder_lr(n_params),
        steps=steps,
        seq_len=seq_len,
        schedule=args.schedule,
        warmup_fraction=args.warmup_fraction,
        decay_fraction=args.decay_fraction,
        min_lr_ratio=args.min_lr_ratio,
        weight_decay=args.weight_decay,
    )
    fp = fingerprint(
        {
            "model": model_cfg,
            "hp": hp.to_dict(),
            "mixture": plan,
            "doc_mask": args.doc_mask,
            "precision": precision,
        }
    )
    ckpt = last_checkpoint(ckpt_dir)
    resumed_from = check_fingerprint(ckpt, fp) if ckpt else None
    L.seed_everything(int(plan["seed"]), workers=True, verbose=False)
    module = LMModule(model_cfg, hp, micro_batches=local // (micro or local), compile=args.compile)
    module.fingerprint = fp
    sampler = MixtureSampler(plan, seq_len)
    trainer.fit_loop.epoch_loop.max_steps = steps
    control.configure(
        steps=steps,
        log_every=args.log_every or max(1, min(50, steps // 200)),
        ckpt_every=args.checkpoint_every,
        tokens_per_step=batch * seq_len,
    )
    workers = args.loader_workers
    if workers is None:
        workers = 2 if trainer.strategy.root_device.type == "cuda" else 0

    def loader() -> DataLoader:
        data = StepBatches(sampler, batch, steps, trainer.global_rank, world, args.doc_mask)
        return DataLoader(
            data,
            batch_size=None,
            sampler=ResumeSampler(lambda: trainer.global_step, steps),
            num_workers=workers,
            pin_memory=trainer.strategy.root_device.type == "cuda",
        )

    module.train_dataloader = loader  # type: ignore[method-assign]
    log.info(
        "train %s: size %s N=%d, %d steps x %d seqs x %d tokens, lr %.3g, %s, %d device(s)%s",
        plan["run"],
        args.size,
        n_params,
        steps,
        batch,
        seq_len,
        hp.lr,
        precision,
        world,
        f", resuming from step {resumed_from}" if ckpt else "",
    )
    # weights_only=False: our own checkpoints also hold RNG states (numpy arrays, Python tuples)
    trainer.fit(module, ckpt_path=str(ckpt) if ckpt else None, weights_only=False)
    if not trainer.is_global_zero:
        return
    _write_outputs(
        args, plan, module, trainer, model_cfg, hp, precision, val, max_val, resumed_from
    )
    if not args.keep_checkpoint:
        (ckpt_dir / LAST).unlink(missing_ok=True)


def _write_outputs(
    args: argparse.Namespace,
    plan: dict[str, Any],
    module: LMModule,
    trainer: L.Trainer,
    model_cfg: dict[str, Any],
    hp: HParams,
    precision: str,
    val: dict[str, str],
    max_val: int | None,
    resumed_from: int | None,
) -> None:
    """Validation losses, then weights, config.json and metrics.json (metrics last)."""
    from safetensors.torch import save_file

    out_dir = Path(args.out_dir)
    model = module.model.eval()
    device = next(model.parameters()).device
    autocast = torch.bfloat16 if precision.startswith("bf16") else None
    val_loss = {
        lang: validation_loss(model, prefix, hp.seq_len, max_val, 16, args.doc_mask, autocast)[0]
        for lang, prefix in val.items()
    }
    n_params, n_total = presets.param_counts(args.size, model_cfg["vocab_size"])
    tokens = hp.steps * hp.tokens_per_step
    flops = presets.train_flops(args.size, model_cfg["vocab_size"], hp.seq_len, tokens)
    wall = module.train_time_s
    peak = peak_flops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    sampler = MixtureSampler(plan, hp.seq_len)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out_dir / "model.safetensors") as tmp:
        save_file(state, str(tmp), metadata={"run": str(plan["run"]), "size": args.size})
    train = {
        **hp.to_dict(),
        "tokens_planned": int(plan["tokens"]),
        "tokens": tokens,
        "micro_batches": module.micro_batches,
        "precision": precision,
        "doc_mask": args.doc_mask,
        "compile": args.compile,
        "world_size": trainer.world_size,
        "max_val_tokens": max_val,
        "val": val,
    }
    config = {"run": plan["run"], "size": args.size, "model": model_cfg, "train": train}
    write_json(out_dir / "config.json", {**config, "mixture": plan})
    metrics = {
        "N": n_params,
        "N_total": n_total,
        "D": tokens,
        "flops": flops,
        "wall_time_s": wall,
        "tokens_per_s": tokens / wall if wall > 0 else None,
        "mfu": flops / wall / (peak * trainer.world_size) if peak and wall > 0 else None,
        "train_loss": module.curve,
        "final_train_loss": module.last_loss,
        "val_loss": val_loss,
        "repetitions": sampler.repetitions(hp.steps * hp.batch_size),
        "resumed_from_step": resumed_from,
        "steps": hp.steps,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
    }
    write_json(out_dir / "metrics.json", metrics)
