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
- WSD branches (`train.schedule: wsd`, codescale.study.stables): a stable run trains (1 - f)
  max(D) tokens and each run only its cooldown, f D (f = train.cooldown_fraction), instead of D:
  (1 - f) max(D) + f sum(D) tokens per (cell, size) instead of sum(D). Rows say which they are
  (`kind`: run, stable or cooldown; `trained_tokens`); a cooldown gets its stable run's GPUs, so
  the global batch (which the ladder rounds to the GPU count) and the trajectory are the same.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from codescale.config import section_defaults
from codescale.errors import CodescaleError
from codescale.hardware import CARDS
from codescale.io import atomic_path
from codescale.model import presets

BYTES_PER_PARAM = 16  # mixed-precision AdamW states, see the module docstring
ACT_BYTES_PER_TOKEN_LAYER_PER_D = 34  # Korthikanti et al. 2022, flash attention, no recompute
CKPT_BYTES_PER_TOKEN_LAYER_PER_D = 2  # a block's bf16 input, kept under activation checkpointing
LOGIT_BYTES_PER_TOKEN_PER_V = 8  # fp32 logits + their gradient
GPU_MEMORY_USABLE = 0.9  # the allocator, CUDA context and NCCL buffers take the rest
# Runs whose model is below this N train on CPU: kernel launch overhead dominates tiny models on a
# GPU, and the tiny studies are meant for laptops and CI.
CPU_MAX_PARAMS = 5_000_000
# CPU jobs (not in the config schema: these are fine for the tiny sizes; see the report).
CPU_JOB_CPUS = 2
CPU_JOB_MIN_MEM_MB = 2000
CPU_JOB_MAX_OVERHEAD_MIN = 2.0  # a tiny CPU job starts in seconds; plan.overhead_min is for GPUs
MIXTURE_MIN = 0  # the mixture step of a run's job takes seconds: inside the start-up overhead

# The planner reads three config sections, kept apart in the schema by what they describe: the
# hardware (`cluster`), its own assumptions and limits (`plan`) and the scheduler (`slurm`). Their
# keys are distinct, so the functions take them as one flat `settings` mapping (`settings_of`);
# a partial one (tests, notebooks) is completed from the schema's defaults, the one place they are
# written.
SETTINGS_SECTIONS = ("cluster", "plan", "slurm")
SETTINGS_DEFAULTS: dict[str, Any] = {
    key: value for section in SETTINGS_SECTIONS for key, value in section_defaults(section).items()
}


def settings_of(config: dict[str, Any]) -> dict[str, Any]:
    """The planner's settings of a config: its cluster, plan and slurm sections, merged."""
    return {
        **SETTINGS_DEFAULTS,
        **{k: v for section in SETTINGS_SECTIONS for k, v in config.get(section, {}).items()},
    }


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
    return states, float(seq_len * _activation_bytes_per_token(shape, vocab_size, False))


def _activation_bytes_per_token(shape: presets.Shape, vocab_size: int, checkpointed: bool) -> float:
    """Activation bytes kept per token for the backward pass (bf16, flash attention).

    Without recomputation every layer keeps 34 d bytes per token (Korthikanti et al. 2022). With
    activation checkpointing per block only each block's bf16 input is kept (2 d bytes per token
    per layer) plus one block's full activations while it is recomputed. The fp32 logits and their
    gradient (8 V bytes per token) are never checkpointed.
    """
    d, layers = shape.d_model, shape.n_layers
    if checkpointed:
        per_layers = (
            CKPT_BYTES_PER_TOKEN_LAYER_PER_D * d * layers + ACT_BYTES_PER_TOKEN_LAYER_PER_D * d
        )
    else:
        per_layers = ACT_BYTES_PER_TOKEN_LAYER_PER_D * d * layers
    return float(per_layers + LOGIT_BYTES_PER_TOKEN_PER_V * vocab_size)


def train_memory_gb(
    size: str,
    vocab_size: int,
    seq_len: int,
    micro_batch: int,
    strategy: str,
    world: int,
    activation_checkpointing: bool,
) -> float:
    """Planned peak GPU memory of one rank in GB (1e9 bytes): states + working set + activations.

    States are 16 bytes per parameter (module docstring), whole on every rank under DDP and split
    over `world` ranks under FSDP (full sharding), which then also holds the gathered parameters
    and gradients of the largest unit in flight (one block, or the embedding/head: 2 x 8 bytes per
    parameter of it, prefetching one ahead). Activations: `micro_batch` sequences of `seq_len`.
    benchmarks/gpu_check.py measures it against torch.cuda.max_memory_allocated on a GPU.
    """
    if strategy not in ("ddp", "fsdp"):
        raise CodescaleError(f"strategy must be ddp or fsdp, got {strategy!r}")
    shape = presets.shape_of(size)
    _, total = presets.param_counts(shape, vocab_size)
    if strategy == "ddp":
        states = BYTES_PER_PARAM * total
    else:
        d = shape.d_model
        block = total - 2 * vocab_size * d  # all blocks (norms included), then one of them
        largest_unit = max(block / shape.n_layers, vocab_size * d)
        states = BYTES_PER_PARAM * total / world + 2 * 8 * largest_unit
    tokens = micro_batch * seq_len
    act = tokens * _activation_bytes_per_token(shape, vocab_size, activation_checkpointing)
    return (states + act) / 1e9


