"""One-call GPU check of the training path (issue 9), for an H100/H200-class card, < 8 minutes.

    python benchmarks/gpu_check.py --json benchmarks/gpu_check.json

Checks, each printed as a row of one table (PASS / FAIL / SKIP), exit code 1 if any FAIL:

1. attention: flash-attn vs PyTorch SDPA, same bf16 q/k/v, causal, with and without document
   masking (flash varlen), outputs and input gradients; max abs difference relative to the
   output's scale must be below 2e-2 (bf16 has 8 mantissa bits: rounding of 4e-3 per op).
2. memory: peak torch.cuda.max_memory_allocated of the project's training step (Fabric +
   train.module.setup_training + train_step, bf16-mixed, fused AdamW, two optimizer steps) at 3
   sizes x 3 micro-batch sizes, seq 2048, vocab 32768, plus activation checkpointing on the
   largest size, against codescale.plan.train_memory_gb (strategy ddp, world 1: a single GPU
   holds what one DDP rank holds). PASS when measured <= planned (the plan must not under-estimate:
   that is an OOM on the cluster) and planned <= 1.6 x measured (not wasteful).
3. fsdp: the FSDP2 path on this one GPU (world 1: ModelParallelStrategy, bf16 param gather,
   per-block compile, activation checkpointing): 6 steps, finite and falling loss, peak memory
   against train_memory_gb(strategy fsdp, world 1, activation checkpointing).
4. throughput: 0.2B, seq 2048, torch.compile, project path vs a plain PyTorch loop in this run
   (benchmarks/train_throughput.py's `project` and `plain`, alternating, best of `--repeats`):
   ratio >= 0.95 and MFU >= 45% of the card's dense bf16 peak (codescale.train.run table).
5. syncs: steady-state project steps under torch.cuda.set_sync_debug_mode("error"): no host-device
   synchronisation inside the step (the loss read-back every log_every steps is outside).

`--cpu-smoke` runs the same code on tiny sizes on the CPU (no flash-attn, no sync check, no MFU
target) so that the script itself is tested where there is no GPU. Record the printed figures
with the card's name in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vocab", type=int, default=32768, help="paper vocabulary")
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--mem-sizes", nargs=3, default=["0.1B", "0.2B", "0.5B"])
    p.add_argument("--mem-micro", nargs=3, type=int, default=[1, 2, 4])
    p.add_argument("--tp-size", default="0.2B", help="throughput check size")
    p.add_argument("--tp-batch", type=int, default=16, help="throughput batch (sequences)")
    p.add_argument("--tp-steps", type=int, default=20, help="timed steps per repeat")
    p.add_argument("--tp-warmup", type=int, default=8, help="untimed steps (compile)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--sync-steps", type=int, default=3, help="steps under sync debug mode")
    p.add_argument("--min-ratio", type=float, default=0.95)
    p.add_argument("--min-mfu", type=float, default=0.45)
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument(
        "--cpu-smoke",
        action="store_true",
        help="tiny sizes on the CPU: tests this script without a GPU (targets not checked)",
    )
    args = p.parse_args()
    if args.cpu_smoke:
        args.vocab, args.seq_len = 512, 64
        args.mem_sizes, args.mem_micro = ["5K", "20K", "100K"], [1, 2, 4]
        args.tp_size, args.tp_batch, args.tp_steps, args.tp_warmup = "100K", 8, 4, 2
        args.repeats = 1
    return args


class Report:
    """Rows of (check, case, measured, target, status); printed as one table."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, check: str, case: str, measured: str, target: str, ok: bool | None) -> None:
        status = "SKIP" if ok is None else ("PASS" if ok else "FAIL")
        self.rows.append(
            {"check": check, "case": case, "measured": measured, "target": target, "status": status}
        )
        print(f"[{status}] {check:10s} {case:38s} {measured:34s} {target}", flush=True)

    def table(self) -> str:
        head = "| check | case | measured | target | status |\n|---|---|---|---|---|\n"
        return head + "\n".join(
            f"| {r['check']} | {r['case']} | {r['measured']} | {r['target']} | {r['status']} |"
            for r in self.rows
        )

    @property
    def failed(self) -> bool:
        return any(r["status"] == "FAIL" for r in self.rows)


