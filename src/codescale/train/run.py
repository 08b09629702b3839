"""`codescale train`: train one model on one mixture plan with Lightning Fabric; weights + metrics.

The plan (--mixture, from `codescale mixture`) is the one carrier of the run's identity: name,
model size, tokens D, seq_len, seed and data sources are read from it and are no options here
(issue #14: a second carrier could disagree with it). The options are the trainer's settings:
LR, batch size, schedule and WSD branches, checkpointing, precision and the parallel layout.

Outputs (in --out-dir, each written atomically): model.safetensors (full, unsharded weights with
the Transformer's key names), metrics.json, config.json, in the formats of docs/ARCHITECTURE.md.

Ranks come from the launcher (launch.py): `srun --ntasks-per-node=G` in a Slurm allocation,
torchrun, or one plain process. --strategy auto is one process without wrapper or DDP on several;
ddp replicates weights, gradients and AdamW state; fsdp shards them (FSDP2). --micro-batch-size M
splits each rank's share of the global batch (--batch-size, sequences) into B / (world x M)
micro-batches accumulated into one optimizer step (all-reduce on the last one only); the global
batch, the data order and so the trajectory do not depend on world size, strategy or M (up to fp
summation order). See module.py for why this is a Fabric loop rather than the Trainer.

Checkpoints go to --checkpoint-dir (never the output dir, so Snakemake never deletes them): every
--checkpoint-every steps, at the last step, and when a stop is requested, full or sharded and
always complete (checkpoint.py). Stops: SIGTERM / SIGUSR1 (Slurm's preemption / time-limit
warning) or, with --stop-before-end-s S inside a Slurm job, fewer than S seconds left before the
job's EndTime. They are checked after every step and agreed across ranks; every rank writes its part
of the checkpoint and the process exits with 75 so that the resubmitted job (Snakemake's retry, the
next "segment" of a run longer than the partition's time limit) resumes exactly: weights, AdamW,
step, RNG, loss curve. --stop-grace-s bounds how long that may take after a signal. The checkpoint
is deleted once the outputs exist (--keep-checkpoint keeps it).

WSD branches (hparams.py, Hägele et al. 2024): `--branch D=DIR ...` makes this a stable run: it
trains with the WSD schedule of the largest D up to the largest branch step (every step before a
cooldown is at the constant LR), checkpoints at each D's branch step (decay_start of a D-token
run), moves those checkpoints onto the DIRs once it is complete, and writes a metrics.json of its
own (loss curve, time, branch steps; no weights). `--init-from DIR` makes a run of D tokens a
cooldown: with no checkpoint of its own it starts from the branch checkpoint in DIR (same
trajectory fingerprint, at its own branch step, checkpoint.check_branch) and writes the usual
outputs; its metrics say where it branched ("branch"). The data order is a function of the step,
so the branch trains on exactly the batches an uninterrupted run of D would.
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from codescale import config as cs_config
from codescale.data.shards import Shard
from codescale.errors import CodescaleError
from codescale.hardware import peak_flops
from codescale.io import atomic_path, write_json
from codescale.model import presets
from codescale.model.llama import ModelConfig, Transformer
from codescale.train.checkpoint import (
    LAST,
    check_branch,
    check_fingerprint,
    fingerprint,
    last_checkpoint,
    load_full,
    load_sharded,
    publish_dir,
    remove_checkpoint,
    rng_state,
    save_full,
    save_sharded,
    set_rng_state,
)
from codescale.train.hparams import (
    HParams,
    batch_sequences,
    decay_start,
    ladder_lr,
    steps_for,
)
from codescale.train.launch import (
    TIME_LIMIT,
    StopControl,
    StopRun,
    job_end_time,
    resolve_ranks,
    stop_reason,
)
from codescale.train.mixture import load_plan, parse_count
from codescale.train.module import (
    LossLog,
    StepBatches,
    grad_accum_steps,
    parallelize_fsdp,
    setup_training,
    train_step,
)
from codescale.train.sampler import MixtureSampler

log = logging.getLogger(__name__)

STRATEGIES = ("auto", "ddp", "fsdp")


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
    """Options that set a config key (its `x-cli` in the schema) default to the schema's."""
    D = cs_config.default  # noqa: N806
    parser.add_argument(
        "--mixture",
        required=True,
        help="mixture.json from `codescale mixture`: the run's name, model size, tokens D, "
        "seq_len, seed and sources",
    )
    parser.add_argument("--out-dir", required=True, help="model.safetensors/metrics/config here")
    parser.add_argument("--checkpoint-dir", required=True, help="checkpoints (resume from here)")
    parser.add_argument("--val", action="extend", nargs="+", default=[], metavar="LANG=PREFIX")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=D("train.batch_size"),
        help="global, in sequences (default: from N by the OLMo-style rule)",
    )
    parser.add_argument(
        "--micro-batch-size",
        type=int,
        default=None,
        help="sequences per rank per forward/backward; accumulation steps = batch / (world x this)"
        " (default: the whole per-rank share, no accumulation)",
    )
    parser.add_argument(
        "--lr", type=float, default=D("train.lr"), help="peak LR (default: OLMo ladder)"
    )
    parser.add_argument("--schedule", choices=("cosine", "wsd"), default=D("train.schedule"))
    parser.add_argument("--warmup-fraction", type=float, default=D("train.warmup_fraction"))
    parser.add_argument(
        "--warmup-tokens",
        default=None,
        help="warmup length in tokens (e.g. 20K), overriding --warmup-fraction: WSD branches "
        "need one warmup for every budget",
    )
    parser.add_argument(
        "--decay-fraction",
        type=float,
        default=D("train.cooldown_fraction"),
        help="wsd cooldown share (train.cooldown_fraction)",
    )
    parser.add_argument(
        "--branch",
        action="extend",
        nargs="+",
        default=[],
        metavar="TOKENS=DIR",
        help="stable run of WSD branches: checkpoint at the branch step of a TOKENS-token run "
        "and move it to DIR at the end (repeat per budget; writes no weights)",
    )
    parser.add_argument(
        "--init-from",
        default=None,
        metavar="DIR",
        help="WSD cooldown: start from the branch checkpoint in DIR (a stable run's --branch "
        "output) when --checkpoint-dir holds none",
    )
    parser.add_argument("--min-lr-ratio", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=D("train.checkpoint_every"),
        help=f"steps; 0: only last (default {D('train.checkpoint_every')})",
    )
    parser.add_argument("--keep-checkpoint", action="store_true", help="keep last.ckpt at the end")
    parser.add_argument("--log-every", type=int, default=0, help="steps; 0: about 200 points")
    parser.add_argument(
        "--doc-mask",
        action="store_true",
        default=D("train.doc_mask"),
        help="document-level causal mask",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        default=D("train.compile"),
        help="torch.compile the model + loss (inside DDP/FSDP)",
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="auto: no wrapper on one process, ddp on several; fsdp: FSDP2 sharding",
    )
    parser.add_argument(
        "--activation-checkpointing",
        action="store_true",
        help="recompute each block's activations in the backward (less memory, ~1/3 more FLOPs)",
    )
    parser.add_argument(
        "--stop-grace-s",
        type=float,
        default=D("slurm.stop_grace_s"),
        help="after SIGTERM/SIGUSR1, exit (75) after this long even if the checkpoint is not done",
    )
    parser.add_argument(
        "--stop-before-end-s",
        type=float,
        default=0.0,
        help="in a Slurm job: checkpoint and exit 75 when fewer seconds than this are left "
        "(job EndTime, or $CODESCALE_JOB_END_TIME); 0: off",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "bf16-mixed", "32-true"),
        default="auto",
        help="auto: bf16-mixed on a GPU with bf16, else 32-true",
    )
    parser.add_argument("--accelerator", default="auto")
    parser.add_argument(
        "--devices",
        default="auto",
        help="one plain process only (auto: 1); under srun/torchrun the launcher sets the ranks",
    )
    parser.add_argument(
        "--num-nodes", type=int, default=int(os.environ.get("SLURM_NNODES", "1") or 1)
    )
    parser.add_argument(
        "--max-val-tokens",
        default=D("train.max_val_tokens"),
        help=f"per language, e.g. 64K; 0: all (default {D('train.max_val_tokens')})",
    )
    parser.add_argument("--loader-workers", type=int, default=None, help="default 0 CPU, 2 GPU")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def _parse_branches(items: list[str]) -> list[tuple[int, Path]]:
    """--branch TOKENS=DIR items, sorted by TOKENS (distinct budgets and directories)."""
    out: dict[int, Path] = {}
    for item in items:
        tokens, sep, path = item.partition("=")
        if not sep or not path:
            raise CodescaleError(f"--branch {item!r}: expected TOKENS=DIR")
        count = parse_count(tokens, f"--branch {item!r}")
        if count in out:
            raise CodescaleError(f"--branch: budget {tokens} given twice")
        out[count] = Path(path)
    dirs = [str(d) for d in out.values()]
    if len(set(dirs)) != len(dirs):
        raise CodescaleError(f"--branch: two budgets share a directory: {dirs}")
    return sorted(out.items())


