"""The default study's criteria (issue 11), read from a finished study's results: one table each.

    python benchmarks/default_study.py [--results results] [--core-peak 90]

Reads what the workflow wrote (results/collect/runs.parquet, results/fits/*.json, the runs'
metrics.json) and trains nothing, so it can be rerun on any finished study. Prints, as Markdown:

1. per language, the own-language test loss at the largest budget for each size (must fall with
   every size step) and at the largest size for each budget (must fall with every budget step);
2. the fitted alpha_N and beta with their 95% intervals (must exclude 0) and any parameter on a
   bound (the fit's own status);
3. the law refitted on the smaller sizes and its relative error at the largest size (target 5%);
4. the synergy table's sign pattern against the paper's Table 1 where the paper's relative gain is
   large (|gain| >= --large, default 1%);
5. the allocation advice with its interval and the measured advised-vs-uniform difference with its
   seed noise (codescale.report.allocation.allocation_comparison);
6. the trainer's achieved FLOP rate per job (FLOPs / wall s of each run's training loop, one
   thread per job) against one core's fp32 matmul peak (--core-peak GFLOP/s, issue 11: ~90 here).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import polars as pl

from codescale import LANGUAGES
from codescale.laws.mixture_law import EXP_BOUNDS
from codescale.model import presets
from codescale.report import allocation as report_allocation
from codescale.report import inputs, per_language, reference


def losses(df: pl.DataFrame) -> dict[tuple[str, str, int], float]:
    """(lang, size, D) -> own-language test loss of the mono runs (nats/token)."""
    pts = per_language.mono_points(df)
    return {(r["lang"], r["size"], int(r["D"])): r["loss"] for r in pts.iter_rows(named=True)}


def monotone(loss: dict[tuple[str, str, int], float]) -> None:
    sizes = sorted({s for _, s, _ in loss}, key=presets.n_params)
    budgets = sorted({d for *_, d in loss})
    head = [f"{s}, D={budgets[-1]:,}" for s in sizes] + [f"{sizes[-1]}, D={d:,}" for d in budgets]
    print("| language | " + " | ".join(head) + " | falls with N | falls with D |")
    print("|---|" + "---|" * (len(head) + 2))
    ok = True
    for lang in LANGUAGES:
        by_n = [loss.get((lang, s, budgets[-1])) for s in sizes]
        by_d = [loss.get((lang, sizes[-1], d)) for d in budgets]
        if any(v is None for v in by_n + by_d):
            continue
        fn = all(a > b for a, b in zip(by_n, by_n[1:], strict=False))
        fd = all(a > b for a, b in zip(by_d, by_d[1:], strict=False))
        ok &= fn and fd
        cells = " | ".join(f"{v:.4f}" for v in by_n + by_d)
        print(f"| {lang} | {cells} | {'yes' if fn else 'NO'} | {'yes' if fd else 'NO'} |")
    verdict = "met" if ok else "NOT met"
    print(f"\nCriterion 1 (loss falls with every size and budget step): {verdict}")


def exponents(fit: dict) -> None:
    print("| language | alpha_N [95%] | beta [95%] | excludes 0 | status | extrapolation to the "
          "largest N: predicted / observed, rel. error |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    n_ok = n_ext = n = 0
    for lang in LANGUAGES:
        e = (fit.get("languages") or {}).get(lang)
        if not isinstance(e, dict) or "error" in e:
            print(f"| {lang} | - | - | - | {e.get('error') if e else 'absent'} | - |")
            continue
        n += 1
        p, ci = e["params"], e["ci"]
        # the exponents' lower bound is EXP_BOUNDS[0] > 0: an interval reaching it does not
        # exclude 0 in any meaningful sense
        low = EXP_BOUNDS[0] * 1.01
        excl = all(
            (ci.get(k) or [None])[0] is not None and ci[k][0] > low for k in ("alpha", "beta")
        )
        n_ok += excl and e.get("converged", False)
        x = e.get("extrapolation") or {}
        if "rel_error" in x:
            n_ext += abs(x["rel_error"]) <= 0.05
            ext = f"{x['predicted']:.4f} / {x['observed']:.4f}, {x['rel_error']:+.2%}"
        else:
            ext = x.get("error", "-")
        print(
            f"| {lang} | {p['alpha']:.3f} [{ci['alpha'][0]:.3f}, {ci['alpha'][1]:.3f}] | "
            f"{p['beta']:.3f} [{ci['beta'][0]:.3f}, {ci['beta'][1]:.3f}] | "
            f"{'yes' if excl else 'NO'} | {e.get('status')} | {ext} |"
        )
    print(
        f"\nCriterion 2 (intervals exclude 0, nothing on a bound): {n_ok} of {n} languages. "
        f"Criterion 3 (largest size predicted within 5%): {n_ext} of {n}."
    )


def synergy(fit: dict, large: float) -> None:
    if "error" in fit or "languages" not in fit:
        print(f"synergy.json: {fit.get('error', 'no languages')}")
        return
    langs = list(fit["languages"])
    ours = np.asarray(fit["relative_gain"], float)
    _, paper = reference.synergy_gain()
    agree, total, rows = 0, 0, []
    for i, t in enumerate(langs):
        for j, a in enumerate(langs):
            if i == j or paper.get(t, {}).get(a) is None:
                continue
            pg = paper[t][a]
            if abs(pg) < large:
                continue
            total += 1
            same = np.sign(ours[i, j]) == np.sign(pg)
            agree += bool(same)
            rows.append((t, a, pg, ours[i, j], same))
    print("| target | auxiliary | paper relative gain | ours | same sign |\n|---|---|---|---|---|")
    for t, a, pg, og, same in rows:
        print(f"| {t} | {a} | {pg:+.2%} | {og:+.2%} | {'yes' if same else 'no'} |")
    pos = int((ours[~np.eye(len(langs), dtype=bool)] > 0).sum())
    print(
        f"\nCriterion 4: signs agree in {agree} of {total} cells where the paper's |relative gain| "
        f">= {large:.0%}; {pos} of {len(langs) * (len(langs) - 1)} of our off-diagonal cells are "
        "positive (the auxiliary language helps)."
    )


def allocation(df: pl.DataFrame, alloc: dict) -> None:
    advice = alloc.get("advice") or {}
    cmp = report_allocation.allocation_comparison(report_allocation.allocation_losses(df), advice)
    ci = advice.get("proportions_ci") or {}
    props = alloc.get("proportions") or {}
    print("| language | advised share | 95% interval | law optimum |\n|---|---|---|---|")
    for lang, p in props.items():
        lo, hi = ci.get(lang, [None, None])
        opt = (alloc.get("law_optimum") or {}).get(lang)
        print(f"| {lang} | {p:.3f} | [{lo:.3f}, {hi:.3f}] | {opt:.3f} |")
    gain_ci = advice.get("gain_ci") or [float("nan")] * 2
    print(
        f"\nAdvice: {advice.get('status')} (predicted gain {advice.get('gain', float('nan')):+.4f} "
        f"nats/token, 95% [{gain_ci[0]:+.4f}, {gain_ci[1]:+.4f}]): {advice.get('reason')}"
    )
    for kind in ("uniform", "optimised"):
        if kind in cmp:
            seeds = ", ".join(f"{v:.4f}" for v in cmp[kind]["seed_means"])
            print(f"- measured {kind}: mean {cmp[kind]['mean']:.4f} (per seed {seeds})")
    print(f"\nCriterion 5: {cmp['verdict']}")


def throughput(results: Path, peak: float) -> None:
    rates: dict[str, list[float]] = {}
    for path in results.glob("runs/*/*/*/metrics.json"):
        m = json.loads(path.read_text())
        if m.get("wall_time_s"):
            size = json.loads(path.with_name("config.json").read_text())["size"]
            rates.setdefault(size, []).append(m["flops"] / m["wall_time_s"] / 1e9)
    print("| size | runs | GFLOP/s per job (median, min-max) | fraction of one core's peak |")
    print("|---|---|---|---|")
    for size in sorted(rates, key=presets.n_params):
        r = np.asarray(rates[size])
        print(
            f"| {size} | {r.size} | {np.median(r):.1f} ({r.min():.1f}-{r.max():.1f}) | "
            f"{np.median(r) / peak:.0%} |"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--large", type=float, default=0.01, help="paper |relative gain| threshold")
    p.add_argument("--core-peak", type=float, default=90.0, help="GFLOP/s of one core (fp32)")
    a = p.parse_args()
    df = inputs.load_table(a.results / "collect" / "runs.parquet")
    fits = {k: inputs.load_fit(a.results / "fits" / f"{k}.json") for k in
            ("per_language", "synergy", "allocation")}  # fmt: skip
    print("## 1. Loss per size and budget (own-language test loss, nats/token)\n")
    monotone(losses(df))
    print("\n## 2-3. Fitted exponents and extrapolation\n")
    exponents(fits["per_language"])
    print("\n## 4. Synergy sign pattern\n")
    synergy(fits["synergy"], a.large)
    print("\n## 5. Allocation\n")
    allocation(df, fits["allocation"])
    print("\n## 6. Trainer throughput\n")
    throughput(a.results, a.core_peak)


if __name__ == "__main__":
    main()
