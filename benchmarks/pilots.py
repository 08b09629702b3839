"""Default-study pilots (issue 11): real `codescale train` runs on a finished data half's shards.

Answers, with numbers, what the default study (config/config.yaml) must be to show scaling on 2 CPU
cores in an hour: what the data streams look like (a few very large files), how noisy the test-set
losses are per language and how many test tokens each needs, how fast each width/depth trains per
FLOP at 1 and 2 threads, which learning rate each size wants, and whether loss falls with every size
step and every budget step. Every run is the real trainer (`codescale mixture` + `codescale train`,
subprocesses, as the workflow calls them); the test losses are the evaluator's own window scoring
(codescale.evaluate.losses) kept per document, so subsets of the test split can be rescored.

Runs are cached under --out (default results/pilots/runs/<name>): re-running a command trains only
what is missing and prints the tables again. Run with OMP_NUM_THREADS=1.

    python benchmarks/pilots.py data                       # streams, large files, test splits
    python benchmarks/pilots.py throughput --sizes 5K 20K 100K --threads 1 2
    python benchmarks/pilots.py grid --langs rust --sizes 20K --tokens 400K --lr 0.003 0.01 0.03
    python benchmarks/pilots.py noise                      # seed and evaluation-subset noise
    python benchmarks/pilots.py table                      # every cached run

--tokens-dir points at another data half (e.g. a /tmp workdir with another vocabulary or
corpus.max_file_bytes); its name goes into the run names via --tag.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
LANGS = ("python", "java", "javascript", "typescript", "csharp", "go", "rust")
CORE_PEAK_GFLOPS = 90.0  # fp32 matmul peak of one core here at 256-1024 square (issue 11)


def count(text: str) -> int:
    """'400K' -> 400000, '1M' -> 1000000, '1500' -> 1500."""
    text = str(text)
    mult = {"K": 10**3, "M": 10**6}.get(text[-1].upper(), 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def short(n: int) -> str:
    if n % 10**6 == 0:
        return f"{n // 10**6}M"
    if n % 1000 == 0:
        return f"{n // 1000}K"
    return str(n)


def run_name(
    a: argparse.Namespace,
    lang: str,
    size: str,
    tokens: int,
    lr: float,
    batch: int,
    seed: int,
    threads: int,
) -> str:
    tag = f"{a.tag}/" if a.tag else ""
    return f"{tag}{lang}/{size}_d{short(tokens)}_b{batch}_lr{lr:g}_s{seed}_L{a.seq_len}_t{threads}"


def train_one(
    a: argparse.Namespace,
    lang: str,
    size: str,
    tokens: int,
    lr: float,
    batch: int,
    seed: int,
    threads: int,
) -> dict:
    """Train (if not cached) and score one pilot run; returns its record."""
    name = run_name(a, lang, size, tokens, lr, batch, seed, threads)
    out = Path(a.out) / name
    rec_path = out / "pilot.json"
    if rec_path.exists():
        return json.loads(rec_path.read_text())
    out.mkdir(parents=True, exist_ok=True)
    tok = Path(a.tokens_dir)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    t0, c0 = time.time(), child_cpu()
    subprocess.run(
        [
            str(BIN / "codescale"),
            "mixture",
            "--run",
            name,
            "--size",
            size,
            "--source",
            f"{lang}={tok / lang / 'train'}:1.0",
            "--tokens",
            str(tokens),
            "--seed",
            str(seed),
            "--seq-len",
            str(a.seq_len),
            "--out",
            str(out / "mixture.json"),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    t1, c1 = time.time(), child_cpu()
    log = out / "train.log"
    with log.open("w") as fh:
        train = [str(BIN / "codescale"), "train"]
        proc = subprocess.run(
            [
                *train,
                "--mixture",
                str(out / "mixture.json"),
                "--out-dir",
                str(out),
                "--checkpoint-dir",
                str(out / "ckpt"),
                "--val",
                f"{lang}={tok / lang / 'validation'}",
                "--batch-size",
                str(batch),
                *(["--lr", str(lr)] if lr > 0 else []),
                "--checkpoint-every",
                "0",
                "--max-val-tokens",
                "4096",
                "--threads",
                str(threads),
            ],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    if proc.returncode:
        sys.exit(f"train failed for {name}: see {log}")
    t2, c2 = time.time(), child_cpu()
    metrics = json.loads((out / "metrics.json").read_text())
    perdoc = score_docs(out, tok, lang, threads)
    t3 = time.time()
    rec = {
        "name": name,
        "lang": lang,
        "size": size,
        "tokens": tokens,
        "lr": lr,
        "batch": batch,
        "seed": seed,
        "threads": threads,
        "seq_len": a.seq_len,
        "tag": a.tag,
        "lr_used": json.loads((out / "config.json").read_text())["train"]["lr"],
        "N": metrics["N"],
        "flops": metrics["flops"],
        "steps": metrics["steps"],
        "train_time_s": metrics["wall_time_s"],
        "tokens_per_s": metrics["tokens_per_s"],
        "mixture_proc_s": t1 - t0,
        "train_proc_s": t2 - t1,
        "score_s": t3 - t2,
        "mixture_cpu_s": c1 - c0,
        "train_cpu_s": c2 - c1,
        "loadavg": os.getloadavg()[0],
        "val_loss": metrics["val_loss"][lang],
        "final_train_loss": metrics["final_train_loss"],
        "test": perdoc,
    }
    rec_path.write_text(json.dumps(rec))
    return rec


def child_cpu() -> float:
    """User + system CPU seconds of finished child processes: less sensitive to the machine's
    load than wall time (other sessions share the 2 cores), so fixed costs are compared in CPU s."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def score_docs(run_dir: Path, tok: Path, lang: str, threads: int) -> dict:
    """Summed nats and scored tokens per test document (the evaluator's windows, whole split)."""
    import torch

    from codescale.data.shards import Shard
    from codescale.evaluate.losses import document_windows, score_windows
    from codescale.evaluate.run import load_run_model

    torch.set_num_threads(threads)
    model, cfg = load_run_model(run_dir, torch.device("cpu"))
    shard = Shard(tok / lang / "test")
    windows, owner = [], []
    for i in range(len(shard)):
        w = list(document_windows(shard.doc(i).astype(np.int64), cfg["model"]["max_seq_len"]))
        windows += w
        owner += [i] * len(w)
    sums = score_windows(model, windows, 32, 0, torch.device("cpu"))  # one batched pass
    nats, ntok = [0.0] * len(shard), [0] * len(shard)
    for i, s, (_, t) in zip(owner, sums, windows, strict=True):
        nats[i] += float(s)
        ntok[i] += len(t)
    return {"nats": nats, "n_tokens": ntok}