def check_attention(report: Report, device: str) -> None:
    import torch

    from codescale.model import llama

    if device != "cuda":
        report.add("attention", "flash vs sdpa", "no CUDA", "", None)
        return
    if llama.flash_attn_func is None:
        report.add("attention", "flash vs sdpa", "flash-attn not importable", "installed", False)
        return
    g = torch.Generator(device="cuda").manual_seed(0)
    b, t, h, d = 2, 2048, 16, 64
    for masked in (False, True):
        q, k, v = (
            torch.randn(
                b, t, h, d, device="cuda", dtype=torch.bfloat16, generator=g
            ).requires_grad_()
            for _ in range(3)
        )
        seg = None
        if masked:  # 3 documents per row at fixed cut points
            docs = torch.zeros(b, t, dtype=torch.long, device="cuda")
            docs[:, t // 3 :] = 1
            docs[:, 2 * t // 3 :] = 2
            seg = llama.segment_ids(docs)
        outs, grads = [], []
        for impl in ("flash", "sdpa"):
            out = llama.attention(q, k, v, seg, impl)
            out.float().pow(2).mean().backward()
            outs.append(out.detach().float())
            grads.append(q.grad.detach().float().clone())
            q.grad = k.grad = v.grad = None
        scale = outs[1].abs().max().item()
        diff = (outs[0] - outs[1]).abs().max().item() / scale
        gscale = grads[1].abs().max().item()
        gdiff = (grads[0] - grads[1]).abs().max().item() / gscale
        case = "causal + doc mask (varlen)" if masked else "causal"
        report.add(
            "attention",
            case,
            f"out {diff:.2e}, dq {gdiff:.2e} (rel max)",
            "< 2e-2",
            diff < 2e-2 and gdiff < 2e-2,
        )


def _fabric(device: str, strategy: Any = "auto") -> Any:
    import lightning as L

    fabric = L.Fabric(
        accelerator="cuda" if device == "cuda" else "cpu",
        devices=1,
        strategy=strategy,
        precision="bf16-mixed" if device == "cuda" else "32-true",
    )
    fabric.launch()
    return fabric


def _free(device: str) -> None:
    import torch

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_gb(device: str) -> float:
    import torch

    if device != "cuda":
        return float("nan")
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 1e9


def _train_steps(
    fabric: Any,
    size: str,
    vocab: int,
    seq_len: int,
    micro: int,
    accum: int,
    steps: int,
    ac: bool,
    compile: bool = False,
    sharded: bool = False,
) -> list[float]:
    """`steps` optimizer steps of the project's path on random tokens; the losses (one sync)."""
    import torch

    from codescale.model import presets
    from codescale.train.hparams import HParams
    from codescale.train.module import setup_training, train_step

    cfg = presets.model_config(size, vocab, seq_len)
    batch = micro * accum
    hp = HParams(batch_size=batch, lr=3e-4, steps=steps, seq_len=seq_len, warmup_fraction=0.0)
    torch.manual_seed(0)
    model, opt, *_ = setup_training(
        fabric, cfg, hp, compile=compile, activation_checkpointing=ac, sharded=sharded
    )
    # a fixed batch repeated: the loss must fall if the step trains at all
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, vocab, (batch, seq_len + 1), generator=g)
    losses = []
    for step in range(steps):
        loss, _ = train_step(
            fabric, model, opt, fabric.to_device({"tokens": tokens}), step, hp, micro, accum
        )
        losses.append(loss)
    out = torch.stack(losses).float().cpu().tolist()
    del model, opt
    return out


def check_memory(report: Report, args: argparse.Namespace, device: str) -> list[dict]:
    from codescale import plan

    rows = []
    cases = [(s, m, False) for s in args.mem_sizes for m in args.mem_micro]
    cases.append((args.mem_sizes[-1], args.mem_micro[-1], True))
    fabric = _fabric(device)
    for size, micro, ac in cases:
        _free(device)
        t0 = time.perf_counter()
        try:
            _train_steps(fabric, size, args.vocab, args.seq_len, micro, 1, 2, ac)
            measured = _peak_gb(device)
            error = None
        except Exception as err:  # an OOM is a finding, not a crash of the whole check
            measured, error = float("nan"), f"{type(err).__name__}: {str(err)[:60]}"
        planned = plan.train_memory_gb(size, args.vocab, args.seq_len, micro, "ddp", 1, ac)
        case = f"{size} micro {micro}{' +AC' if ac else ''} seq {args.seq_len}"
        if error:
            report.add("memory", case, error, f"plan {planned:.1f} GB", False)
        elif device != "cuda":
            report.add("memory", case, "no CUDA", f"plan {planned:.2f} GB", None)
        else:
            ok = measured <= planned <= 1.6 * measured
            report.add(
                "memory",
                case,
                f"{measured:.2f} GB (plan/meas {planned / measured:.2f})",
                f"meas <= plan {planned:.2f} <= 1.6 meas",
                ok,
            )
        rows.append(
            {
                "size": size,
                "micro_batch": micro,
                "activation_checkpointing": ac,
                "measured_gb": measured,
                "planned_gb": planned,
                "seconds": time.perf_counter() - t0,
            }
        )
    return rows


def check_fsdp(report: Report, args: argparse.Namespace, device: str) -> dict:
    import functools
    import os

    import torch
    from lightning.fabric.strategies import ModelParallelStrategy

    from codescale import plan
    from codescale.train.module import parallelize_fsdp

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29561")
    size, micro = args.mem_sizes[0], args.mem_micro[-1]
    compile = device == "cuda"
    strategy = ModelParallelStrategy(
        parallelize_fn=functools.partial(
            parallelize_fsdp,
            compile=compile,
            param_dtype=torch.bfloat16 if device == "cuda" else None,
        ),
        data_parallel_size=1,
        tensor_parallel_size=1,
    )
    _free(device)
    fabric = _fabric(device, strategy)
    losses = _train_steps(
        fabric, size, args.vocab, args.seq_len, micro, 2, 6, True, compile=compile, sharded=True
    )
    measured = _peak_gb(device)
    planned = plan.train_memory_gb(size, args.vocab, args.seq_len, micro, "fsdp", 1, True)
    ok = all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]
    report.add(
        "fsdp",
        f"{size} world 1, AC, 2 x micro {micro}, compile {compile}",
        f"loss {losses[0]:.3f} -> {losses[-1]:.3f}",
        "finite, falling",
        ok,
    )
    if device == "cuda":
        report.add(
            "fsdp",
            f"{size} memory",
            f"{measured:.2f} GB (plan/meas {planned / measured:.2f})",
            f"meas <= plan {planned:.2f}",
            measured <= planned,
        )
    return {"size": size, "losses": losses, "measured_gb": measured, "planned_gb": planned}


