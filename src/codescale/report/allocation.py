"""Token allocation (the allocation study): Figure 5 (the proportions advised by the mixture law
and its predicted losses, from allocation.json), Figure 6 (measured uniform vs optimised runs,
predicted vs measured) and the allocation_measured table (Figure 6's measurement with its seed
noise and verdict).
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
import polars as pl
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from codescale.report import reference, style
from codescale.report.inputs import error_of, largest_run, ordered
from codescale.report.registry import figure, tables
from codescale.report.style import LOSS_LABEL
from codescale.report.tables import Table, fmt, reference_name

# ---------------------------------------------------------------------------------------------
# selections from the collected table


def allocation_losses(df: pl.DataFrame) -> dict[str, list[tuple[str, dict[str, float]]]]:
    """Measured validation loss per language of each seed's run of each kind, at the largest
    allocation (N, D): {uniform|optimised: [(run, {lang: loss}), ...]} in seed order."""
    alloc = df.filter((pl.col("study") == "allocation") & (pl.col("metric") == "val_loss"))
    alloc = alloc.filter(pl.col("lang").is_not_null())
    out: dict[str, list[tuple[str, dict[str, float]]]] = {}
    for kind in ("uniform", "optimised"):
        sub = alloc.filter(pl.col("run").str.starts_with(f"allocation/{kind}/"))
        top = largest_run(sub)
        if top is None:
            continue
        sub = sub.join(sub.filter(pl.col("run") == top).select("N", "D").unique(), on=["N", "D"])
        runs = sub.select("run", "seed").unique().sort("seed", "run")["run"].to_list()
        out[kind] = [
            (
                run,
                {
                    r["lang"]: r["value"]
                    for r in sub.filter(pl.col("run") == run).iter_rows(named=True)
                },
            )
            for run in runs
        ]
    return out


def allocation_comparison(
    measured: dict[str, list[tuple[str, dict[str, float]]]], advice: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The measured mean loss (nats/token, mean over languages) of the advised mixture vs the
    uniform one, each over its seeds, and the difference's noise.

    The noise is the seed-to-seed spread: the pooled standard deviation s of the per-seed mean
    losses of the two kinds, so the difference's standard error is s sqrt(1/n_u + 1/n_o); it needs
    >= 2 seeds of a kind (studies.allocation.seeds). The verdict says in words whether the advised
    mixture measured better than uniform by more than 2 standard errors, worse by more than 2, or
    neither; a law that advised staying uniform is reported as such (no "optimised" claim).
    Returns {kind: {"runs", "seed_means", "mean"}, "difference", "se", "verdict"}.
    """
    langs = (
        set.intersection(*(set(m) for runs in measured.values() for _, m in runs))
        if measured
        else set()
    )
    out: dict[str, Any] = {}
    for kind, runs in measured.items():
        seed_means = [float(np.mean([m[lang] for lang in sorted(langs)])) for _, m in runs]
        out[kind] = {
            "runs": [r for r, _ in runs],
            "seed_means": seed_means,
            "mean": float(np.mean(seed_means)),
        }
    status = (advice or {}).get("status")
    out["difference"] = out["se"] = None
    if status == "uniform" and "uniform" in out and "optimised" not in out:
        return _advised_uniform(out)
    if "uniform" not in out or "optimised" not in out:
        out["verdict"] = "not measured: the study lacks the uniform or the optimised run"
        return out
    u, o = out["uniform"]["seed_means"], out["optimised"]["seed_means"]
    diff = out["optimised"]["mean"] - out["uniform"]["mean"]
    out["difference"] = diff
    dof = len(u) + len(o) - 2
    if min(len(u), len(o)) >= 2:
        pooled = math.sqrt(
            (np.var(u, ddof=1) * (len(u) - 1) + np.var(o, ddof=1) * (len(o) - 1)) / dof
        )
        out["se"] = pooled * math.sqrt(1 / len(u) + 1 / len(o))
    se = out["se"]
    if status is not None and status != "optimised":
        head = (
            f"the law advised keeping the {status} mixture, so the 'optimised' run trains that "
            "mixture: no optimised allocation is claimed"
        )
    elif se is None:
        head = (
            "one seed per kind: the difference's noise is unknown "
            "(set studies.allocation.seeds >= 2)"
        )
    elif diff < -2 * se:
        head = "the advised mixture measured better than uniform by more than 2 standard errors"
    elif diff > 2 * se:
        head = (
            "the advised mixture measured WORSE than uniform by more than 2 standard errors: "
            "the law's advice is not reliable at this scale"
        )
    else:
        head = "no difference beyond 2 standard errors between the advised mixture and uniform"
    noise = f" +- {se:.4f} (1 s.e., {dof} dof)" if se is not None else ""
    out["verdict"] = f"{head}; optimised - uniform = {diff:+.4f} nats/token{noise}"
    return out