def test_loss(rec: dict, docs: list[int] | None = None) -> float:
    nats, ntok = np.asarray(rec["test"]["nats"]), np.asarray(rec["test"]["n_tokens"])
    if docs is not None:
        nats, ntok = nats[docs], ntok[docs]
    return float(nats.sum() / ntok.sum())


def load_all(out: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(out).rglob("pilot.json"))]


# ----------------------------------------------------------------------------------------- data
def cmd_data(a: argparse.Namespace) -> None:
    """Per language: documents, the largest file's share of the train split, where the largest
    document falls in the seed-0 mono stream (token offset), bytes per token, test split size."""
    from codescale.data.shards import Shard
    from codescale.train.sampler import MixtureSampler

    tok = Path(a.tokens_dir)
    print(
        "| language | train docs | train tokens | bytes/token | largest doc (tokens, share) "
        "| its stream offset (seed 0) | test docs | test tokens | test top doc share |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for lang in a.langs:
        tr, te = Shard(tok / lang / "train"), Shard(tok / lang / "test")
        lens = np.diff(tr.offsets)
        big = int(np.argmax(lens))
        plan_path = Path(a.out) / "_data" / f"{lang}.json"
        plan_path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(BIN / "codescale"),
                "mixture",
                "--run",
                f"data/{lang}",
                "--size",  # a plan carries its model's size; the data order does not use it
                a.sizes[0],
                "--source",
                f"{lang}={tok / lang / 'train'}:1.0",
                "--tokens",
                str(tr.n_tokens),
                "--seed",
                "0",
                "--seq-len",
                str(a.seq_len),
                "--out",
                str(plan_path),
            ],
            check=True,
            capture_output=True,
        )
        sampler = MixtureSampler(json.loads(plan_path.read_text()), a.seq_len)
        lo, hi = stream_offset(sampler, lang, big)
        offset = f"{lo}-{hi}"
        tlens = np.diff(te.offsets)
        print(
            f"| {lang} | {len(tr)} | {tr.n_tokens} | {tr.meta['n_bytes'] / tr.n_tokens:.2f} | "
            f"{lens[big]} ({lens[big] / tr.n_tokens:.0%}) | {offset} | {len(te)} | "
            f"{te.n_tokens} | {tlens.max() / te.n_tokens:.0%} |"
        )