def trajectory(
    model_cfg: dict[str, Any], hp: HParams, plan: dict[str, Any], doc_mask: bool, precision: str
) -> str:
    """The fingerprint a WSD run shares with the stable run it branches from: everything that
    determines the weights before the cooldown (model, data order, batch, LR, warmup in steps,
    optimizer, precision), nothing that only a budget sets (steps, cooldown, run name, tokens)."""
    only_cooldown = ("steps", "decay_fraction", "min_lr_ratio", "warmup_fraction", "warmup_tokens")
    data = ("name", "prefix", "weight", "unique_tokens")
    return fingerprint(
        {
            "model": model_cfg,
            "hp": {k: v for k, v in hp.to_dict().items() if k not in only_cooldown},
            "data": {
                "seed": plan["seed"],
                "seq_len": plan["seq_len"],
                "sources": [{k: s.get(k) for k in data} for s in plan["sources"]],
            },
            "doc_mask": doc_mask,
            "precision": precision,
        }
    )


def _precision(requested: str, accelerator: str) -> str:
    if requested != "auto":
        return requested
    gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"


def _strategy(name: str, world: int, compile: bool, precision: str) -> Any:
    """Fabric strategy object for --strategy (see module docstring)."""
    from lightning.fabric.strategies import DDPStrategy, ModelParallelStrategy

    if name == "fsdp":
        param_dtype = torch.bfloat16 if precision.startswith("bf16") else None
        return ModelParallelStrategy(
            parallelize_fn=functools.partial(
                parallelize_fsdp, compile=compile, param_dtype=param_dtype
            ),
            data_parallel_size=world,
            tensor_parallel_size=1,
            save_distributed_checkpoint=True,
        )
    if name == "ddp" or world > 1:
        return DDPStrategy(gradient_as_bucket_view=True)
    return "auto"