def check_throughput(report: Report, args: argparse.Namespace, device: str) -> dict:
    import torch

    sys.path.insert(0, str(HERE))
    import train_throughput as tt

    from codescale.hardware import peak_flops
    from codescale.model import presets

    bench = argparse.Namespace(
        size=args.tp_size,
        vocab=args.vocab,
        seq_len=args.seq_len,
        batch_size=args.tp_batch,
        micro_batch_size=None,
        steps=args.tp_steps,
        warmup_steps=args.tp_warmup,
        log_every=50,
        device=device,
        compile=device == "cuda",
        activation_checkpointing=False,
    )
    cfg = presets.model_config(args.tp_size, args.vocab, args.seq_len)
    batches = tt._batches(bench, args.vocab, args.tp_warmup + args.tp_steps)
    times: dict[str, list[float]] = {"plain": [], "project": []}
    sync_error = None
    for r in range(args.repeats):
        _free(device)
        times["plain"].append(tt.plain(bench, cfg, batches))
        _free(device)
        try:
            times["project"].append(
                tt.project(bench, cfg, batches, sync_check=args.sync_steps if r == 0 else 0)
            )
        except RuntimeError as err:
            if "synchroniz" not in str(err):
                raise
            sync_error = str(err).splitlines()[0][:90]
            torch.cuda.set_sync_debug_mode("default")
    tokens = args.tp_steps * args.tp_batch * args.seq_len
    fpt = presets.flops_per_token(args.tp_size, args.vocab, args.seq_len)
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    peak = peak_flops(name) if device == "cuda" else None
    res: dict[str, Any] = {"device": name, "size": args.tp_size, "batch": args.tp_batch}
    for key, ts in times.items():
        if ts:
            res[f"{key}_tokens_per_s"] = tokens / min(ts)
            res[f"{key}_mfu"] = res[f"{key}_tokens_per_s"] * fpt / peak if peak else None
    case = f"{args.tp_size} seq {args.seq_len} batch {args.tp_batch} compile {bench.compile}"
    if "project_tokens_per_s" in res:
        ratio = res["project_tokens_per_s"] / res["plain_tokens_per_s"]
        res["ratio"] = ratio
        target_ok = ratio >= args.min_ratio if device == "cuda" else None
        report.add(
            "throughput",
            case,
            f"{res['project_tokens_per_s']:,.0f} vs {res['plain_tokens_per_s']:,.0f} tok/s "
            f"= {ratio:.3f}x",
            f">= {args.min_ratio}x plain",
            target_ok,
        )
        mfu = res["project_mfu"]
        report.add(
            "mfu",
            f"{case} on {name}",
            f"{mfu:.1%} (plain {res['plain_mfu']:.1%})" if mfu is not None else "no peak known",
            f">= {args.min_mfu:.0%}",
            (mfu >= args.min_mfu) if mfu is not None else None,
        )
    if device == "cuda":
        report.add(
            "syncs",
            f"{args.sync_steps} steady-state project steps",
            sync_error or "none",
            'set_sync_debug_mode("error")',
            sync_error is None,
        )
    else:
        report.add("syncs", "project step", "no CUDA", "", None)
    return res