def stream_offset(sampler, lang: str, doc: int) -> tuple[int, int]:
    """(start, end) token offsets of document `doc` in epoch 0 of the mono stream: a mono run of D
    tokens trains on it when start < D (SourceStream._epoch is the sampler's own permutation)."""
    src = sampler.sources[0]
    perm, starts = src._epoch(0)
    pos = int(np.nonzero(perm == doc)[0][0])
    return int(starts[pos]), int(starts[pos + 1])


# ----------------------------------------------------------------------------------- throughput
def cmd_throughput(a: argparse.Namespace) -> None:
    recs = []
    for threads in a.threads:
        for size in a.sizes:
            for batch in a.batch:
                recs.append(
                    train_one(a, a.langs[0], size, count(a.tokens[0]), a.lr[0], batch, 0, threads)
                )
    print_throughput(recs, a.out)


def step_rates(out: str, name: str) -> np.ndarray:
    """Per-step tokens/s from the run's train.log (the trainer logs every step of short runs)."""
    rates = []
    for line in (Path(out) / name / "train.log").read_text().splitlines():
        if " tokens/s " in line and " step " in line:
            rates.append(float(line.rsplit(" tokens/s ", 1)[1]))
    return np.asarray(rates[1:] or [np.nan])  # step 1 includes warm-up allocations


