"""Per-language scaling exponents from WSD cooldown branches vs separate cosine runs (issue 11).

For each (language, size) of a small grid, trains every budget twice with the real `codescale`
commands: (a) one cosine run per budget, as `train.schedule: cosine` does, and (b) one stable run
(`--branch`) plus one cooldown per budget (`--init-from`), as `train.schedule: wsd` does; scores
every run with `codescale evaluate` on the test split, collects each design with `codescale
collect`, and fits L(N, D) = E + A/N^alpha + B/D^beta per language with the study's fitter
(codescale.laws.chinchilla.analyse: Huber fit, bootstrap 95% intervals). Prints a markdown table
(exponents with intervals, R^2, tokens trained, wall time) and writes everything to --out.

    OMP_NUM_THREADS=1 python benchmarks/wsd_branches.py --shards DIR --out /tmp/wsd \\
        --languages python rust --sizes 2K 5K 20K --budgets 100K 200K 400K

DIR holds tokenizer.json and LANG/{train,validation,test}.{bin,idx.npy,json} (the default study's
results/tokens and results/tokenizer). Training settings are the default study's (seq_len 128,
batch 8 sequences, lr 0.01, warmup 5%, cooldown 20%).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from codescale.io import write_json
from codescale.train.mixture import build_plan, parse_count


def sh(args: list[str], log: Path) -> float:
    """Run `codescale ARGS` in this process (one torch import for the whole grid; runs are
    sequential: the trainer sets global RNG and thread state), its log records to `log`;
    seconds taken."""
    from codescale.cli import main as cli

    handler = logging.FileHandler(log, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    t0 = time.perf_counter()
    try:
        rc = cli(args)
    finally:
        root.removeHandler(handler)
        handler.close()
    if rc:
        raise SystemExit(f"codescale {args[0]} failed ({rc}): see {log}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--languages", nargs="+", default=["python", "rust"])
    ap.add_argument("--sizes", nargs="+", default=["2K", "5K", "20K"])
    ap.add_argument("--budgets", nargs="+", default=["100K", "200K", "400K"])
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--warmup-fraction", type=float, default=0.05)
    ap.add_argument("--cooldown-fraction", type=float, default=0.2)
    ap.add_argument("--max-val-tokens", type=int, default=4096)
    ap.add_argument("--eval-tokens", type=int, default=16384, help="test tokens per language")
    ap.add_argument("--bootstrap", type=int, default=200)
    args = ap.parse_args()
    # the commands' log records go to one file per command (sh); nothing to the console
    logging.getLogger().addHandler(logging.NullHandler())
    logging.getLogger().setLevel(logging.INFO)

    from codescale.study import Run, fmt_count

    budgets = sorted(parse_count(b, "--budgets") for b in args.budgets)
    out: Path = args.out
    val = [f"{lang}={args.shards / lang / 'validation'}" for lang in args.languages]
    test = [f"{lang}={args.shards / lang / 'test'}" for lang in args.languages]
    common = [
        "--val", *val, "--batch-size", str(args.batch_size),
        "--lr", str(args.lr), "--max-val-tokens", str(args.max_val_tokens), "--threads", "1",
        "--accelerator", "cpu", "--devices", "1", "--checkpoint-every", "0",
        "--log-every", "10",
    ]  # fmt: skip

    def mixture(design: str, name: str, size: str, lang: str, tokens: int, spec: dict) -> Path:
        path = out / design / "runs" / name / "mixture.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        src = [{"name": lang, "prefix": str(args.shards / lang / "train"), "weight": 1.0}]
        write_json(path, build_plan(name, src, tokens, 0, args.seq_len, spec, size=size))
        return path

    def evaluate(design: str, name: str) -> float:
        run_dir = out / design / "runs" / name
        dest = out / design / "eval" / f"{name}.json"
        dest.parent.mkdir(parents=True, exist_ok=True)
        return sh(
            ["evaluate", "--run-dir", str(run_dir),
             "--tokenizer", str(args.shards / "tokenizer.json"), "--test", *test,
             "--max-tokens-per-language", str(args.eval_tokens), "--out", str(dest)],
            out / design / "logs" / f"{name.replace('/', '_')}.eval.log",
        )  # fmt: skip

    def cell(design: str, lang: str, size: str) -> dict:
        """Train + evaluate every budget of one (language, size); returns seconds and tokens."""
        logs = out / design / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        runs = [
            Run(f"mono/{lang}/{size}_d{fmt_count(d)}", "mono", size, d, {lang: 1.0}, 0, target=lang)
            for d in budgets
        ]
        seconds = 0.0
        if design == "wsd":
            stable = f"mono/{lang}/{size}_stable"
            mix = mixture(design, stable, size, lang, budgets[-1], {"stable": stable})
            warm = str(round(args.warmup_fraction * budgets[0]))
            wsd = ["--schedule", "wsd", "--decay-fraction", str(args.cooldown_fraction),
                   "--warmup-tokens", warm]  # fmt: skip
            branch = {r.name: out / design / "branches" / r.name for r in runs}
            seconds += sh(
                ["train", "--mixture", str(mix), *common, *wsd,
                 "--out-dir", str(out / design / "stable" / stable),
                 "--checkpoint-dir", str(out / design / "ckpt" / stable),
                 "--branch", *(f"{r.tokens}={branch[r.name]}" for r in runs)],
                logs / f"{stable.replace('/', '_')}.log",
            )  # fmt: skip
        for r in runs:
            mix = mixture(design, r.name, size, lang, r.tokens, r.to_dict())
            extra = (
                [*wsd, "--init-from", str(branch[r.name])]
                if design == "wsd"
                else ["--warmup-fraction", str(args.warmup_fraction)]
            )
            seconds += sh(
                ["train", "--mixture", str(mix), *common, *extra,
                 "--out-dir", str(out / design / "runs" / r.name),
                 "--checkpoint-dir", str(out / design / "ckpt" / r.name)],
                logs / f"{r.name.replace('/', '_')}.log",
            )  # fmt: skip
            evaluate(design, r.name)
        trained = 0
        for r in runs:
            m = json.loads((out / design / "runs" / r.name / "metrics.json").read_text())
            start = m["branch"]["step"] if m.get("branch") else 0
            trained += (m["steps"] - start) * args.batch_size * args.seq_len
        if design == "wsd":
            trained += json.loads((out / design / "stable" / stable / "metrics.json").read_text())[
                "tokens"
            ]
        return {"seconds": seconds, "tokens": trained}

    # both designs of one cell after each other (a partial run compares like with like)
    jobs = [(d, lang, s) for lang in args.languages for s in args.sizes for d in ("cosine", "wsd")]
    done = [cell(*job) for job in jobs]
    cost: dict[str, dict[str, float]] = {}
    for (design, _, _), c in zip(jobs, done, strict=True):
        agg = cost.setdefault(design, {"seconds": 0.0, "tokens": 0})
        agg["seconds"] += c["seconds"]
        agg["tokens"] += c["tokens"]

    import polars as pl

    from codescale.laws import chinchilla

    fits: dict[str, dict] = {}
    for design in ("cosine", "wsd"):
        names = sorted(
            str(p.parent.relative_to(out / design / "runs"))
            for p in (out / design / "runs").rglob("metrics.json")
        )
        table = out / design / "runs.parquet"
        sh(
            ["collect", "--run", *(str(out / design / "runs" / n) for n in names),
             "--eval", *(str(out / design / "eval" / f"{n}.json") for n in names),
             "--out", str(table)],
            out / design / "logs" / "collect.log",
        )  # fmt: skip
        frame = pl.read_parquet(table)
        fits[design] = {}
        for lang in args.languages:
            N, D, L = chinchilla.mono_points(frame, lang)
            fits[design][lang] = chinchilla.analyse(N, D, L, args.bootstrap, 0, where=lang)
    write_json(out / "summary.json", {"args": vars(args) | {"shards": str(args.shards),
                                                             "out": str(out)},
                                      "cost": cost, "fits": fits})  # fmt: skip

    def cell_text(fit: dict, key: str) -> str:
        lo, hi = fit["ci"][key]
        ci = f" [{lo:.3g}, {hi:.3g}]" if lo is not None else ""
        return f"{fit['params'][key]:.3g}{ci}"

    print("| language | design | alpha_N [95% CI] | beta [95% CI] | E | R^2 (log) | status |")
    print("|---|---|---|---|---|---|---|")
    for lang in args.languages:
        for design in ("cosine", "wsd"):
            f = fits[design][lang]
            print(
                f"| {lang} | {design} | {cell_text(f, 'alpha')} | {cell_text(f, 'beta')} | "
                f"{f['params']['E']:.3g} | {f['r2_log']:.3f} | {f['status']} |"
            )
    print()
    for design, c in cost.items():
        print(f"{design}: {c['tokens']:,} tokens trained, {c['seconds']:.0f} s of train/eval jobs")
    print()
    print("| run | cosine test loss | wsd test loss |")
    print("|---|---|---|")
    for lang in args.languages:
        pts = {d: {(n, dd): lv for n, dd, lv in fits[d][lang]["points"]} for d in fits}
        for key in sorted(pts["cosine"]):
            print(f"| {lang} N={key[0]:.0f} D={key[1]:.0f} | {pts['cosine'][key]:.4f} | "
                  f"{pts['wsd'].get(key, float('nan')):.4f} |")  # fmt: skip


if __name__ == "__main__":
    main()
