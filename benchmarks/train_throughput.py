"""Training throughput: the project's Fabric step (train.module) vs a plain PyTorch loop.

Same model (codescale.model.llama.Transformer at a preset size), same batches (random tokens, on
the host, copied to the device each step in both), same fused AdamW (on CUDA), gradient clipping,
bf16 autocast on GPU, optional torch.compile (plain: of model.loss; project: of the LossModule,
as `codescale train` compiles it: the same forward + cross-entropy graph). Both run in this one
process, alternating, `--repeats` times; the best of each is reported with MFU (GPU peak table of
codescale.train.run) and the ratio project / plain (target >= 0.95, issue 9).
benchmarks/gpu_check.py imports `plain` and `project` from here.

    nice python benchmarks/train_throughput.py --size 100K --device cpu --threads 2
    python benchmarks/train_throughput.py --size 85M --seq-len 2048 --batch-size 16 --compile
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import torch

from codescale.hardware import peak_flops
from codescale.model import presets
from codescale.model.llama import ModelConfig, Transformer
from codescale.train.hparams import HParams
from codescale.train.launch import StopControl
from codescale.train.module import LossLog, grad_accum_steps, setup_training, train_step


def _batches(args: argparse.Namespace, vocab: int, n: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    shape = (args.batch_size, args.seq_len + 1)
    out = [torch.randint(0, vocab, shape, generator=g) for _ in range(n)]
    return [b.pin_memory() for b in out] if args.device == "cuda" else out


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def plain(args: argparse.Namespace, cfg: dict, batches: list[torch.Tensor]) -> float:
    """Seconds for the timed steps of a hand-written loop (the yardstick)."""
    dev = torch.device(args.device)
    torch.manual_seed(0)
    model = Transformer(ModelConfig(**cfg)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=args.device == "cuda")
    loss_fn = torch.compile(model.loss) if args.compile else model.loss
    autocast = torch.autocast(args.device, dtype=torch.bfloat16, enabled=args.device == "cuda")
    start = 0.0
    for i, batch in enumerate(batches):
        if i == args.warmup_steps:
            _sync(args.device)
            start = time.perf_counter()
        b = batch.to(dev, non_blocking=True)
        with autocast:
            loss = loss_fn(b[:, :-1], b[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    _sync(args.device)
    return time.perf_counter() - start


def project(
    args: argparse.Namespace, cfg: dict, batches: list[torch.Tensor], sync_check: int = 0
) -> float:
    """Seconds for the timed steps of the project's path, exactly what `codescale train` runs:
    Fabric + train.module.setup_training + train_step + LossLog + StopControl.poll per step.

    With `sync_check` > 0, that many steady-state steps after the warmup run under
    torch.cuda.set_sync_debug_mode("error"): any host-device sync in the step raises.
    """
    dev = args.device
    fabric = L.Fabric(
        accelerator="cuda" if dev == "cuda" else "cpu",
        devices=1,
        precision="bf16-mixed" if dev == "cuda" else "32-true",
    )
    fabric.launch()
    torch.manual_seed(0)
    hp = HParams(batch_size=args.batch_size, lr=1e-3, steps=len(batches), seq_len=args.seq_len)
    micro, accum = grad_accum_steps(args.batch_size, 1, args.micro_batch_size)
    model, optimizer, *_ = setup_training(
        fabric,
        cfg,
        hp,
        compile=args.compile,
        activation_checkpointing=getattr(args, "activation_checkpointing", False),
    )
    losses = LossLog(hp)
    tokens_per_step = args.batch_size * args.seq_len
    start = 0.0
    with StopControl(world_size=1, grace_s=30) as control:
        for i, b in enumerate(batches):
            if i == args.warmup_steps:
                _sync(dev)
                start = time.perf_counter()
            checking = dev == "cuda" and args.warmup_steps <= i < args.warmup_steps + sync_check
            if checking:
                torch.cuda.set_sync_debug_mode("error")
            try:
                batch = fabric.to_device({"tokens": b})
                loss, norm = train_step(fabric, model, optimizer, batch, i, hp, micro, accum)
                losses.add(i, loss, norm)
                control.poll()
            finally:
                if checking:
                    torch.cuda.set_sync_debug_mode("default")
            if (i + 1) % args.log_every == 0:
                losses.flush(i + 1, tokens_per_step, point=True, reduce=lambda t: t)
    _sync(dev)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="100K", help="model preset")
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--micro-batch-size", type=int, default=None, help="project path only")
    p.add_argument("--steps", type=int, default=40, help="timed steps")
    p.add_argument("--warmup-steps", type=int, default=5, help="untimed steps (compile)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--log-every", type=int, default=50, help="project's loss read-back period")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile model.loss in both (default: on for cuda)")  # fmt: skip
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args()
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.compile is None:
        args.compile = args.device == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.set_float32_matmul_precision("high")
    cfg = presets.model_config(args.size, args.vocab, args.seq_len)
    batches = _batches(args, args.vocab, args.warmup_steps + args.steps)
    tokens = args.steps * args.batch_size * args.seq_len
    fpt = presets.flops_per_token(args.size, args.vocab, args.seq_len)
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    peak = peak_flops(name) if args.device == "cuda" else None
    times: dict[str, list[float]] = {"plain": [], "project": []}
    for _ in range(args.repeats):
        times["plain"].append(plain(args, cfg, batches))
        times["project"].append(project(args, cfg, batches))
    result = {"device": name, "size": args.size, "N": presets.n_params(args.size),
              "batch": args.batch_size, "seq_len": args.seq_len, "steps": args.steps,
              "compile": args.compile}  # fmt: skip
    for key, ts in times.items():
        tps = tokens / min(ts)
        result[f"{key}_tokens_per_s"] = tps
        result[f"{key}_mfu"] = tps * fpt / peak if peak else None
        print(f"{key:8s} {tps:12,.0f} tokens/s  MFU {result[f'{key}_mfu'] or 'n/a'}  runs {ts}")
    result["ratio"] = result["project_tokens_per_s"] / result["plain_tokens_per_s"]
    print(f"ratio project/plain: {result['ratio']:.3f}")
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
