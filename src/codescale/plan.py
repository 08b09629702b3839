"""Cost of a study before anything runs: FLOPs, GPU-hours and the Slurm resources of each run.

Used twice: `codescale plan` prints what a config will cost (so a paper-scale grid is not submitted
by accident), and the Snakefile's train rule takes its Slurm resources from `train_resources`, so
the job size and the cost estimate can never disagree. No torch here (see model/presets.py).

Estimates, stated once:
- FLOPs: `presets.train_flops` (6 N + 6 d V + 6 n_layers seq_len d per token, Kaplan et al. 2020).
- GPU-hours at a model-FLOPs utilisation `mfu` of a card's dense bf16 peak (H800/H100: 989 TFLOP/s).
- Memory per GPU: 16 bytes per parameter for mixed-precision AdamW (bf16 weights and gradients,
  fp32 master weights and two Adam moments: ZeRO paper, Rajbhandari et al. 2020), sharded across
  GPUs (FSDP) when one GPU cannot hold them, plus activations of one sequence per micro-batch
  (34 d bytes per token per layer with flash attention and no recomputation: Korthikanti et al.
  2022) and fp32 logits with their gradient (8 V bytes per token). 10% of the card is left free.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from codescale.config import section_defaults
from codescale.errors import CodescaleError
from codescale.io import atomic_path
from codescale.model import presets

# Cards: dense bf16 peak TFLOP/s (no sparsity) and memory in GB. The H800 is an H100 SXM with
# reduced NVLink bandwidth: same compute peak.
CARDS: dict[str, tuple[float, float]] = {
    "H800": (989.0, 80.0),
    "H100": (989.0, 80.0),
    "H200": (989.0, 141.0),
    "A800": (312.0, 80.0),
    "A100": (312.0, 80.0),
}

BYTES_PER_PARAM = 16  # mixed-precision AdamW states, see the module docstring
ACT_BYTES_PER_TOKEN_LAYER_PER_D = 34  # Korthikanti et al. 2022, flash attention, no recompute
LOGIT_BYTES_PER_TOKEN_PER_V = 8  # fp32 logits + their gradient
GPU_MEMORY_USABLE = 0.9  # the allocator, CUDA context and NCCL buffers take the rest
# Runs whose model is below this N train on CPU: kernel launch overhead dominates tiny models on a
# GPU, and the tiny studies are meant for laptops and CI.
CPU_MAX_PARAMS = 5_000_000
# CPU jobs (not in the config schema: these are fine for the tiny sizes; see the report).
CPU_GFLOPS = 5.0  # achieved fp32 rate of a tiny model on 2 cores
CPU_JOB_CPUS = 2
CPU_JOB_MIN_MEM_MB = 2000
CPU_JOB_MAX_OVERHEAD_MIN = 2.0  # a tiny CPU job starts in seconds; slurm.overhead_min is for GPUs

# The functions also take partial `slurm` / `plan` dicts (tests, notebooks): what is missing comes
# from the config schema's defaults, the one place they are written.
SLURM_DEFAULTS: dict[str, Any] = section_defaults("slurm")
PLAN_DEFAULTS: dict[str, Any] = section_defaults("plan")


class RunLike(Protocol):
    """What the planner needs of a `codescale.study.Run`."""

    name: str
    study: str
    size: str
    tokens: int


def run_cost(
    size: str, tokens: int, vocab_size: int, seq_len: int, mfu: float, peak_tflops: float
) -> dict[str, float]:
    """Training FLOPs of one run and the GPU-hours they take at `mfu` of `peak_tflops`."""
    _check_rate(mfu, peak_tflops)
    flops = presets.train_flops(size, vocab_size, seq_len, int(tokens))
    return {"flops": float(flops), "gpu_hours": flops / (mfu * peak_tflops * 1e12) / 3600.0}


def memory_bytes(size: str, vocab_size: int, seq_len: int) -> tuple[float, float]:
    """(optimizer-state bytes of the whole model, activation bytes of one sequence) for training."""
    shape = presets.shape_of(size)
    _, total = presets.param_counts(shape, vocab_size)
    states = float(BYTES_PER_PARAM * total)
    per_token = (
        ACT_BYTES_PER_TOKEN_LAYER_PER_D * shape.d_model * shape.n_layers
        + LOGIT_BYTES_PER_TOKEN_PER_V * vocab_size
    )
    return states, float(seq_len * per_token)


def train_resources(
    size: str,
    tokens: int,
    vocab_size: int,
    seq_len: int,
    slurm: dict[str, Any],
    plan: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Slurm resources of one training job: enough GPUs to fit in memory and, where possible, finish
    within `slurm['max_runtime_h']`.

    Returns gpus (total), gpus_per_node, nodes, tasks (total, one per GPU), tasks_per_node,
    cpus_per_task, mem_mb (per node), runtime (minutes, for one job), segments (jobs needed when
    even max_gpus cannot finish within max_runtime_h: each resumes from the last checkpoint),
    strategy ("cpu", "ddp" or "fsdp") and the estimate's hours. GPU counts are powers of two up to
    one node and whole nodes above, so data-parallel batches divide evenly.
    """
    s = {**SLURM_DEFAULTS, **(slurm or {})}
    p = {**PLAN_DEFAULTS, **(plan or {})}
    cost = run_cost(size, tokens, vocab_size, seq_len, float(p["mfu"]), float(p["peak_tflops"]))
    states, activations = memory_bytes(size, vocab_size, seq_len)
    safety, overhead = float(s["safety_factor"]), float(s["overhead_min"])
    max_min = float(s["max_runtime_h"]) * 60.0

    if not s["gpus"] or presets.n_params(size) < CPU_MAX_PARAMS:
        minutes = cost["flops"] / (CPU_GFLOPS * 1e9) / 60.0 * safety
        mem_mb = max(CPU_JOB_MIN_MEM_MB, math.ceil(2 * (states + activations) / 1e6) + 1000)
        overhead = min(overhead, CPU_JOB_MAX_OVERHEAD_MIN)
        return _resources(0, 1, 1, CPU_JOB_CPUS, mem_mb, minutes, overhead, max_min, "cpu", cost)

    usable = float(s["gpu_memory_gb"]) * 1e9 * GPU_MEMORY_USABLE
    if activations >= usable:
        raise CodescaleError(
            f"size {size}: one sequence of {seq_len} tokens needs ~{activations / 1e9:.0f} GB of"
            f" activations, more than a {s['gpu_memory_gb']} GB GPU holds (lower train.seq_len)"
        )
    gpus_for_memory = math.ceil(states / (usable - activations))
    gpus_for_time = math.ceil(cost["gpu_hours"] * safety * 60.0 / max(max_min - overhead, 1.0))
    max_gpus, per_node = int(s["max_gpus"]), int(s["gpus_per_node"])
    if gpus_for_memory > max_gpus:
        raise CodescaleError(
            f"size {size} needs {gpus_for_memory} GPUs of {s['gpu_memory_gb']} GB for its"
            f" optimizer states alone, more than slurm.max_gpus = {max_gpus}"
        )
    gpus = min(_round_gpus(max(gpus_for_memory, gpus_for_time), per_node), max_gpus)
    gpus = max(gpus, gpus_for_memory)
    strategy = "ddp" if gpus_for_memory <= 1 else "fsdp"
    nodes = math.ceil(gpus / per_node)
    minutes = cost["gpu_hours"] / gpus * 60.0 * safety
    res = _resources(
        gpus, nodes, gpus, int(s["cpus_per_gpu"]), 0, minutes, overhead, max_min, strategy, cost
    )
    res["mem_mb"] = int(s["mem_mb_per_gpu"]) * res["gpus_per_node"]
    return res