def global_batch(size: str, seq_len: int, ranks: int, batch_size: int | None) -> int:
    """Global batch in sequences: the config's, or the OLMo ladder rule rounded to a multiple of
    the data-parallel ranks (what `codescale train` computed before the plan chose micro-batches;
    the data order depends only on it)."""
    from codescale.train.hparams import batch_sequences  # pure maths, no torch import

    if batch_size:
        return int(batch_size)
    return batch_sequences(presets.n_params(size), seq_len, ranks)


def memory_plan(
    size: str, vocab_size: int, seq_len: int, batch: int, ranks: int, gpu_memory_gb: float
) -> dict[str, Any] | None:
    """The fastest layout that fits one GPU: DDP before FSDP, no recomputation before activation
    checkpointing, then the largest micro-batch that divides the rank's share of the batch.

    Returns strategy, micro_batch, grad_accum (micro-batches per optimizer step),
    activation_checkpointing and memory_gb (the plan's peak per GPU), or None if nothing fits.
    """
    if batch % ranks:
        return None
    local = batch // ranks
    usable = gpu_memory_gb * GPU_MEMORY_USABLE
    micro_sizes = [m for m in range(local, 0, -1) if local % m == 0]
    for strategy in ("ddp", "fsdp") if ranks > 1 else ("ddp",):
        for ckpt in (False, True):
            for micro in micro_sizes:
                gb = train_memory_gb(size, vocab_size, seq_len, micro, strategy, ranks, ckpt)
                if gb <= usable:
                    return {
                        "strategy": strategy,
                        "micro_batch": micro,
                        "grad_accum": local // micro,
                        "activation_checkpointing": ckpt,
                        "memory_gb": gb,
                    }
    return None