def _advised_uniform(out: dict[str, Any]) -> dict[str, Any]:
    """The law advised uniform, so the workflow trained no optimised runs (they would repeat the
    uniform runs exactly: workflow/rules/train_helpers.smk, advised_runs): the advised mixture is
    measured by the uniform runs, the difference is 0 by identity, and `se` is the noise a
    difference between two mixtures measured with as many seeds would have,
    s sqrt(2 / n) with s the uniform seeds' standard deviation (None with one seed)."""
    u = out["uniform"]["seed_means"]
    out["difference"] = 0.0
    noise = "one seed: the noise of a difference is unknown (set studies.allocation.seeds >= 2)"
    if len(u) >= 2:
        out["se"] = float(np.std(u, ddof=1)) * math.sqrt(2 / len(u))
        noise = (
            f"a difference between two mixtures measured with {len(u)} seeds each has noise "
            f"+- {out['se']:.4f} nats/token (1 s.e.)"
        )
    out["verdict"] = (
        "the law advised keeping the uniform mixture, so the advised mixture is the uniform one "
        "and no optimised allocation is claimed; its runs were not trained (they would repeat the "
        f"uniform runs exactly); uniform measured {out['uniform']['mean']:.4f} nats/token over "
        f"{len(u)} seed{'s' if len(u) > 1 else ''}; {noise}"
    )
    return out


# ---------------------------------------------------------------------------------------------
# Figure 5: the optimised allocation


def _proportions(obj: Any) -> dict[str, float]:
    """{lang: p} normalised to sum 1 (the allocation file may store tokens or proportions)."""
    if not isinstance(obj, dict):
        return {}
    vals = {k: float(v) for k, v in obj.items() if isinstance(v, int | float)}
    total = sum(vals.values())
    return {k: v / total for k, v in vals.items()} if total > 0 else {}