def print_throughput(recs: list[dict], out: str) -> None:
    """Rates under load: the whole-run mean, and the 90th percentile of per-step rates (steps
    that ran while the other sessions left the core alone: the nearest to a quiet machine)."""
    from codescale.model import presets

    print(
        "| size | d_model x layers | N | FLOPs/token | batch | threads | steps "
        "| tokens/s mean | tokens/s p90 step | GFLOP/s p90 | % of peak (90/thread) "
        "| train process CPU s | of which training s | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(recs, key=lambda r: (r["threads"], presets.n_params(r["size"]), r["batch"])):
        s = presets.shape_of(r["size"])
        fpt = r["flops"] / (r["steps"] * r["batch"] * r["seq_len"])
        p90 = float(np.nanpercentile(step_rates(out, r["name"]), 90))
        gf = p90 * fpt / 1e9
        peak = CORE_PEAK_GFLOPS * r["threads"]
        print(
            f"| {r['size']} | {s.d_model}x{s.n_layers} | {r['N']} | {fpt / 1e6:.2f}M | "
            f"{r['batch']} | {r['threads']} | {r['steps']} | {r['tokens_per_s']:.0f} | "
            f"{p90:.0f} | {gf:.1f} | {100 * gf / peak:.1f} | "
            f"{r.get('train_cpu_s', float('nan')):.1f} | {r['train_time_s']:.1f} | "
            f"{r['loadavg']:.1f} |"
        )


def cmd_speed(a: argparse.Namespace) -> None:
    """In-process rate of the trainer's own step (benchmarks/train_throughput.project: Fabric +
    setup_training + train_step, what `codescale train` runs per step) for presets and for
    extra shapes d_model x layers (--shapes 64x2 32x8), at each thread count: best of --repeats
    interleaved repeats, so a burst of load from other sessions costs one repeat, not the row."""
    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from train_throughput import project

    from codescale.model import presets
    from codescale.model.presets import Shape

    shapes: list[tuple[str, Shape]] = [(n, presets.shape_of(n)) for n in a.sizes]
    for spec in a.shapes:
        d, layers = (int(x) for x in spec.split("x"))
        heads = max(1, d // 16)
        shapes.append((spec, Shape(d, layers, heads, 3 * d)))
    print(
        "| shape | d_model x layers | tokens per CPU s | N | FLOPs/token | batch | threads "
        "| tokens/s (best wall) | GFLOP/s | % of peak (90 per thread) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for threads in a.threads:
        torch.set_num_threads(threads)
        for name, shape in shapes:
            for batch in a.batch:
                cfg = {
                    "vocab_size": a.vocab,
                    "d_model": shape.d_model,
                    "n_layers": shape.n_layers,
                    "n_heads": shape.n_heads,
                    "d_ff": shape.d_ff,
                    "max_seq_len": a.seq_len,
                }
                args = argparse.Namespace(
                    device="cpu",
                    compile=False,
                    batch_size=batch,
                    seq_len=a.seq_len,
                    warmup_steps=3,
                    steps=a.steps,
                    micro_batch_size=None,
                    log_every=50,
                )
                g = torch.Generator().manual_seed(0)
                batches = [
                    torch.randint(0, a.vocab, (batch, a.seq_len + 1), generator=g)
                    for _ in range(args.warmup_steps + args.steps)
                ]
                walls, cpus = [], []
                for _ in range(a.repeats):
                    c0 = time.process_time()
                    walls.append(project(args, cfg, batches))
                    cpus.append(time.process_time() - c0)  # all threads, incl. warmup steps
                best = min(walls)
                tps = a.steps * batch * a.seq_len / best
                steps_all = args.warmup_steps + args.steps
                tpc = steps_all * batch * a.seq_len / min(cpus)
                fpt = presets.flops_per_token(shape, a.vocab, a.seq_len)
                gf = tps * fpt / 1e9
                print(
                    f"| {name} | {shape.d_model}x{shape.n_layers} | {tpc:.0f} | "
                    f"{presets.n_params(shape)} | {fpt / 1e6:.2f}M | {batch} | {threads} | "
                    f"{tps:.0f} | {gf:.1f} | {100 * gf / (CORE_PEAK_GFLOPS * threads):.1f} |",
                    flush=True,
                )


# ----------------------------------------------------------------------------------------- grid
def cmd_grid(a: argparse.Namespace) -> None:
    recs = []
    for lang in a.langs:
        for size in a.sizes:
            for tokens in a.tokens:
                for lr in a.lr:
                    for batch in a.batch:
                        for seed in a.seeds:
                            r = train_one(
                                a, lang, size, count(tokens), lr, batch, seed, a.threads[0]
                            )
                            recs.append(r)
                            print(
                                f"{r['name']}: test {test_loss(r):.4f} val {r['val_loss']:.4f}"
                                f" ({r['train_proc_s']:.0f} s)",
                                flush=True,
                            )
    print_grid(recs)


FIXED_TRAIN_CPU_S = 7.6  # CPU s of a `codescale train` process of 4 steps (imports, setup, save)


def print_grid(recs: list[dict]) -> None:
    """Losses, and the training rate per CPU second: (process CPU s - the fixed 7.6 s measured on
    4-step runs) against the run's FLOPs. CPU time, unlike wall time, barely depends on how many
    other processes share the cores, so it estimates the rate of a job alone on its core."""
    print(
        "| run | N | steps | test loss (nats/token) | val loss | train wall s | process CPU s "
        "| GFLOP per CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in recs:
        cpu = r.get("train_cpu_s")
        rate = r["flops"] / 1e9 / (cpu - FIXED_TRAIN_CPU_S) if cpu and r["steps"] > 50 else None
        print(
            f"| {r['name']} | {r['N']} | {r['steps']} | {test_loss(r):.4f} | "
            f"{r['val_loss']:.4f} | {r['train_time_s']:.0f} | "
            f"{cpu if cpu is None else round(cpu, 1)} | {'' if rate is None else f'{rate:.1f}'} |"
        )


# ---------------------------------------------------------------------------------------- noise
def boot_sigma(na: np.ndarray, nb: np.ndarray | None, nt: np.ndarray, rng, n: int = 2000) -> float:
    """Bootstrap (over test documents) standard deviation of loss A - loss B on the same documents
    (paired), or of loss A alone when nb is None. Documents are the unit: tokens of one file are
    not independent draws."""
    out = np.empty(n)
    for k in range(n):
        idx = rng.integers(0, len(nt), len(nt))
        d = na[idx].sum() - (nb[idx].sum() if nb is not None else 0.0)
        out[k] = d / max(nt[idx].sum(), 1)
    return float(np.std(out))


def cmd_noise(a: argparse.Namespace) -> None:
    """Per language, the differences the study must resolve (each size step at the largest budget,
    each budget step at the largest size) against two noises:
    - evaluation: paired bootstrap sigma over test documents of (loss A - loss B), both models
      scored on the same whole test split; sigma ~ 1/sqrt(tokens), so the test tokens needed for
      |diff| > 2 sigma are T * (2 sigma / |diff|)^2. For contrast, the unpaired sigma of one loss.
    - training seed: |loss(seed 0) - loss(seed 1)| of one configuration (seed = init + data order).
    """
    from codescale.model import presets

    recs = [r for r in load_all(a.out) if (not a.tag or r["name"].startswith(a.tag + "/"))]
    groups: dict[tuple, dict] = {}
    for r in recs:
        key = (r["name"].rsplit("/", 2)[0], r["lang"], r["lr"], r["batch"], r["seq_len"])
        groups.setdefault(key, {})[(r["size"], r["tokens"], r["seed"])] = r
    rng = np.random.default_rng(0)
    print(
        "| data order | language | step | test docs | test tokens | loss diff | paired sigma "
        "| tokens for diff > 2 sigma | unpaired sigma of one loss |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    seeds = []
    for (prefix, lang, lr, batch, _), g in sorted(groups.items()):
        # Runs under <tag>/shuf/ used the pilots' chunk-shuffle patch (before the product sampler
        # permuted chunks), mfb100k/<lang>/ the old document-order sampler, others the product's.
        order = "chunk-shuffled" if prefix.endswith("shuf") else prefix.split("/")[0] or "-"
        cells = {(s, t) for s, t, seed in g if seed == 0}
        if not cells:
            continue
        dmax = max(t for _, t in cells)
        smax = max((s for s, _ in cells), key=presets.n_params)
        sizes = sorted({s for s, t in cells if t == dmax}, key=presets.n_params)
        budgets = sorted({t for s, t in cells if s == smax})
        steps = [((lo, dmax), (hi, dmax)) for lo, hi in zip(sizes, sizes[1:], strict=False)]
        steps += [((smax, lo), (smax, hi)) for lo, hi in zip(budgets, budgets[1:], strict=False)]
        for lo, hi in steps:
            A, B = g[(*lo, 0)], g[(*hi, 0)]
            na, nb = np.asarray(A["test"]["nats"]), np.asarray(B["test"]["nats"])
            nt = np.asarray(A["test"]["n_tokens"])
            diff = float((na.sum() - nb.sum()) / nt.sum())
            sig = boot_sigma(na, nb, nt, rng)
            need = nt.sum() * (2 * sig / abs(diff)) ** 2 if diff else math.inf
            print(
                f"| {order} | {lang} | {lo[0]}/{short(lo[1])} -> {hi[0]}/{short(hi[1])} "
                f"(lr {lr:g}, batch {batch}) | {len(nt)} | {nt.sum()} | {diff:+.4f} | "
                f"{sig:.4f} | {need:.0f} | {boot_sigma(na, None, nt, rng):.4f} |"
            )
        for (s, t, seed), r in g.items():
            if seed == 1 and (s, t, 0) in g:
                seeds.append((order, lang, s, t, lr, test_loss(g[(s, t, 0)]), test_loss(r)))
    print()
    print("| data order | language | run | test loss seed 0 | seed 1 | difference |")
    print("|---|---|---|---|---|---|")
    for order, lang, s, t, lr, l0, l1 in sorted(seeds):
        print(
            f"| {order} | {lang} | {s}/{short(t)} lr {lr:g} | {l0:.4f} | {l1:.4f} | "
            f"{l1 - l0:+.4f} |"
        )


def cmd_smklog(a: argparse.Namespace) -> None:
    """Wall seconds per rule from Snakemake logs (job start to "Finished jobid"), e.g. of the
    smoke study: the fixed per-job costs (process start, imports) of mixture/train/evaluate and
    the cost of collect/fit/allocate/figures. 1-second resolution."""
    import re
    from datetime import datetime

    stamp = re.compile(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$")
    for path in a.logs:
        start: dict[str, tuple[str, datetime]] = {}
        per: dict[str, list[float]] = {}
        now, rule = None, None
        first = last = None
        for line in Path(path).read_text().splitlines():
            m = stamp.match(line)
            if m:
                now = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
                first, last = first or now, now
                continue
            m = re.match(r"^(?:local)?rule (\w+):$", line)
            if m:
                rule = m.group(1)
                continue
            m = re.match(r"^    jobid: (\d+)$", line)
            if m and rule and now:
                start[m.group(1)] = (rule, now)
                rule = None
                continue
            m = re.match(r"^Finished jobid: (\d+)", line)
            if m and m.group(1) in start and now:
                r, t0 = start[m.group(1)]
                per.setdefault(r, []).append((now - t0).total_seconds())
        print(f"{path}: {(last - first).total_seconds():.0f} s wall")
        print("| rule | jobs | mean s | total s |")
        print("|---|---|---|---|")
        for r, ts in sorted(per.items(), key=lambda kv: -sum(kv[1])):
            print(f"| {r} | {len(ts)} | {np.mean(ts):.1f} | {sum(ts):.0f} |")


def cmd_predict(a: argparse.Namespace) -> None:
    """Predicted stand-alone wall time of a whole study on `--cores` cores, one thread per job:
    data half + (training + evaluation + fixed per-job costs, packed on the cores) + collect, fit,
    allocate and figures. Per-run FLOPs come from `codescale plan --out` (the plan's own closed
    form); the rates and fixed costs are the pilots' measurements (--rate SIZE=GFLOP/s, others
    given as options), so the prediction is only as good as those numbers (see RESULTS.md)."""
    import csv
    import tempfile

    import yaml

    from codescale.model import presets

    cfg = yaml.safe_load(Path(a.config).read_text())
    vocab = cfg["tokenizer"]["vocab_size"]
    seq = cfg["train"]["seq_len"]
    val_tokens = cfg["train"].get("max_val_tokens", 65536)
    eval_tokens = cfg.get("evaluate", {}).get("max_tokens_per_language", 131072)
    langs = len(cfg["languages"])
    rates = {k: float(v) for k, v in (x.split("=") for x in a.rate)}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [str(BIN / "codescale"), "plan", "--config", a.config, "--out", f"{tmp}/plan.csv"],
            check=True,
            capture_output=True,
        )
        with open(f"{tmp}/plan.csv") as fh:
            rows = list(csv.DictReader(fh))
    jobs, per_study = [], {}
    for r in rows:
        size = r["size"]
        gf = rates.get(size, a.default_rate)
        train_s = float(r["flops"]) / (gf * 1e9)
        fwd = presets.flops_per_token(size, vocab, seq) / 3  # forward only
        scored = langs * (val_tokens + min(eval_tokens, a.test_tokens))
        eval_s = scored * fwd / (gf * 1e9)
        job = train_s + eval_s + a.train_fixed_s + a.eval_fixed_s
        jobs.append(job)
        st = per_study.setdefault(r["study"], [0, 0.0, 0.0, 0.0])
        st[0] += 1
        st[1] += train_s
        st[2] += eval_s
        st[3] += job
    run_wall = sum(jobs) / a.cores + max(jobs) * (1 - 1 / a.cores)
    total = a.data_s + run_wall + a.fit_s
    print(
        f"{a.config}: {len(rows)} runs on {a.cores} cores (rates GFLOP/s {rates}, "
        f"default {a.default_rate}; fixed s per run: train {a.train_fixed_s}, "
        f"evaluate {a.eval_fixed_s})"
    )
    print("| study | runs | training core-s | evaluation core-s | with fixed costs core-s |")
    print("|---|---|---|---|---|")
    for k, (n, t, e, j) in per_study.items():
        print(f"| {k} | {n} | {t:.0f} | {e:.0f} | {j:.0f} |")
    print(
        f"data half {a.data_s:.0f} s + runs {run_wall:.0f} s + collect/fit/allocate/figures "
        f"{a.fit_s:.0f} s = {total:.0f} s = {total / 60:.1f} min"
    )


def cmd_check(a: argparse.Namespace) -> None:
    """The design's criterion on the pilots (seed 0, one lr and batch): per language, test loss at
    the largest budget for each size (must fall with every size step) and at the largest size
    for each budget (must fall with every budget step)."""
    from codescale.model import presets

    sizes = sorted(a.sizes, key=presets.n_params)
    budgets = sorted(count(t) for t in a.tokens)
    recs = {
        (r["lang"], r["size"], r["tokens"]): r
        for r in load_all(a.out)
        if r["name"].startswith(a.tag + "/")
        and r["seed"] == 0
        and r["lr"] == a.lr[0]
        and r["batch"] == a.batch[0]
    }
    head = [f"{s}/{short(budgets[-1])}" for s in sizes]
    head += [f"{sizes[-1]}/{short(t)}" for t in budgets[:-1]]
    print("| language | " + " | ".join(head) + " | falls with N | falls with D |")
    print("|---|" + "---|" * (len(head) + 2))
    for lang in a.langs:
        by_n = [recs.get((lang, s, budgets[-1])) for s in sizes]
        by_d = [recs.get((lang, sizes[-1], t)) for t in budgets]
        cells = [f"{test_loss(r):.4f}" if r else "-" for r in by_n + by_d[:-1]]

        def falls(rs: list) -> str:
            if any(r is None for r in rs):
                return "pending"
            ls = [test_loss(r) for r in rs]
            return "yes" if all(x > y for x, y in zip(ls, ls[1:], strict=False)) else "NO"

        print(f"| {lang} | " + " | ".join(cells) + f" | {falls(by_n)} | {falls(by_d)} |")


def cmd_fit(a: argparse.Namespace) -> None:
    """The study's per-language law (codescale.laws.chinchilla.analyse, as `codescale fit` runs
    it) on the pilots: per language, the runs of --sizes x --tokens at seed 0, --batch, and each
    size's LR (--size-lr SIZE=LR; default --lr for all). Prints alpha_N and beta with their 95%
    intervals, the fit's status, and the extrapolation from the smaller half of N to the largest
    size (relative error of the predicted loss at the largest budget)."""
    from codescale.laws import chinchilla

    lrs = {s: a.lr[0] for s in a.sizes} | {
        k: float(v) for k, v in (item.split("=") for item in a.size_lr)
    }
    budgets = {count(t) for t in a.tokens}
    recs = [
        r
        for r in load_all(a.out)
        if (not a.tag or r["name"].startswith(a.tag + "/"))
        and r["size"] in lrs
        and abs(r["lr"] - lrs[r["size"]]) < 1e-12
        and r["tokens"] in budgets
        and r["seed"] == 0
        and r["batch"] == a.batch[0]
    ]
    print(
        "| language | runs | alpha_N [95%] | beta [95%] | status | extrapolation to the largest N |"
    )
    print("|---|---|---|---|---|---|")
    for lang in a.langs:
        mine = [{**r, "test_loss": test_loss(r)} for r in recs if r["lang"] == lang]
        if len(mine) < len(lrs) * len(budgets):
            print(f"| {lang} | {len(mine)} | pending | | | |")
            continue
        N, D, L = (np.array([r[k] for r in mine], float) for k in ("N", "tokens", "test_loss"))
        out = chinchilla.analyse(N, D, L, n_bootstrap=a.bootstrap)
        p, ci, ex = out["params"], out["ci"], out["extrapolation"]
        cells = {
            k: f"{p[k]:.2f} [{ci[k][0]:.2f}, {ci[k][1]:.2f}]"
            if ci[k][0] is not None
            else f"{p[k]:.2f}"
            for k in ("alpha", "beta")
        }
        extra = (
            f"{ex['rel_error']:+.1%} (fit on N <= {ex['fit_N_max']:g})"
            if "rel_error" in ex
            else ex.get("error", "")
        )
        print(
            f"| {lang} | {len(mine)} | {cells['alpha']} | {cells['beta']} | {out['status']} "
            f"| {extra} |"
        )


def cmd_table(a: argparse.Namespace) -> None:
    recs = [r for r in load_all(a.out) if (not a.tag or r["name"].startswith(a.tag + "/"))]
    print_grid(recs)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "command",
        choices=[
            "data",
            "throughput",
            "speed",
            "grid",
            "noise",
            "table",
            "smklog",
            "predict",
            "check",
            "fit",
        ],
    )
    p.add_argument("--tokens-dir", default=str(ROOT / "results" / "tokens"))
    p.add_argument("--out", default=str(ROOT / "results" / "pilots" / "runs"))
    p.add_argument("--tag", default="", help="data-half label in run names (e.g. v1024)")
    p.add_argument("--langs", nargs="+", default=list(LANGS))
    p.add_argument("--sizes", nargs="+", default=["5K", "20K"])
    p.add_argument("--tokens", nargs="+", default=["200K"])
    p.add_argument(
        "--lr",
        nargs="+",
        type=float,
        default=[0.01],
        help="peak LR; 0 = the trainer's default from N (OLMo ladder)",
    )
    p.add_argument("--batch", nargs="+", type=int, default=[8])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--threads", nargs="+", type=int, default=[1])
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--shapes", nargs="*", default=[], help="speed: extra d_model x layers")
    p.add_argument("--logs", nargs="*", default=[], help="smklog: Snakemake log files")
    p.add_argument("--config", default=str(ROOT / "config" / "config.yaml"), help="predict")
    p.add_argument("--cores", type=int, default=2, help="predict: cores of the machine")
    p.add_argument("--rate", nargs="*", default=[], help="predict: SIZE=GFLOP/s per job")
    p.add_argument("--default-rate", type=float, default=4.0, help="predict: other sizes")
    p.add_argument("--train-fixed-s", type=float, default=8.0, help="predict: per train job")
    p.add_argument("--eval-fixed-s", type=float, default=4.0, help="predict: per evaluate job")
    p.add_argument("--test-tokens", type=int, default=70000, help="predict: test split/lang")
    p.add_argument("--data-s", type=float, default=120.0, help="predict: data half wall s")
    p.add_argument("--fit-s", type=float, default=90.0, help="predict: collect+fit+figures s")
    p.add_argument("--vocab", type=int, default=2048, help="speed: vocabulary size")
    p.add_argument("--steps", type=int, default=20, help="speed: timed steps per repeat")
    p.add_argument("--repeats", type=int, default=3, help="speed: best of this many")
    p.add_argument("--size-lr", nargs="*", default=[], help="fit: SIZE=LR, each size's LR")
    p.add_argument("--bootstrap", type=int, default=200, help="fit: bootstrap resamples")
    a = p.parse_args(argv)
    {
        "data": cmd_data,
        "throughput": cmd_throughput,
        "grid": cmd_grid,
        "noise": cmd_noise,
        "table": cmd_table,
        "speed": cmd_speed,
        "smklog": cmd_smklog,
        "predict": cmd_predict,
        "check": cmd_check,
        "fit": cmd_fit,
    }[a.command](a)


if __name__ == "__main__":
    main()