def train_resources(
    size: str,
    tokens: int,
    vocab_size: int,
    seq_len: int,
    settings: dict[str, Any] | None = None,
    batch_size: int | None = None,
    eval_tokens: int = 0,
    gpus: int | None = None,
) -> dict[str, Any]:
    """Slurm resources and the parallel layout of one training run.

    `gpus` fixes the GPU count (a WSD cooldown takes its stable run's) instead of searching it.

    GPUs: the fewest (powers of two up to a node, whole nodes beyond) whose memory holds the run
    under `memory_plan`, raised until the run fits `slurm.max_runtime_h` or reaches
    `plan.max_gpus`. A run that is still longer than one job is split into `segments` jobs of
    at most the limit each: training stops `slurm.stop_grace_s` before a job's end with a
    checkpoint, and the resubmission resumes it. `retries` = segments - 1 + slurm.retries (for
    real failures). No job asks for more than the limit, at any attempt.

    The run's job also evaluates it (`eval_tokens` scored on one device after training) and builds
    its mixture (seconds): `runtime` is the training part of a job, `eval_runtime` the
    evaluation's (booked twice: by the training, which stops that long before its job's end, and by
    the evaluation), `job_runtime` = runtime + 2 eval_runtime + mixture_runtime, never above the
    limit. CPU runs take their time from `plan.cpu_gflops`. `settings`: `settings_of(config)`.

    Returns gpus, gpus_per_node, nodes, tasks (ranks), tasks_per_node, cpus_per_task, mem_mb (per
    node), runtime, eval_runtime, mixture_runtime, job_runtime (minutes per job), segments,
    retries, strategy ("cpu", "ddp" or "fsdp"),
    batch_size (global sequences), micro_batch, grad_accum, activation_checkpointing, memory_gb
    (planned peak per GPU), flops, gpu_hours, booked_gpu_hours, cpu_job_hours.
    """
    s = {**SETTINGS_DEFAULTS, **(settings or {})}
    cost = run_cost(size, tokens, vocab_size, seq_len, float(s["mfu"]), float(s["peak_tflops"]))
    safety, overhead = float(s["safety_factor"]), float(s["overhead_min"])
    max_min = float(s["max_runtime_h"]) * 60.0

    if not s["gpus"] or presets.n_params(size) < CPU_MAX_PARAMS:
        ranks = int(s["cpu_tasks"])
        batch = global_batch(size, seq_len, ranks, batch_size)
        if batch % ranks:
            raise CodescaleError(
                f"size {size}: global batch {batch} does not split over plan.cpu_tasks = {ranks}"
            )
        states, activations = memory_bytes(size, vocab_size, seq_len)
        per_rank_mb = 1000 + 2 * (states + activations * batch / ranks) / 1e6  # torch itself ~1 GB
        mem_mb = max(CPU_JOB_MIN_MEM_MB, math.ceil(ranks * per_rank_mb) + 1000)
        layout = {
            "strategy": "cpu" if ranks == 1 else "ddp",
            "micro_batch": batch // ranks,
            "grad_accum": 1,
            "activation_checkpointing": False,
            "memory_gb": 0.0,
        }
        overhead = min(overhead, CPU_JOB_MAX_OVERHEAD_MIN)
        rate = float(s["cpu_gflops"]) * 1e9
        minutes = cost["flops"] / (rate * ranks) / 60.0 * safety
        eval_min = 0.25 + _eval_flops(size, vocab_size, seq_len, eval_tokens) / rate / 60
        return _resources(
            0,
            1,
            ranks,
            max(1, CPU_JOB_CPUS // ranks),  # the job's CPUs shared by its ranks
            mem_mb,
            minutes,
            overhead,
            max_min,
            s,
            cost,
            {**layout, "batch_size": batch},
            eval_min,
        )

    gpu_gb = float(s["gpu_memory_gb"])
    max_gpus, per_node = int(s["max_gpus"]), int(s["gpus_per_node"])
    fixed = gpus
    gpus, layout = fixed or 1, None
    while gpus <= max(max_gpus, fixed or 0):
        layout = memory_plan(
            size, vocab_size, seq_len, global_batch(size, seq_len, gpus, batch_size), gpus, gpu_gb
        )
        if layout or fixed:
            break
        gpus = _next_gpus(gpus, per_node)
    if layout is None:
        raise CodescaleError(
            f"size {size} at seq_len {seq_len} does not fit {max_gpus} GPUs of {gpu_gb:g} GB even"
            " sharded with activation checkpointing and micro-batches of 1 sequence (raise"
            " plan.max_gpus, or lower train.seq_len)"
        )
    minutes_per_gpu = cost["gpu_hours"] * safety * 60.0
    while not fixed and gpus < max_gpus and minutes_per_gpu / gpus > max_min - overhead:
        wider = _next_gpus(gpus, per_node)
        if wider > max_gpus:
            break
        layout_wider = memory_plan(
            size, vocab_size, seq_len, global_batch(size, seq_len, wider, batch_size), wider, gpu_gb
        )
        if layout_wider is None:
            break
        gpus, layout = wider, layout_wider
    nodes = math.ceil(gpus / per_node)
    batch = global_batch(size, seq_len, gpus, batch_size)
    res = _resources(
        gpus,
        nodes,
        gpus,
        int(s["cpus_per_gpu"]),
        0,
        minutes_per_gpu / gpus,
        overhead,
        max_min,
        s,
        cost,
        {**layout, "batch_size": batch},
        2  # loading the model
        + _eval_flops(size, vocab_size, seq_len, eval_tokens)
        / (float(s["mfu"]) * float(s["peak_tflops"]) * 1e12)
        / 60,
    )
    res["mem_mb"] = int(s["mem_mb_per_gpu"]) * res["gpus_per_node"]
    return res


def _eval_flops(size: str, vocab_size: int, seq_len: int, tokens: int) -> float:
    """Forward-pass FLOPs of scoring `tokens` (a third of training's 6 N per token)."""
    return presets.train_flops(size, vocab_size, seq_len, int(tokens)) / 3.0 if tokens else 0.0


def _next_gpus(n: int, per_node: int) -> int:
    """Powers of two up to one node, whole nodes beyond it (data-parallel shares stay even)."""
    return n * 2 if n < per_node else (n // per_node + 1) * per_node


def _resources(
    gpus: int,
    nodes: int,
    tasks: int,
    cpus_per_task: int,
    mem_mb: int,
    minutes: float,
    overhead: float,
    max_min: float,
    s: dict[str, Any],
    cost: dict[str, float],
    layout: dict[str, Any],
    eval_estimate_min: float,
) -> dict[str, Any]:
    """Assemble the resource dict; split the work into `segments` jobs if one would be too long.

    A job's useful training time is its limit less the start-up overhead, the evaluation and
    mixture minutes and the grace before the end at which training checkpoints and stops.
    """
    grace_min = float(s["stop_grace_s"]) / 60.0
    limit = math.floor(max_min)
    eval_min = round(eval_estimate_min * float(s["safety_factor"]))
    # The training job books the evaluation's minutes too and stops that much (plus the grace)
    # before its end, whether or not the evaluation shares its job: so a job of training alone
    # never stops before it trained, and one with the evaluation leaves it its time.
    fixed = overhead + grace_min + 2 * eval_min + MIXTURE_MIN
    if fixed >= limit:
        raise CodescaleError(
            f"slurm.max_runtime_h = {max_min / 60:g} h leaves no training time after start-up"
            f" ({overhead:g} min), evaluation ({eval_min} min), the mixture ({MIXTURE_MIN} min)"
            f" and the stop grace ({grace_min:g} min)"
        )
    segments = max(1, math.ceil(minutes / (limit - fixed)))
    runtime = min(
        math.ceil(minutes / segments + overhead + grace_min), limit - 2 * eval_min - MIXTURE_MIN
    )
    job = runtime + 2 * eval_min + MIXTURE_MIN
    return {
        "gpus": gpus,
        "gpus_per_node": math.ceil(gpus / nodes),
        "nodes": nodes,
        "tasks": tasks,
        "tasks_per_node": math.ceil(tasks / nodes),
        "cpus_per_task": cpus_per_task,
        "mem_mb": mem_mb,
        "runtime": runtime,
        "eval_runtime": eval_min,
        "mixture_runtime": MIXTURE_MIN,
        "job_runtime": job,
        "segments": segments,
        "retries": segments - 1 + int(s["retries"]),
        **layout,
        "flops": cost["flops"],
        "gpu_hours": cost["gpu_hours"],
        "booked_gpu_hours": gpus * segments * job / 60.0,
        "cpu_job_hours": 0.0 if gpus else segments * job / 60.0,
    }


TRANSLATION_TEST_TOKENS = 1_000_000  # the 42-direction test: 2,100 held-out pairs, about


def eval_tokens(config: dict[str, Any], study: str) -> int:
    """Tokens one run's evaluation scores: the test tokens of every language, plus the
    translation test for the studies of `evaluate.translation_studies`."""
    evaluate = config["evaluate"]
    translated = study in evaluate["translation_studies"]
    return int(evaluate["max_tokens_per_language"]) * len(config["languages"]) + (
        TRANSLATION_TEST_TOKENS if translated else 0
    )


def plan_runs(
    runs: Iterable[RunLike],
    vocab_size: int,
    seq_len: int,
    settings: dict[str, Any] | None = None,
    batch_size: int | None = None,
    eval_tokens: Callable[[str], int] | None = None,
) -> list[dict[str, Any]]:
    """One row per run: name, study, size, N, tokens, FLOPs, GPU-hours and its Slurm resources.

    `eval_tokens(study)` is the number of tokens a run's evaluation scores (default none)."""
    rows = []
    for run in runs:
        scored = eval_tokens(run.study) if eval_tokens else 0
        res = train_resources(
            run.size, run.tokens, vocab_size, seq_len, settings, batch_size, scored
        )
        rows.append(
            {
                "run": run.name,
                "study": run.study,
                "size": run.size,
                "N": presets.n_params(run.size),
                "tokens": int(run.tokens),
                **res,
                "eval_tokens": scored,
            }
        )
    return rows


def plan_study(
    config: dict[str, Any], runs: Iterable[RunLike], settings: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """`plan_runs` with everything else from a validated study config (`settings`, default
    `settings_of(config)`: e.g. another card); with WSD branches (`plan_branches`) a stable row
    per (cell, size) and cooldown rows for its runs."""
    from codescale import study

    runs = list(runs)
    args = (
        int(config["tokenizer"]["vocab_size"]),
        int(config["train"]["seq_len"]),
        settings or settings_of(config),
    )
    stables = study.stables(config, runs)  # type: ignore[arg-type]
    rows = plan_runs(
        runs,
        *args,
        batch_size=config["train"].get("batch_size"),
        eval_tokens=lambda name: eval_tokens(config, name),
    )
    if not stables:
        return rows
    fraction = float(config["train"].get("cooldown_fraction", 0.2))
    return plan_branches(rows, stables, fraction, *args, config["train"].get("batch_size"))


def plan_branches(
    rows: list[dict[str, Any]],
    stables: Sequence[Any],
    cooldown_fraction: float,
    vocab_size: int,
    seq_len: int,
    settings: dict[str, Any],
    batch_size: int | None,
) -> list[dict[str, Any]]:
    """`plan_runs` rows with WSD branches: each stable run (codescale.study.Stable) planned for
    (1 - f) of its largest budget, then each of its runs re-planned for its cooldown alone (f D
    tokens, on the stable run's GPUs); the stable row goes before its runs."""
    if not 0 < cooldown_fraction < 1:
        raise CodescaleError(f"train.cooldown_fraction must be in (0, 1), got {cooldown_fraction}")
    by_run = {row["run"]: row for row in rows}
    branched = {name: st for st in stables for name in st.runs}
    out: list[dict[str, Any]] = []
    gpus_of: dict[str, int] = {}
    for row in rows:
        row.update(
            kind="run", trained_tokens=row["tokens"], separate_gpu_hours=row["gpu_hours"],
            stable=None,
        )  # fmt: skip
        st = branched.get(row["run"])
        if st is None:
            out.append(row)
            continue
        if st.name not in gpus_of:  # the stable run, planned once, before its first run
            stable_tokens = round((1 - cooldown_fraction) * st.tokens)
            res = train_resources(st.size, stable_tokens, vocab_size, seq_len, settings, batch_size)
            out.append(
                {
                    "run": st.name,
                    "study": st.study,
                    "size": st.size,
                    "N": presets.n_params(st.size),
                    "tokens": st.tokens,
                    **res,
                    "eval_tokens": 0,
                    "kind": "stable",
                    "trained_tokens": stable_tokens,
                    "separate_gpu_hours": 0.0,
                    "stable": st.name,
                }
            )
            gpus_of[st.name] = res["gpus"]
        gpus = gpus_of[st.name]
        cooldown = round(cooldown_fraction * row["tokens"])
        scored = by_run[row["run"]]
        res = train_resources(
            row["size"], cooldown, vocab_size, seq_len, settings, batch_size,
            scored["eval_tokens"], gpus=gpus or None,
        )  # fmt: skip
        out.append(
            {**row, **res, "kind": "cooldown", "trained_tokens": cooldown, "stable": st.name}
        )
    return out


def format_layout_table(rows: Sequence[dict[str, Any]]) -> str:
    """One line per (size, D, job kind) of `plan_runs` rows (runs of one size and budget plan
    alike): GPUs, nodes, strategy, global batch, micro-batch, accumulation, activation
    checkpointing, planned GB per GPU, segments (jobs), minutes per job, resubmissions allowed
    and the kind of job (run; with WSD branches stable, for D its largest budget, or cooldown)."""
    groups: dict[tuple[str, int, str], list[Any]] = {}
    for row in rows:
        groups.setdefault((row["size"], row["tokens"], row.get("kind", "run")), [0, row])[0] += 1
    header = [
        "size", "D", "runs", "GPUs", "nodes", "strategy", "batch", "micro", "accum", "act.ckpt",
        "GB/GPU", "segments", "min/job", "retries", "job",
    ]  # fmt: skip
    body = [
        [
            size,
            f"{tokens:.3g}",
            str(n),
            str(r["gpus"]),
            str(r["nodes"]),
            r["strategy"],
            str(r["batch_size"]),
            str(r["micro_batch"]),
            str(r["grad_accum"]),
            "yes" if r["activation_checkpointing"] else "no",
            f"{r['memory_gb']:.1f}" if r["gpus"] else "-",
            str(r["segments"]),
            str(r["job_runtime"]),
            str(r["retries"]),
            kind,
        ]
        for (size, tokens, kind), (n, r) in sorted(
            groups.items(), key=lambda kv: (presets.n_params(kv[0][0]), kv[0][1], kv[0][2])
        )
    ]
    return _aligned(header, body)


def _aligned(header: list[str], body: list[list[str]], total: list[str] | None = None) -> str:
    """Columns padded to their widest cell, the first left-aligned; a rule under the header and,
    with `total`, a rule and the total line at the end."""
    lines = [header, *body, *([total] if total else [])]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def fmt(line: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    end = [rule, fmt(total)] if total else []
    return "\n".join([fmt(header), rule, *(fmt(line) for line in body), *end])


_SUMMED = ("runs", "tokens", "flops", "gpu_hours", "booked", "cpu_hours", "jobs")


def summarise(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per study (in first-seen order) and a final "total" row of `plan_runs` rows: runs (stable
    runs of WSD branches not counted), tokens trained, FLOPs, GPU-hours, booked GPU-hours,
    CPU-job hours, Slurm jobs (segments, stable runs included)."""
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        agg = table.setdefault(
            row["study"],
            dict.fromkeys(_SUMMED, 0) | {"study": row["study"]},
        )
        agg["runs"] += row.get("kind", "run") != "stable"
        agg["tokens"] += row.get("trained_tokens", row["tokens"])
        agg["flops"] += row["flops"]
        agg["gpu_hours"] += row["gpu_hours"]
        agg["booked"] += row["booked_gpu_hours"]
        agg["cpu_hours"] += row["cpu_job_hours"]
        agg["jobs"] += row["segments"]
    rows = list(table.values())
    total: dict[str, Any] = dict.fromkeys(_SUMMED, 0) | {"study": "total"}
    for row in rows:
        for key in _SUMMED:
            total[key] += row[key]
    return [*rows, total]


def format_table(rows: Sequence[dict[str, Any]], card: str = "GPU") -> str:
    """Aligned text: study, runs, FLOPs, GPU-hours at the MFU, hours booked by the Slurm jobs.

    "booked GPU-h" is GPUs x job runtime (safety factor and overheads included) of GPU jobs;
    "CPU-job h" is the runtime of CPU-only jobs (tiny models, or cluster.gpus false).
    """
    header = [
        "study", "runs", "jobs", "tokens", "FLOPs", f"{card}-hours", "booked GPU-h", "CPU-job h"
    ]  # fmt: skip
    body = [
        [
            str(r["study"]),
            str(r["runs"]),
            str(r["jobs"]),
            f"{r['tokens']:.3e}",
            f"{r['flops']:.3e}",
            f"{r['gpu_hours']:,.1f}",
            f"{r['booked']:,.1f}",
            f"{r['cpu_hours']:,.1f}",
        ]
        for r in rows
    ]
    return _aligned(header, body[:-1], total=body[-1])


def format_branch_saving(rows: Sequence[dict[str, Any]], card: str = "GPU") -> str | None:
    """One line: tokens and GPU-hours of the branched runs (stable runs + cooldowns) against the
    same runs trained separately; None without WSD branches."""
    branched = [r for r in rows if r.get("kind") in ("stable", "cooldown")]
    if not branched:
        return None
    tokens = sum(r["trained_tokens"] for r in branched)
    separate = sum(r["tokens"] for r in branched if r["kind"] == "cooldown")
    hours = sum(r["gpu_hours"] for r in branched)
    separate_hours = sum(r["separate_gpu_hours"] for r in branched)
    stables = sum(r["kind"] == "stable" for r in branched)
    return (
        f"WSD branches: {stables} stable runs + {len(branched) - stables} cooldowns train"
        f" {tokens:.4g} tokens and {hours:,.4g} {card}-hours, against {separate:.4g} tokens and"
        f" {separate_hours:,.4g} {card}-hours as separate runs"
        f" ({tokens / separate:.0%} of the tokens, {hours / separate_hours:.0%} of the hours)"
    )


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
        help="dense bf16 peak of one card (default: --card's, else cluster.peak_tflops)",
    )
    parser.add_argument(
        "--card",
        help=f"card name for the peak and memory ({', '.join(CARDS)}; default: cluster.card)",
    )
    parser.add_argument(
        "--corpus-gb",
        type=float,
        help="corpus input GiB for the data plan (default: cap_bytes_per_language x languages)",
    )


def run(args: argparse.Namespace) -> None:
    from codescale import config as config_mod
    from codescale import study

    config = config_mod.load(args.config)
    settings = settings_of(config)
    if args.card is not None:
        if args.card not in CARDS:
            if args.peak_tflops is None:
                raise CodescaleError(
                    f"--card {args.card!r} is unknown ({', '.join(CARDS)}); give --peak-tflops"
                )
        else:
            settings["peak_tflops"], settings["gpu_memory_gb"] = CARDS[args.card]
        settings["card"] = args.card
    if args.peak_tflops is not None:
        settings["peak_tflops"] = args.peak_tflops
    if args.mfu is not None:
        settings["mfu"] = args.mfu
    _check_rate(float(settings["mfu"]), float(settings["peak_tflops"]))

    runs = study.expand(config)
    if not runs:
        raise CodescaleError(f"{args.config}: no study is enabled, nothing to plan")
    vocab_size, seq_len = config["tokenizer"]["vocab_size"], config["train"]["seq_len"]
    print(
        f"{args.config}: {len(runs)} runs, vocab {vocab_size}, seq_len {seq_len},"
        f" {settings['card']} at {settings['peak_tflops']:g} TFLOP/s x MFU {settings['mfu']:g}"
        f" (booked = Slurm jobs incl. safety x{settings['safety_factor']:g} and overheads;"
        f" {'GPU' if settings['gpus'] else 'CPU-only'} jobs)"
    )
    rows = plan_study(config, runs, settings)
    print(format_table(summarise(rows), card=str(settings["card"])))
    saving = format_branch_saving(rows, card=str(settings["card"]))
    if saving:
        print(saving)
    print()
    print(format_layout_table(rows))
    print()
    corpus_mb = None if args.corpus_gb is None else args.corpus_gb * 1024
    print(data_plan_text(config, input_mb=corpus_mb))
    if args.out:
        with atomic_path(args.out) as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {len(rows)} runs to {args.out}")


# --------------------------------------------------------------------------- the data half

# Data jobs: memory and time from the size of their inputs (measured per byte of input on the
# default corpus, see README "Running on a Slurm cluster"): (base MB, MB per input MB, input MB
# per minute). workflow/rules/slurm.smk books every data job's Slurm resources by them; the data
# plan below prints the same numbers.
DATA_SCALING: dict[str, tuple[float, float, float]] = {
    # corpus and dedup (README "Scale"): part jobs stream (peak RSS 174-295 MiB at any part
    # size measured); the gather holds <= 0.3 KB per document, the cluster <= 1.4 KB per document
    # (its signatures' input) plus the candidates' signatures
    "corpus_part": (1000, 0.1, 10.0),
    "corpus": (1000, 0.15, 600.0),
    "dedup_signatures": (1000, 0.2, 10.0),
    "dedup_language": (1000, 0.7, 60.0),
    "dedup_part": (1000, 0.1, 30.0),
    # split and tokenize (README "Data at scale"; per MiB of the part's parquet, measured at 8
    # and 32 MB parts of Python under load 26 on 2 CPUs, benchmarks/RESULTS.md): a part job
    # holds its part's documents (split_train also their shingle sets and signatures); the
    # per-language jobs hold per-repository or per-document records, or one row group
    "split_assign": (1000, 0.0, 600.0),
    "split_eval": (1000, 10.0, 120.0),
    "split_index": (1000, 2.0, 60.0),
    "split_train": (1000, 30.0, 30.0),
    "split_language": (500, 0.0, 10000.0),
    "tokenizer": (4000, 0.0, 600.0),
    "tokenize_part": (1000, 10.0, 8.0),
    "tokenize_shard": (1000, 0.0, 500.0),
}
# Rules whose jobs are sized by one named input, not by all they declare: a split_train job
# holds its own part whole, beside the language's repository table and band index it declares.
DATA_SIZED_BY = {"split_eval": "docs", "split_train": "docs", "tokenize_part": "docs",
                 "dedup_language": "signatures"}  # fmt: skip
# Inputs a job also loads whole, on top of what DATA_SIZED_BY sizes: (input name, MB of memory
# per MB on disk). A split_train job joins its part's band keys against the language's whole
# band index (int32 band, uint64 key, int64 doc: ~20 bytes a row in memory, ~10 on disk).
DATA_HELD_WHOLE = {"split_train": ("index", 3.0)}


# How each data rule's jobs scale (workflow/rules/{corpus,dedup,split,tokenizer}.smk): how many
# jobs it runs, the input its largest job is sized by and the input of all its jobs together,
# from the corpus input T (MiB), the kept corpus K = min(T, cap x languages), L languages,
# P = ceil(T / corpus.part_mb) parts and the evaluation share e = split.validation + split.test.
# A (language, part) job holds at most one part's worth of one language: min(T / P, K / L).
# Memory and time of the largest job follow the rule's DATA_SCALING coefficients exactly as its
# Slurm resources do (workflow/rules/slurm.smk books them: base MB + MB per input MiB, 10 min +
# input / MiB per minute); CPU-hours are the total input at that rate plus a start per job.
# Bytes per text byte, measured on the generated Python corpus of benchmarks/data_scale.py:
SIGNATURE_BYTES_PER_BYTE = 0.1  # dedup signature records (band keys, hashes), parquet
TOKEN_BYTES_PER_BYTE = 0.7  # a shard's token bytes (uint16, ~2.8 bytes of text a token)
PARQUET_BYTES_PER_BYTE = 0.35  # a part's documents as (compressed) parquet
# Rules sized by raw files or token files; every other rule's job reads parquet, and Snakemake
# sizes it (input.size_mb) by the parquet's bytes, which DATA_SCALING's coefficients are per.
NOT_PARQUET = ("corpus_part", "dedup_language", "tokenize_shard")
DATA_JOB_START_MIN = 0.1  # a data job's Python start (imports, reading its inputs' metadata)


def _part(v: dict[str, float]) -> float:
    return min(v["T"] / v["P"], v["lang"])


DATA_JOBS: dict[str, tuple[str, Callable[[dict[str, float]], float], Callable[..., float]]] = {
    "corpus_part": ("P", lambda v: v["T"] / v["P"], lambda v: v["T"]),
    "corpus": ("1", lambda v: v["K"], lambda v: v["K"]),
    "dedup_signatures": ("L*P", _part, lambda v: v["K"]),
    "dedup_language": (
        "L",
        lambda v: SIGNATURE_BYTES_PER_BYTE * v["lang"],
        lambda v: SIGNATURE_BYTES_PER_BYTE * v["K"],
    ),
    "dedup_part": ("L*P", _part, lambda v: v["K"]),
    "split_assign": ("L", lambda v: v["lang"], lambda v: v["K"]),
    "split_eval": ("L*P", _part, lambda v: v["K"]),
    "split_index": ("L", lambda v: v["e"] * v["lang"], lambda v: v["e"] * v["K"]),
    "split_train": ("L*P", _part, lambda v: v["K"]),
    "split_language": ("L", lambda v: v["lang"], lambda v: v["K"]),
    "tokenizer": ("1", lambda v: (1 - v["e"]) * v["K"], lambda v: (1 - v["e"]) * v["K"]),
    "tokenize_part": ("3*L*P", lambda v: (1 - v["e"]) * _part(v), lambda v: v["K"]),
    "tokenize_shard": (
        "3*L",
        lambda v: TOKEN_BYTES_PER_BYTE * (1 - v["e"]) * v["lang"],
        lambda v: TOKEN_BYTES_PER_BYTE * v["K"],
    ),
}


def data_plan(
    config: dict[str, Any],
    scaling: dict[str, tuple[float, float, float]],
    input_mb: float | None = None,
) -> list[dict[str, Any]]:
    """One row per data rule: jobs, input MiB (as stored: parquet, raw or token files), memory GB
    and booked hours of its largest job, and the CPU-hours of all its jobs.

    input_mb: the corpus input; None = the cap x languages (the corpus the cap keeps, a lower
    bound of a Stack-v2-style input). An error if neither is known.
    """
    corpus = config.get("corpus", {})
    langs = len(config["languages"])
    cap = corpus.get("cap_bytes_per_language")
    if input_mb is None:
        if not cap:
            raise CodescaleError(
                "the data plan needs the corpus size: set corpus.cap_bytes_per_language or "
                "give --corpus-gb"
            )
        input_mb = cap * langs / 2**20
    if input_mb <= 0:
        raise CodescaleError(f"corpus input must be positive, got {input_mb} MiB")
    part_mb = float(corpus.get("part_mb") or 2048)
    parts = max(1, math.ceil(input_mb / part_mb))
    kept = min(input_mb, cap * langs / 2**20) if cap else input_mb
    split = config.get("split", {})
    v = {
        "T": input_mb,
        "K": kept,
        "lang": kept / langs,
        "P": parts,
        "e": float(split.get("validation", 0.05)) + float(split.get("test", 0.05)),
    }
    count = {"1": 1, "P": parts, "L": langs, "L*P": langs * parts, "3*L": 3 * langs}
    count["3*L*P"] = 3 * langs * parts
    max_min = float(settings_of(config)["max_runtime_h"])
    rows = []
    for rule, (jobs_of, input_of, total_of) in DATA_JOBS.items():
        if rule not in scaling:
            continue
        base, per_mb, mb_per_min = scaling[rule]
        stored = 1.0 if rule in NOT_PARQUET else PARQUET_BYTES_PER_BYTE
        size = stored * input_of(v)
        jobs = count[jobs_of]
        minutes = min(10 + size / mb_per_min, 60 * max_min)
        rows.append(
            {
                "rule": rule,
                "jobs": jobs,
                "input_mb": size,
                "mem_gb": (base + per_mb * size) / 1000,
                "hours": minutes / 60,
                "cpu_hours": (stored * total_of(v) / mb_per_min + jobs * DATA_JOB_START_MIN) / 60,
                "capped": minutes >= 60 * max_min,
            }
        )
    return rows


def _mib(mb: float) -> str:
    for unit, scale in (("TiB", 2**20), ("GiB", 2**10)):
        if mb >= scale:
            return f"{mb / scale:.2f} {unit}"
    return f"{mb:.2f} MiB"


def format_data_plan(rows: Sequence[dict[str, Any]], input_mb: float, parts: int) -> str:
    """The data plan as a table, with its total jobs and CPU-hours."""
    header = ["data rule", "jobs", "input/job", "mem/job", "booked h/job", "CPU-h"]
    body = [
        [
            r["rule"],
            str(r["jobs"]),
            f"{r['input_mb'] / 1024:.1f} GiB"
            if r["input_mb"] >= 1024
            else f"{r['input_mb']:.0f} MiB",
            f"{r['mem_gb']:.1f} GB",
            f"{r['hours']:.2f}" + (" (limit)" if r["capped"] else ""),
            f"{r['cpu_hours']:.0f}",
        ]
        for r in rows
    ]
    total = [
        "total",
        str(sum(r["jobs"] for r in rows)),
        "",
        f"max {max((r['mem_gb'] for r in rows), default=0):.1f} GB",
        "",
        f"{sum(r['cpu_hours'] for r in rows):.0f}",
    ]
    title = (
        f"data plan: {_mib(input_mb)} of corpus input in {parts} parts"
        " (memory and time per job as DATA_SCALING books them on Slurm)"
    )
    return title + "\n" + _aligned(header, body, total)


def data_plan_text(
    config: dict[str, Any],
    scaling: dict[str, tuple[float, float, float]] | None = None,
    input_mb: float | None = None,
) -> str:
    """The data plan of a config as `codescale plan` and the dry run print it."""
    scaling = DATA_SCALING if scaling is None else scaling
    rows = data_plan(config, scaling, input_mb)
    corpus = config.get("corpus", {})
    if input_mb is None:
        input_mb = corpus["cap_bytes_per_language"] * len(config["languages"]) / 2**20
    parts = max(1, math.ceil(input_mb / float(corpus.get("part_mb") or 2048)))
    text = format_data_plan(rows, input_mb, parts)
    missing = [rule for rule in DATA_JOBS if rule not in scaling]
    if missing:
        text += f"\n(no DATA_SCALING entry, the profile's default resources: {', '.join(missing)})"
    return text