def _round_gpus(n: int, per_node: int) -> int:
    """Next power of two up to one node, whole nodes beyond it."""
    if n <= per_node:
        return min(1 << max(n - 1, 0).bit_length(), per_node)
    return math.ceil(n / per_node) * per_node


def _resources(
    gpus: int,
    nodes: int,
    tasks: int,
    cpus_per_task: int,
    mem_mb: int,
    minutes: float,
    overhead: float,
    max_min: float,
    strategy: str,
    cost: dict[str, float],
) -> dict[str, Any]:
    """Assemble the resource dict; split the work into `segments` jobs if one would be too long."""
    segments = max(1, math.ceil(minutes / max(max_min - overhead, 1.0)))
    runtime = math.ceil(minutes / segments + overhead)
    return {
        "gpus": gpus,
        "gpus_per_node": math.ceil(gpus / nodes),
        "nodes": nodes,
        "tasks": tasks,
        "tasks_per_node": math.ceil(tasks / nodes),
        "cpus_per_task": cpus_per_task,
        "mem_mb": mem_mb,
        "runtime": runtime,
        "segments": segments,
        "strategy": strategy,
        "flops": cost["flops"],
        "gpu_hours": cost["gpu_hours"],
        "booked_gpu_hours": gpus * segments * runtime / 60.0,
        "cpu_job_hours": 0.0 if gpus else segments * runtime / 60.0,
    }