def main() -> int:
    args = _parse()
    import torch

    if args.cpu_smoke:
        device = "cpu"
        torch.set_num_threads(1)
    elif torch.cuda.is_available():
        device = "cuda"
        torch.set_float32_matmul_precision("high")
    else:
        print("gpu_check: no CUDA device (use --cpu-smoke to test the script on the CPU)")
        return 2
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(f"gpu_check on {name}, torch {torch.__version__}", flush=True)
    report = Report()
    results: dict[str, Any] = {"device": name, "torch": torch.__version__}
    t0 = time.perf_counter()
    for key, fn in (
        ("attention", lambda: check_attention(report, device)),
        ("memory", lambda: check_memory(report, args, device)),
        ("fsdp", lambda: check_fsdp(report, args, device)),
        ("throughput", lambda: check_throughput(report, args, device)),
    ):
        start = time.perf_counter()
        try:
            results[key] = fn()
        except Exception as err:  # report and go on: one broken check must not hide the others
            report.add(key, "crashed", f"{type(err).__name__}: {str(err)[:80]}", "", False)
        print(f"  ({key}: {time.perf_counter() - start:.0f} s)", flush=True)
    results["rows"] = report.rows
    results["seconds"] = time.perf_counter() - t0
    print()
    print(report.table())
    print(f"\ntotal {results['seconds']:.0f} s; {'FAIL' if report.failed else 'all checks passed'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