@figure("fig5", needs=("allocation",))
def fig5(df: pl.DataFrame, fits: dict[str, dict[str, Any]]) -> tuple[Figure, list[str]]:
    """(a) token proportions uniform / natural / optimised per language; (b) change of the
    optimised share vs uniform, ours beside the paper's Figure 5(b); (c) predicted losses."""
    notes: list[str] = []
    alloc = fits["allocation"]
    fig, axes = plt.subplots(
        1, 3, figsize=(13, 4), gridspec_kw={"width_ratios": [1.6, 1.3, 0.8]}, layout="constrained"
    )
    err = error_of(alloc)
    if err:
        for ax in axes:
            style.blank(ax, f"allocation failed:\n{err[:80]}")
        fig.suptitle("Figure 5: optimised token allocation")
        return fig, [f"allocation error: {err}"]
    # the law's optimum (with the bootstrap interval of the draws' optima); the advice may differ
    props = {
        "uniform": _proportions(alloc.get("uniform")),
        "natural": _proportions(alloc.get("natural")),
        "optimised": _proportions(alloc.get("law_optimum") or alloc.get("proportions")),
    }
    advice = alloc.get("advice") if isinstance(alloc.get("advice"), dict) else {}
    p_ci = advice.get("proportions_ci") or {}
    langs = ordered(alloc.get("languages") or props["optimised"])
    x = np.arange(len(langs))
    width = 0.8 / 3
    ax = axes[0]
    for k, (kind, p) in enumerate(props.items()):
        if not p:
            notes.append(f"no {kind} proportions")
            continue
        heights = [p.get(lang, 0.0) for lang in langs]
        yerr = None
        if kind == "optimised" and all(p_ci.get(lang) for lang in langs):
            yerr = np.array(
                [[max(h - p_ci[lang][0], 0.0), max(p_ci[lang][1] - h, 0.0)]
                 for h, lang in zip(heights, langs, strict=True)]
            ).T  # fmt: skip
        ax.bar(
            x + (k - 1) * width,
            heights,
            width,
            color=style.ALLOCATION_COLORS[kind],
            label="law optimum (95% CI)" if kind == "optimised" and yerr is not None else kind,
            yerr=yerr,
            capsize=2 if yerr is not None else 0,
        )
    ax.set_xticks(x, [style.name(lang) for lang in langs])
    ax.set_ylabel("share of code tokens")
    title = "(a) token proportions"
    if alloc.get("N") and alloc.get("D"):
        title += (
            f" at N={style.fmt_count(float(alloc['N']))}, D={style.fmt_count(float(alloc['D']))}"
        )
    ax.set_title(title)
    ax.legend(frameon=False)

    ax = axes[1]
    uni, opt = props["uniform"], props["optimised"]
    paper = reference.allocation_experiment()
    paper_uniform = float(paper["uniform_tokens_per_language_B"])
    deltas = paper["delta_tokens_B"]
    ours = [
        100 * (opt.get(lang, 0) - uni[lang]) / uni[lang] if uni.get(lang) else math.nan
        for lang in langs
    ]
    ax.bar(x - 0.2, ours, 0.4, color=[style.color(lang) for lang in langs], label="ours")
    paper_vals = [
        100 * float(deltas[lang]) / paper_uniform if lang in deltas else math.nan for lang in langs
    ]
    ax.bar(x + 0.2, paper_vals, 0.4, label="paper Fig. 5(b)", **style.PAPER_STYLE)
    for xi, v in zip(x, paper_vals, strict=True):
        if np.isfinite(v):
            ax.annotate(
                f"+{float(deltas['python']):.2f}B\nof {paper_uniform:g}B",
                (xi + 0.2, v),
                ha="center",
                va="bottom",
                fontsize=6.5,
            )
    ax.axhline(0, color="#333333", lw=0.6)
    ax.set_xticks(x, [style.name(lang) for lang in langs])
    ax.set_ylabel("optimised vs uniform share (%)")
    ax.set_title("(b) change from uniform")
    unassigned = ", ".join(f"{float(v):+.2f}B" for v in deltas.get("unassigned", []))
    ax.text(
        0.02,
        0.02,
        f"paper, other languages (mapping uncertain):\n{unassigned}",
        transform=ax.transAxes,
        fontsize=6.5,
        va="bottom",
    )
    ax.legend(frameon=False, fontsize=7, loc="upper right")

    ax = axes[2]
    pred = alloc.get("predicted_loss") or {}
    kinds = [k for k in ("uniform", "natural", "optimised") if isinstance(pred.get(k), int | float)]
    if kinds:
        ax.bar(
            kinds,
            [float(pred[k]) for k in kinds],
            color=[style.ALLOCATION_COLORS[k] for k in kinds],
        )
        lo = min(float(pred[k]) for k in kinds)
        hi = max(float(pred[k]) for k in kinds)
        ax.set_ylim(lo - 0.6 * (hi - lo + 1e-3), hi + 0.4 * (hi - lo + 1e-3))
        gain = alloc.get("predicted_gain_vs_uniform")
        if isinstance(gain, int | float):
            ax.set_title(f"(c) predicted loss\n(gain vs uniform {gain:+.4f})")
        else:
            ax.set_title("(c) predicted loss")
        if advice:
            lo, hi = (advice.get("gain_ci") or [None, None])[:2]
            ci_txt = f"[{lo:+.3g}, {hi:+.3g}]" if lo is not None and hi is not None else "none"
            text = f"advice: {advice.get('status', '—')}\ncorrected gain 95% CI {ci_txt}"
            if advice.get("status") != "optimised":  # the first reason; all are in the notes
                first = str(advice.get("reason", "")).split("; ")[0]
                text += "\n" + textwrap.fill(textwrap.shorten(first, 160), 42)
            ax.text(0.02, 0.02, text, transform=ax.transAxes, fontsize=6, va="bottom",
                    bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "#999999"})  # fmt: skip
            notes.append(f"advice: {advice.get('status')}: {advice.get('reason')}")
    else:
        style.blank(ax, "no predicted losses")
        notes.append("no predicted losses")
    ax.set_ylabel("predicted mean loss (nats/token)")
    fig.suptitle("Figure 5: proportion-dependent law and the optimised allocation")
    return fig, notes


# ---------------------------------------------------------------------------------------------
# Figure 6: uniform vs optimised, measured