def plan_runs(
    runs: Iterable[RunLike],
    vocab_size: int,
    seq_len: int,
    slurm: dict[str, Any] | None = None,
    plan: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One row per run: name, study, size, N, tokens, FLOPs, GPU-hours and its Slurm resources."""
    rows = []
    for run in runs:
        res = train_resources(run.size, run.tokens, vocab_size, seq_len, slurm or {}, plan)
        rows.append(
            {
                "run": run.name,
                "study": run.study,
                "size": run.size,
                "N": presets.n_params(run.size),
                "tokens": int(run.tokens),
                **res,
            }
        )
    return rows


_SUMMED = ("runs", "flops", "gpu_hours", "booked", "cpu_hours")


def summarise(
    runs: Iterable[RunLike],
    vocab_size: int,
    seq_len: int,
    slurm: dict[str, Any] | None = None,
    plan: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Per study (in first-seen order) and a final "total" row: runs, FLOPs, GPU-hours, booked."""
    table: dict[str, dict[str, Any]] = {}
    for row in plan_runs(runs, vocab_size, seq_len, slurm, plan):
        agg = table.setdefault(
            row["study"],
            dict.fromkeys(_SUMMED, 0) | {"study": row["study"]},
        )
        agg["runs"] += 1
        agg["flops"] += row["flops"]
        agg["gpu_hours"] += row["gpu_hours"]
        agg["booked"] += row["booked_gpu_hours"]
        agg["cpu_hours"] += row["cpu_job_hours"]
    rows = list(table.values())
    total: dict[str, Any] = dict.fromkeys(_SUMMED, 0) | {"study": "total"}
    for row in rows:
        for key in _SUMMED:
            total[key] += row[key]
    return [*rows, total]


def format_table(rows: Sequence[dict[str, Any]], card: str = "GPU") -> str:
    """Aligned text: study, runs, FLOPs, GPU-hours at the MFU, hours booked by the Slurm jobs.

    "booked GPU-h" is GPUs x job runtime (safety factor and overheads included) of GPU jobs;
    "CPU-job h" is the runtime of CPU-only jobs (tiny models, or slurm.gpus false).
    """
    header = ["study", "runs", "FLOPs", f"{card}-hours", "booked GPU-h", "CPU-job h"]
    body = [
        [
            str(r["study"]),
            str(r["runs"]),
            f"{r['flops']:.3e}",
            f"{r['gpu_hours']:,.1f}",
            f"{r['booked']:,.1f}",
            f"{r['cpu_hours']:,.1f}",
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def fmt(line: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    lines = [fmt(header), rule, *(fmt(line) for line in body[:-1]), rule, fmt(body[-1])]
    return "\n".join(lines)


def _check_rate(mfu: float, peak_tflops: float) -> None:
    if not 0 < mfu <= 1:
        raise CodescaleError(f"mfu must be in (0, 1], got {mfu}")
    if peak_tflops <= 0:
        raise CodescaleError(f"peak_tflops must be > 0, got {peak_tflops}")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="study config YAML, e.g. config/paper.yaml")
    parser.add_argument("--out", help="write one CSV row per run (FLOPs, GPU-hours, resources)")
    parser.add_argument("--mfu", type=float, help="model FLOPs utilisation (default: plan.mfu)")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        help="dense bf16 peak of one card (default: --card's, else plan)",
    )
    parser.add_argument(
        "--card", help=f"card name for the peak and memory ({', '.join(CARDS)}; default: plan.card)"
    )


def run(args: argparse.Namespace) -> None:
    from codescale import config as config_mod
    from codescale import study

    config = config_mod.load(args.config)
    plan = dict(config["plan"])
    slurm = dict(config["slurm"])
    if args.card is not None:
        if args.card not in CARDS:
            if args.peak_tflops is None:
                raise CodescaleError(
                    f"--card {args.card!r} is unknown ({', '.join(CARDS)}); give --peak-tflops"
                )
        else:
            plan["peak_tflops"], slurm["gpu_memory_gb"] = CARDS[args.card]
        plan["card"] = args.card
    if args.peak_tflops is not None:
        plan["peak_tflops"] = args.peak_tflops
    if args.mfu is not None:
        plan["mfu"] = args.mfu
    _check_rate(float(plan["mfu"]), float(plan["peak_tflops"]))

    runs = study.expand(config)
    if not runs:
        raise CodescaleError(f"{args.config}: no study is enabled, nothing to plan")
    vocab_size = int(config["tokenizer"]["vocab_size"])
    seq_len = int(config["train"]["seq_len"])
    print(
        f"{args.config}: {len(runs)} runs, vocab {vocab_size}, seq_len {seq_len},"
        f" {plan['card']} at {plan['peak_tflops']:g} TFLOP/s x MFU {plan['mfu']:g}"
        f" (booked = Slurm jobs incl. safety x{slurm['safety_factor']:g} and overheads;"
        f" {'GPU' if slurm['gpus'] else 'CPU-only'} jobs)"
    )
    summary = summarise(runs, vocab_size, seq_len, slurm, plan)
    print(format_table(summary, card=str(plan["card"])))
    if args.out:
        rows = plan_runs(runs, vocab_size, seq_len, slurm, plan)
        with atomic_path(args.out) as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {len(rows)} runs to {args.out}")