def run(args: argparse.Namespace) -> None:
    """Parse, set up Fabric, train (resuming if a checkpoint exists), write outputs on rank 0."""
    import torch.distributed as dist

    try:
        _run(args)
    except StopRun as stop:
        print(f"codescale train: {stop}", file=sys.stderr)
        if dist.is_available() and dist.is_initialized():
            # every rank stops at once here, and tearing down the process groups at the same
            # instant as the rank hosting their TCP store can hang (seen on gloo); the checkpoint
            # is complete and fsynced, so leave without the teardown
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(stop.code)
        raise SystemExit(stop.code) from None
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _run(args: argparse.Namespace) -> None:
    import lightning as L

    if args.threads:
        torch.set_num_threads(args.threads)
    plan = load_plan(args.mixture)
    size, seq_len = str(plan["size"]), int(plan["seq_len"])  # the plan's, the one carrier
    vocab = int(Shard(plan["sources"][0]["prefix"]).meta["vocab_size"])
    val = _parse_val(args.val)
    max_val = parse_count(args.max_val_tokens, "--max-val-tokens") or None
    model_cfg = presets.model_config(size, vocab, seq_len)
    n_params, _ = presets.param_counts(size, vocab)
    precision = _precision(args.precision, args.accelerator)
    ckpt_dir = Path(args.checkpoint_dir)
    out_dir = Path(args.out_dir)
    if ckpt_dir.resolve() == out_dir.resolve():
        raise CodescaleError("--checkpoint-dir must differ from --out-dir")
    if args.stop_grace_s < 0 or args.stop_before_end_s < 0:
        raise CodescaleError("--stop-grace-s and --stop-before-end-s must be >= 0")
    ranks = resolve_ranks(args.devices, args.num_nodes)
    world = ranks.world_size
    strategy = args.strategy if args.strategy != "auto" else ("ddp" if world > 1 else "none")
    batch = args.batch_size or batch_sequences(
        n_params, seq_len, world * (args.micro_batch_size or 1)
    )
    micro, accum = grad_accum_steps(batch, world, args.micro_batch_size)
    branches = _parse_branches(args.branch)
    if branches and args.init_from:
        raise CodescaleError(
            "--branch (a stable run) and --init-from (a cooldown) exclude each other"
        )
    if (branches or args.init_from) and args.schedule != "wsd":
        raise CodescaleError("--branch and --init-from need --schedule wsd")
    # a stable run follows the largest budget's schedule: constant LR before every branch step
    steps = steps_for(branches[-1][0] if branches else int(plan["tokens"]), batch, seq_len)
    warmup_tokens = (
        parse_count(args.warmup_tokens, "--warmup-tokens") if args.warmup_tokens else None
    )
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
        warmup_tokens=warmup_tokens,
    )
    # step -> the budgets whose branch checkpoint is taken after that many steps
    branch_at: dict[int, list[tuple[int, Path]]] = {}
    for tokens, out in branches:
        branch_at.setdefault(
            decay_start(steps_for(tokens, batch, seq_len), hp.decay_fraction), []
        ).append((tokens, out))
    stop = max(branch_at) if branch_at else steps  # the last step this process trains
    # world size, strategy, micro-batch and activation checkpointing are not in the fingerprint:
    # they do not change the trajectory, so a later segment may run on another layout. The plan's
    # size is left out as well: the model config holds its shape, and a checkpoint written before
    # plans carried it (issue #14, when --size was a train option) still resumes.
    fp = fingerprint(
        {
            "model": model_cfg,
            "hp": hp.to_dict(),
            "mixture": {k: v for k, v in plan.items() if k != "size"},
            "doc_mask": args.doc_mask,
            "precision": precision,
            **({"branch_steps": sorted(branch_at)} if branch_at else {}),
        }
    )
    traj = trajectory(model_cfg, hp, plan, args.doc_mask, precision)
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")
    env = ranks.environment()
    # one plain process on a host with srun on PATH (a login node, a CPU job) is not a mistake
    warnings.filterwarnings("ignore", message="The `srun` command is available")
    fabric = L.Fabric(
        accelerator=args.accelerator,
        devices=ranks.devices,
        num_nodes=ranks.num_nodes,
        strategy=_strategy(args.strategy, world, args.compile, precision),
        precision=precision,  # type: ignore[arg-type]
        plugins=[env] if env is not None else None,
    )
    fabric.launch()
    if fabric.world_size != world:
        raise CodescaleError(f"Fabric started {fabric.world_size} ranks, expected {world}")
    rank = fabric.global_rank
    if rank == 0:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    fabric.barrier()
    ckpt = last_checkpoint(ckpt_dir)
    resumed_from = check_fingerprint(ckpt, fp) if ckpt else None
    branched = False
    if ckpt is None and args.init_from:
        ckpt = last_checkpoint(args.init_from)
        if ckpt is None:
            raise CodescaleError(
                f"--init-from {args.init_from}: no branch checkpoint ({LAST}) there; run the "
                "stable run first"
            )
        check_branch(ckpt, traj, hp.decay_start)
        branched = True

    # the same seed on every rank: identical initial weights whatever the world size
    L.seed_everything(int(plan["seed"]), workers=True, verbose=False)
    model, optimizer, net, raw_module, raw_opt = setup_training(
        fabric,
        model_cfg,
        hp,
        compile=args.compile,
        activation_checkpointing=args.activation_checkpointing,
        sharded=strategy == "fsdp",
    )
    losses = LossLog(hp)
    extra: dict[str, Any] = {"train_time_s": 0.0, "stops": [], "segments": 0, "branch": None}
    start = 0
    if ckpt is not None:
        if strategy == "fsdp":
            saved = load_sharded(ckpt, raw_module, raw_opt)
        else:
            saved = load_full(ckpt, net, raw_opt)
        start = int(saved["global_step"])
        info = saved["codescale"]
        losses.load(info)
        extra = {k: info.get(k, extra[k]) for k in extra}
        set_rng_state(info["rng"])
        if branched:  # train time includes the stable part (tokens/s is the whole run's);
            # stops and segments count this run's own jobs, the stable run's are in its metrics
            extra["branch"] = {
                "step": start,
                "tokens": start * batch * seq_len,
                "checkpoint": str(args.init_from),
                "stable_train_time_s": extra["train_time_s"],
            }
            extra["stops"], extra["segments"] = [], 0
    if start < stop:
        extra["segments"] += 1

    def save(step: int, target: Path = ckpt_dir) -> None:
        t0 = time.perf_counter()
        payload = {
            "fingerprint": fp, "trajectory": traj, "rng": rng_state(), **losses.state(), **extra
        }  # fmt: skip
        if rank == 0:
            target.mkdir(parents=True, exist_ok=True)
        if strategy == "fsdp":
            save_sharded(target, step, raw_module, raw_opt, payload, rank, fabric.barrier)
        else:
            if rank == 0:
                save_full(target / LAST, step, net, raw_opt, payload)
            fabric.barrier()
        took = time.perf_counter() - t0
        if rank == 0 and args.stop_grace_s and took > 0.5 * args.stop_grace_s:
            log.warning(
                "checkpoint at step %d took %.1f s, more than half of --stop-grace-s %.0f: a "
                "stop at preemption may not finish in time",
                step,
                took,
                args.stop_grace_s,
            )

    sampler = MixtureSampler(plan, seq_len)
    workers = args.loader_workers
    if workers is None:
        workers = 2 if fabric.device.type == "cuda" else 0
    data = StepBatches(sampler, batch, stop, rank, world, args.doc_mask)
    loader = DataLoader(
        data,
        batch_size=None,
        sampler=range(start, stop),
        num_workers=workers,
        pin_memory=fabric.device.type == "cuda",
    )
    end_time = job_end_time() if args.stop_before_end_s > 0 and rank == 0 else None
    if world > 1 and args.stop_before_end_s > 0:
        end_time = fabric.broadcast(end_time, src=0)
    log_every = args.log_every or max(1, min(50, steps // 200))
    tokens_per_step = batch * seq_len
    reduce = (lambda t: fabric.all_reduce(t, reduce_op="mean")) if world > 1 else (lambda t: t)
    if rank == 0:
        log.info(
            "train %s: size %s N=%d, %d steps x %d seqs x %d tokens, lr %.3g, %s, %d rank(s) "
            "(%s), strategy %s, micro-batch %d x %d accumulation%s%s",
            plan["run"],
            size,
            n_params,
            steps,
            batch,
            seq_len,
            hp.lr,
            precision,
            world,
            ranks.launcher,
            strategy,
            micro,
            accum,
            ", activation checkpointing" if args.activation_checkpointing else "",
            f", resuming from step {start}" if ckpt else "",
        )
        if branch_at:
            log.info(
                "stable run: constant LR after warmup to step %d; branch checkpoints at steps %s",
                stop,
                ", ".join(
                    f"{s} ({', '.join(fmt_tokens(t) for t, _ in b)})"
                    for s, b in sorted(branch_at.items())
                ),
            )
        if end_time is not None:
            log.info(
                "job ends in %.0f s; stopping when fewer than %.0f s are left",
                end_time - time.time(),
                args.stop_before_end_s,
            )
    bar = None
    if rank == 0 and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=stop, initial=start, unit="step")
    control = StopControl(world, args.stop_grace_s, args.stop_before_end_s, end_time)
    with control:
        clock = last_time = time.perf_counter()
        last_step = start
        for step, batch_cpu in zip(range(start, stop), loader, strict=True):
            batch_dev = fabric.to_device(batch_cpu)
            loss, norm = train_step(fabric, model, optimizer, batch_dev, step, hp, micro, accum)
            losses.add(step, loss, norm)
            done = step + 1
            last = done >= stop
            log_due = done % log_every == 0 or last
            branch_due = done in branch_at
            # a stable run's last step is a branch checkpoint, published at the end
            ckpt_due = (last and not branch_at) or (
                args.checkpoint_every > 0 and done % args.checkpoint_every == 0
            )
            reason = control.poll()
            if not (log_due or ckpt_due or branch_due or reason):
                continue
            mean = losses.flush(done, tokens_per_step, point=log_due, reduce=reduce)
            now = time.perf_counter()
            extra["train_time_s"] += now - clock
            clock = now
            if mean is not None and rank == 0:
                tps = (done - last_step) * tokens_per_step / max(now - last_time, 1e-9)
                last_step, last_time = done, now
                if bar is not None:
                    bar.update(done - bar.n)
                    bar.set_postfix(loss=f"{mean:.4f}", tok_s=f"{tps:,.0f}")
                else:
                    log.info(
                        "step %d/%d tokens %d loss %.4f tokens/s %.0f",
                        done,
                        stop,
                        done * tokens_per_step,
                        mean,
                        tps,
                    )
            if reason:
                extra["stops"].append({"step": done, "reason": stop_reason(reason)})
            for tokens, _ in branch_at.get(done, []) if branch_due else []:
                save(done, ckpt_dir / f"branch-d{tokens}")
            if ckpt_due or reason:
                save(done)
            if reason:
                control.barrier()
                if reason == TIME_LIMIT:
                    raise StopRun(
                        f"time limit near: checkpoint at step {done}/{stop}; resubmit to continue"
                    )
                raise StopRun(
                    f"received {stop_reason(reason)} at step {done}/{stop}: checkpoint saved "
                    f"to {ckpt_dir / LAST}; run again to resume"
                )
    if bar is not None:
        bar.close()
    if branch_at:
        if rank == 0:
            _publish_branches(args, plan, branch_at, losses, extra, hp, n_params, model_cfg)
            if not args.keep_checkpoint:
                remove_checkpoint(ckpt_dir)
        return
    state = _full_state(raw_module, net, strategy)
    # free the training state (sharded or not) before rank 0 evaluates a full copy on the device
    model = optimizer = net = raw_module = raw_opt = None  # cells of save(): assign, not del
    gc.collect()
    if fabric.device.type == "cuda":
        torch.cuda.empty_cache()
    if rank != 0:
        return
    _write_outputs(
        args, plan, state, losses, extra, model_cfg, hp, precision, val, max_val, resumed_from,
        fabric.device, world, strategy, micro, accum,
    )  # fmt: skip
    if not args.keep_checkpoint:
        remove_checkpoint(ckpt_dir)


def fmt_tokens(n: int) -> str:
    from codescale.study import fmt_count

    return fmt_count(n)


def _publish_branches(
    args: argparse.Namespace,
    plan: dict[str, Any],
    branch_at: dict[int, list[tuple[int, Path]]],
    losses: LossLog,
    extra: dict[str, Any],
    hp: HParams,
    n_params: int,
    model_cfg: dict[str, Any],
) -> None:
    """Rank 0, after a complete stable run: every branch checkpoint onto its --branch DIR, then
    the stable run's metrics.json (written last: it marks the run complete)."""
    ckpt_dir = Path(args.checkpoint_dir)
    rows = []
    for step, budgets in sorted(branch_at.items()):
        for tokens, out in budgets:
            src = ckpt_dir / f"branch-d{tokens}"
            if last_checkpoint(src) is None:
                raise CodescaleError(
                    f"branch checkpoint of budget {tokens} (step {step}) is missing from {src}"
                )
            publish_dir(src, out)
            rows.append(
                {"tokens": tokens, "step": step, "tokens_at_branch": step * hp.tokens_per_step,
                 "dir": str(out)}
            )  # fmt: skip
    stop = max(branch_at)
    tokens = stop * hp.tokens_per_step
    wall = extra["train_time_s"]
    write_json(
        Path(args.out_dir) / "metrics.json",
        {
            "run": plan["run"],
            "stable": True,
            "N": n_params,
            "steps": stop,
            "tokens": tokens,
            "flops": presets.train_flops(plan["size"], model_cfg["vocab_size"], hp.seq_len, tokens),
            "wall_time_s": wall,
            "tokens_per_s": tokens / wall if wall > 0 else None,
            "train_loss": losses.curve,
            "final_train_loss": losses.last_loss,
            "branches": rows,
            "train": hp.to_dict(),
            "stops": extra["stops"],
            "segments": extra["segments"],
        },
    )


def _full_state(module: torch.nn.Module, net: Transformer, strategy: str) -> dict[str, Any]:
    """The Transformer's full weights as CPU tensors (keys as Transformer.state_dict()).

    FSDP: a collective (every rank calls it); rank 0 receives the gathered tensors.
    """
    if strategy == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        full = get_model_state_dict(
            module, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
        return {k.removeprefix("net."): v for k, v in full.items()}
    return {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}


def _write_outputs(
    args: argparse.Namespace,
    plan: dict[str, Any],
    state: dict[str, torch.Tensor],
    losses: LossLog,
    extra: dict[str, Any],
    model_cfg: dict[str, Any],
    hp: HParams,
    precision: str,
    val: dict[str, str],
    max_val: int | None,
    resumed_from: int | None,
    device: torch.device,
    world: int,
    strategy: str,
    micro: int,
    accum: int,
) -> None:
    """Validation losses (a fresh unwrapped model from the full weights), then weights,
    config.json and metrics.json (metrics last)."""
    from safetensors.torch import save_file

    out_dir = Path(args.out_dir)
    model = Transformer(ModelConfig(**model_cfg))
    model.load_state_dict(state)
    model = model.to(device).eval()
    autocast = torch.bfloat16 if precision.startswith("bf16") else None
    val_loss = {
        lang: validation_loss(model, prefix, hp.seq_len, max_val, 16, args.doc_mask, autocast)[0]
        for lang, prefix in val.items()
    }
    size = str(plan["size"])
    n_params, n_total = presets.param_counts(size, model_cfg["vocab_size"])
    tokens = hp.steps * hp.tokens_per_step
    flops = presets.train_flops(size, model_cfg["vocab_size"], hp.seq_len, tokens)
    wall = extra["train_time_s"]
    peak = peak_flops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    sampler = MixtureSampler(plan, hp.seq_len)
    with atomic_path(out_dir / "model.safetensors") as tmp:
        save_file(
            {k: v.contiguous() for k, v in state.items()},
            str(tmp),
            metadata={"run": str(plan["run"]), "size": size},
        )
    layout = {
        "world_size": world,
        "strategy": strategy,
        "micro_batch_size": micro,
        "grad_accum_steps": accum,
        "activation_checkpointing": args.activation_checkpointing,
    }
    train = {
        **hp.to_dict(),
        "tokens_planned": int(plan["tokens"]),
        "tokens": tokens,
        "micro_batches": accum,
        "precision": precision,
        "doc_mask": args.doc_mask,
        "compile": args.compile,
        **layout,
        "max_val_tokens": max_val,
        "val": val,
    }
    config = {"run": plan["run"], "size": size, "model": model_cfg, "train": train}
    write_json(out_dir / "config.json", {**config, "mixture": plan})
    metrics = {
        "N": n_params,
        "N_total": n_total,
        "D": tokens,
        "flops": flops,
        "wall_time_s": wall,
        "tokens_per_s": tokens / wall if wall > 0 else None,
        "mfu": flops / wall / (peak * world) if peak and wall > 0 else None,
        "train_loss": losses.curve,
        "final_train_loss": losses.last_loss,
        "val_loss": val_loss,
        "repetitions": sampler.repetitions(hp.steps * hp.batch_size),
        "resumed_from_step": resumed_from,
        "steps": hp.steps,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        **layout,
        "stops": extra["stops"],
        "segments": extra["segments"],
        "branch": extra["branch"],
    }
    write_json(out_dir / "metrics.json", metrics)