@figure("fig6", needs=("allocation", "mixture_law"))
def fig6(df: pl.DataFrame, fits: dict[str, dict[str, Any]]) -> tuple[Figure, list[str]]:
    """(a) measured per-language validation loss of the uniform and optimised allocation runs
    (and their mean); (b) the mixture law's predicted loss against the measured mean."""
    notes: list[str] = []
    fig, (ax, ax_pm) = plt.subplots(
        1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.7, 1]}, layout="constrained"
    )
    by_seed = allocation_losses(df)
    cmp = allocation_comparison(
        by_seed, None if error_of(fits["allocation"]) else fits["allocation"].get("advice")
    )
    colours = style.ALLOCATION_COLORS
    # per kind: {lang: mean over seeds}; error bars: the seeds' standard deviation (>= 2 seeds)
    measured = {
        kind: {lang: float(np.mean([m[lang] for _, m in runs])) for lang in runs[0][1]}
        for kind, runs in by_seed.items()
    }
    means: dict[str, float] = {k: cmp[k]["mean"] for k in measured}
    if not measured:
        style.blank(ax, "no allocation runs in the collected table")
        notes.append("no allocation runs")
    else:
        langs = ordered({lang for m in measured.values() for lang in m})
        cats = [*langs, "mean"]
        x = np.arange(len(cats))
        for k, kind in enumerate(("uniform", "optimised")):
            if kind not in measured:
                notes.append(f"no allocation/{kind} run")
                continue
            runs, m = by_seed[kind], measured[kind]
            vals = [m.get(lang, math.nan) for lang in langs] + [means[kind]]
            advised = " = advised" if kind == "uniform" and cmp["difference"] == 0.0 else ""
            label = f"{kind}{advised} ({len(runs)} seed{'s' if len(runs) > 1 else ''})"
            err = None
            if len(runs) > 1:
                err = [float(np.std([r[lang] for _, r in runs], ddof=1)) for lang in langs]
                err.append(float(np.std(cmp[kind]["seed_means"], ddof=1)))
            ax.bar(x + (k - 0.5) * 0.4, vals, 0.4, color=colours[kind], yerr=err, capsize=2,
                   label=label)  # fmt: skip
        ax.set_xticks(x, [style.name(c) if c != "mean" else "mean" for c in cats])
        for tick, lang in zip(ax.get_xticklabels(), langs, strict=False):
            tick.set_color(style.color(lang))
        ax.legend(frameon=False, fontsize=7)
        vals_all = [v for m in measured.values() for v in m.values()]
        lo, hi = min(vals_all), max(vals_all)
        ax.set_ylim(max(0.0, lo - 0.3 * (hi - lo + 1e-3)), hi + 0.25 * (hi - lo + 1e-3))
        notes.append(f"measured: {cmp['verdict']}")
    verdict = "" if not measured else "\n" + textwrap.fill(cmp["verdict"], 110)
    ax.set_ylabel(LOSS_LABEL)
    ax.set_title("(a) measured: uniform vs optimised allocation" + verdict, fontsize=8)
    paper = reference.allocation_experiment().get("fig6_average", {})
    if paper:
        ax.text(
            0.01,
            0.98,
            "paper Fig. 6 (1.5B, 400B tokens; not measured here):\n"
            f"avg pass@1 {paper['pass1_approx'][0]} → {paper['pass1_approx'][1]}, "
            f"BLEU {paper['bleu'][0]} → {paper['bleu'][1]}",
            transform=ax.transAxes,
            fontsize=6.5,
            va="top",
        )

    alloc = fits["allocation"]
    pred = {} if error_of(alloc) else dict(alloc.get("predicted_loss") or {})
    per_lang_pred = {} if error_of(alloc) else dict(alloc.get("per_language_loss") or {})
    # the optimised run trains on the ADVICE (allocation.json "proportions"): compare it with the
    # law's prediction for the advised mixture where the file has one
    if "advised" in pred:
        pred["optimised"] = pred["advised"]
    if "advised" in per_lang_pred:
        per_lang_pred["optimised"] = per_lang_pred["advised"]
    pairs = [
        (k, float(pred[k]), means[k])
        for k in ("uniform", "optimised")
        if isinstance(pred.get(k), int | float) and k in means
    ]
    markers = {"uniform": "o", "optimised": "s"}
    if pairs:
        xs, ys = [], []
        for kind, p, m in pairs:
            ax_pm.scatter(p, m, s=70, color=colours[kind], marker=markers[kind], zorder=4,
                          edgecolors="black", linewidths=0.6, label=f"{kind}, mean")  # fmt: skip
            xs.append(p)
            ys.append(m)
            # per-language points: the law's prediction for each language under this allocation
            measured_lang = measured[kind]
            for lang, v in (per_lang_pred.get(kind) or {}).items():
                if lang in measured_lang and isinstance(v, int | float):
                    ax_pm.scatter(float(v), measured_lang[lang], s=22, color=style.color(lang),
                                  marker=markers[kind], zorder=3, alpha=0.8)  # fmt: skip
                    xs.append(float(v))
                    ys.append(measured_lang[lang])
        lims = [min(xs + ys), max(xs + ys)]
        pad = 0.1 * (lims[1] - lims[0] + 1e-3)
        lims = [lims[0] - pad, lims[1] + pad]
        ax_pm.plot(lims, lims, color="#777777", lw=0.8, ls="--", label="y = x")
        ax_pm.set_xlim(lims)
        ax_pm.set_ylim(lims)
        ax_pm.legend(frameon=False, fontsize=7, loc="lower right")
    else:
        why = error_of(alloc) or "no predicted loss or no measured run to compare"
        style.blank(ax_pm, f"predicted vs measured unavailable:\n{why[:80]}")
        notes.append(f"predicted vs measured: {why}")
    mix = fits["mixture_law"]
    val = {} if error_of(mix) else (mix.get("validation") or {})
    if val:
        ax_pm.text(
            0.02,
            0.98,
            "mixture-law validation: "
            f"rel. error {fmt_num(val.get('rel_error_mean'))}, "
            f"Spearman ρ {fmt_num(val.get('spearman_rho'))}, n={val.get('n', '—')}",
            transform=ax_pm.transAxes,
            fontsize=6.5,
            va="top",
        )
    ax_pm.set_xlabel("predicted loss, mixture law (nats/token)")
    ax_pm.set_ylabel("measured validation loss (nats/token)")
    ax_pm.set_title("(b) predicted vs measured")
    fig.suptitle("Figure 6: uniform vs optimised allocation")
    return fig, notes


def fmt_num(v: Any) -> str:
    return f"{float(v):.3g}" if isinstance(v, int | float) else "—"


# ---------------------------------------------------------------------------------------------
# the allocation_measured table


def allocation_table(df: pl.DataFrame, allocation: dict[str, Any]) -> Table:
    """Figure 6's measurement as a table: each seed's run of each kind, its mean validation loss,
    and the difference advised - uniform with its seed noise and verdict."""
    advice = None if error_of(allocation) else allocation.get("advice")
    cmp = allocation_comparison(allocation_losses(df), advice)
    rows = [
        {"kind": kind, "run": run, "mean_val_loss": loss}
        for kind in ("uniform", "optimised")
        for run, loss in zip(
            cmp.get(kind, {}).get("runs", []), cmp.get(kind, {}).get("seed_means", []), strict=True
        )
    ]
    notes = [
        "mean_val_loss: the collected table's val_loss (test split, nats/token), averaged over "
        "the languages every run was scored on; one row per training seed "
        "(studies.allocation.seeds).",
        f"Verdict: {cmp['verdict']}.",
    ]
    if advice and advice.get("reason"):
        notes.append(f"Why the advice is {advice.get('status')}: {advice['reason']}.")
    proportions = None if error_of(allocation) else allocation.get("proportions")
    if proportions:
        ci = (advice or {}).get("proportions_ci") or {}
        notes.append(
            f"Advice ({(advice or {}).get('status', '—')}), proportions with their 95% interval "
            "over the law's bootstrap: "
            + ", ".join(
                f"{reference_name(lang)} {fmt(p, 3)}"
                + (f" [{fmt(ci[lang][0], 2)}, {fmt(ci[lang][1], 2)}]" if lang in ci else "")
                for lang, p in proportions.items()
            )
        )
    warn = [cmp["verdict"]] if "WORSE" in cmp["verdict"] or cmp["se"] is None else []
    return Table(
        "allocation_measured",
        "Figure 6 measured: advised vs uniform allocation",
        ["kind", "run", "mean_val_loss"],
        rows,
        notes,
        None,
        warn,
    )


@tables("fig6", needs=("allocation",))
def fig6_tables(df: pl.DataFrame, fits: dict[str, Any]) -> list[Table]:
    """Item `fig6`'s table: the measured advised-vs-uniform comparison."""
    return [allocation_table(df, fits["allocation"])]
