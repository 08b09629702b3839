"""`codescale figures`: the paper's Figures 1-6 and Tables 1-3 from the collected table and fits.

Every figure is always written, whatever the study's size: a panel with nothing to draw says why
in the panel itself, so Snakemake's declared outputs exist for a one-language smoke study and the
reader sees what is missing instead of a silently empty axis. The paper's numbers are drawn
hatched or hollow next to ours, from codescale/report/paper_reference.yaml.
"""

from __future__ import annotations

import argparse
import logging
import math
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from matplotlib import colors as mcolors
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from codescale import LANGUAGES
from codescale.catalog import FIGURE_STEMS, FIT_FILES, REPORT_ITEMS
from codescale.errors import CodescaleError
from codescale.io import write_json
from codescale.report import reference, style, tables
from codescale.report.tables import error_of, ordered

log = logging.getLogger(__name__)

LOSS_LABEL = "validation loss (nats/token)"


def _heatmap(grid: np.ndarray, **kw: Any) -> Any:
    """seaborn.heatmap without its matplotlib-deprecation chatter in every job log."""
    import warnings

    import seaborn as sns

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return sns.heatmap(grid, **kw)


def _law(params: dict[str, float], n: Any, d: Any) -> Any:
    """E + A/N^alpha + B/D^beta, the per-language law the fit stage reports."""
    return (
        params["E"]
        + params["A"] / np.power(n, params["alpha"])
        + params["B"] / np.power(d, params["beta"])
    )


# ---------------------------------------------------------------------------------------------
# Figure 1: overview


def fig1(df: pl.DataFrame, fits: dict[str, dict[str, Any]]) -> tuple[Figure, list[str]]:
    """(a) per-language loss vs compute 6ND with the compute-efficient frontier; (b, c) the
    irreducible loss L_inf per language, ours and the paper's, ordered by the paper's; (d) the
    compute-optimal tokens per parameter D*/N* of each fitted law vs compute, with its bootstrap
    interval (the paper says the ratio differs by language but gives none)."""
    notes: list[str] = []
    fig, axes = plt.subplots(
        1, 4, figsize=(16, 4), gridspec_kw={"width_ratios": [1.6, 1, 1, 1.3]},
        layout="constrained",
    )  # fmt: skip
    ax, ax_ours, ax_paper, ax_front = axes
    _frontier_panel(ax_front, fits["per_language"], notes)
    pts = tables.mono_points(df)
    if pts.height == 0:
        style.blank(ax, "no mono runs in the collected table")
        notes.append("no mono runs")
    for lang in ordered(pts["lang"].unique().to_list()):
        sub = pts.filter(pl.col("lang") == lang)
        c = 6 * sub["N"].to_numpy() * sub["D"].to_numpy()
        loss = sub["loss"].to_numpy()
        kw = {"color": style.color(lang), "marker": style.LANGUAGE_MARKERS.get(lang, "o")}
        ax.scatter(c, loss, s=14, alpha=0.35, linewidths=0, **kw)
        order = np.argsort(c)
        frontier = np.minimum.accumulate(loss[order])
        ax.plot(
            c[order],
            frontier,
            drawstyle="steps-post",
            lw=1.6,
            label=style.name(lang),
            **kw,
            markersize=0,
        )
    if pts.height:
        ax.set_xscale("log")
        style.log_axis(ax, "y")
        ax.legend(title="frontier", ncols=2, frameon=False)
    ax.set_xlabel("training compute C = 6ND (FLOPs)")
    ax.set_ylabel(LOSS_LABEL)
    ax.set_title("(a) loss vs compute, per language (ours)")

    paper = reference.per_language_law()
    per_lang = fits["per_language"].get("languages") or {}
    langs = sorted(LANGUAGES, key=lambda lang: paper[lang]["L_inf"])
    y = np.arange(len(langs))
    ours_vals = []
    for i, lang in enumerate(langs):
        entry = per_lang.get(lang)
        if error_of(entry):
            ours_vals.append(math.nan)
            continue
        e = float(entry["params"]["E"])
        ours_vals.append(e)
        lo_hi = (entry.get("ci") or {}).get("E")
        xerr = None
        if lo_hi and None not in lo_hi:
            xerr = [[max(e - lo_hi[0], 0)], [max(lo_hi[1] - e, 0)]]
        ax_ours.barh(i, e, color=style.color(lang), xerr=xerr, capsize=2, height=0.6)
    ax_paper.barh(y, [paper[lang]["L_inf"] for lang in langs], height=0.6, **style.PAPER_STYLE)
    for a in (ax_ours, ax_paper):
        a.set_yticks(y, [style.name(lang) for lang in langs])
        a.set_ylim(len(langs) - 0.5, -0.5)  # paper's lowest L_inf on top
        a.grid(axis="y", visible=False)
    ax_paper.tick_params(labelleft=False)
    ax_ours.set_xlabel(r"$L_\infty$ = E (nats/token)")
    ax_paper.set_xlabel(r"$L_\infty$ (nats/token, paper Fig. 2)")
    ax_ours.set_title(r"(b) irreducible loss $L_\infty$, ours")
    ax_paper.set_title("(c) paper, arXiv 2512.13472")
    have = [
        (o, paper[lang]["L_inf"])
        for o, lang in zip(ours_vals, langs, strict=True)
        if not math.isnan(o)
    ]
    missing = [style.name(lang) for o, lang in zip(ours_vals, langs, strict=True) if math.isnan(o)]
    if missing:
        notes.append(f"no L_inf fit for {', '.join(missing)}")
        for i, v in enumerate(ours_vals):
            if math.isnan(v):
                ax_ours.text(0, i, " no fit", va="center", ha="left", fontsize=7, color="#aa0000")
    if len(have) >= 3:
        from scipy.stats import spearmanr

        rho = spearmanr([h[0] for h in have], [h[1] for h in have]).statistic
        ax_ours.set_title(
            r"(b) irreducible loss $L_\infty$, ours" + f"\nrank corr. with paper ρ = {rho:.2f}"
        )
    fig.suptitle("Figure 1: per-language scaling overview")
    return fig, notes


def _frontier_panel(ax: Any, per_language: dict[str, Any], notes: list[str]) -> None:
    """D*/N* vs C per language from per_language.json's `frontier` (closed-form approach 3)."""
    drawn = 0
    for lang, entry in (per_language.get("languages") or {}).items():
        rows = [] if error_of(entry) else entry.get("frontier") or []
        if not rows:
            continue
        c = np.array([r["C"] for r in rows], dtype=float)
        tpp = np.array([r["tokens_per_param"] for r in rows], dtype=float)
        kw = {"color": style.color(lang)}
        ax.plot(c, tpp, marker="o", markersize=3, lw=1.4, label=style.name(lang), **kw)
        ci = [r.get("tokens_per_param_ci") or [None, None] for r in rows]
        if all(lo is not None and hi is not None for lo, hi in ci):
            ax.fill_between(c, [lo for lo, _ in ci], [hi for _, hi in ci], alpha=0.12, **kw)
        drawn += 1
    if not drawn:
        style.blank(ax, "no compute-optimal frontier\n(no fitted law with a frontier)")
        notes.append("no compute-optimal frontier in per_language.json")
    else:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(frameon=False, fontsize=7, ncols=2)
    ax.set_xlabel("training compute C = 6ND (FLOPs)")
    ax.set_ylabel("compute-optimal tokens per parameter D*/N*")
    ax.set_title("(d) compute-optimal D*/N* (95% CI)")


# ---------------------------------------------------------------------------------------------
# Figure 2: per-language scaling laws


def _panel_points(entry: Any, pts: pl.DataFrame, lang: str) -> np.ndarray:
    """(N, D, L) points: those the fit used when it reports them, else the table's mono runs."""
    if not error_of(entry) and entry.get("points"):
        return np.asarray(entry["points"], dtype=float).reshape(-1, 3)
    sub = pts.filter(pl.col("lang") == lang)
    return sub.select("N", "D", "loss").to_numpy().astype(float).reshape(-1, 3)


def fig2(df: pl.DataFrame, fits: dict[str, dict[str, Any]]) -> tuple[Figure, list[str]]:
    """One panel per language: loss vs D coloured by N, the fitted law's curve per N, and the
    exponents and L_inf annotated, ours beside the paper's."""
    notes: list[str] = []
    pts = tables.mono_points(df)
    per_lang = fits["per_language"].get("languages") or {}
    langs = ordered(set(pts["lang"].to_list()) | set(per_lang))
    if not langs:
        fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
        style.blank(ax, "no mono runs and no per-language fits")
        fig.suptitle("Figure 2: per-language scaling laws")
        return fig, ["no languages"]
    data = {lang: _panel_points(per_lang.get(lang), pts, lang) for lang in langs}
    all_n = np.concatenate([p[:, 0] for p in data.values() if len(p)] or [np.array([1.0, 10.0])])
    lo_n, hi_n = float(all_n.min()), float(all_n.max())
    norm = mcolors.LogNorm(vmin=lo_n, vmax=hi_n if hi_n > lo_n else lo_n * 10)
    cmap = plt.get_cmap("viridis")
    ncols = min(4, len(langs))
    nrows = math.ceil(len(langs) / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(max(3.3 * ncols, 7.0), 3.0 * nrows + 0.6),
        squeeze=False,
        layout="constrained",
    )
    paper = reference.per_language_law()
    for ax, lang in zip(axes.flat, langs, strict=False):
        entry = per_lang.get(lang)
        p = data[lang]
        ax.set_title(style.name(lang), color=style.color(lang), fontweight="bold")
        if len(p) == 0:
            style.blank(ax, "no runs")
            notes.append(f"{lang}: no runs")
            continue
        ax.scatter(
            p[:, 1],
            p[:, 2],
            c=p[:, 0],
            cmap=cmap,
            norm=norm,
            s=22,
            zorder=3,
            edgecolors="white",
            linewidths=0.4,
        )
        style.log_axis(ax, "x", "count")
        style.log_axis(ax, "y")
        ax.set_xlabel("training tokens D")
        ax.set_ylabel(LOSS_LABEL)
        err = error_of(entry)
        ref = paper.get(lang)
        lines = ["       α_N    α_D     L∞"]
        if err:
            lines.append("ours   fit failed")
            ax.set_title(f"{style.name(lang)}: {err[:40]}", color=style.color(lang), fontsize=8)
            notes.append(f"{lang}: fit error: {err}")
        else:
            prm = {k: float(v) for k, v in entry["params"].items()}
            d_grid = np.geomspace(p[:, 1].min() / 1.3, p[:, 1].max() * 1.3, 60)
            for n in sorted(set(p[:, 0])):
                ax.plot(d_grid, _law(prm, n, d_grid), color=cmap(norm(n)), lw=1.1, zorder=2)
            lines.append(f"ours  {prm['alpha']:5.3f}  {prm['beta']:5.3f}  {prm['E']:5.3f}")
            r2 = entry.get("r2_log")
            if isinstance(r2, int | float):
                ax.set_title(f"{style.name(lang)}  (R²={float(r2):.3f})", color=style.color(lang),
                             fontweight="bold")  # fmt: skip
        if ref:
            lines.append(f"paper {ref['alpha_N']:5.3f}  {ref['alpha_D']:5.3f}  {ref['L_inf']:5.3f}")
        ax.text(
            0.97,
            0.97,
            "\n".join(lines),
            transform=ax.transAxes,
            fontsize=6.5,
            va="top",
            ha="right",
            family="monospace",
            multialignment="left",
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "#cccccc", "lw": 0.5},
        )
    for ax in list(axes.flat)[len(langs) :]:
        ax.set_visible(False)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    cbar = fig.colorbar(sm, ax=axes, shrink=0.8, pad=0.01)
    cbar.set_label("non-embedding parameters N")
    fig.suptitle(
        "Figure 2: per-language scaling laws\n"
        r"$L(N, D) = L_\infty + A/N^{\alpha_N} + B/D^{\alpha_D}$"
        " (points: runs; lines: fit at each N)"
    )
    return fig, notes


# ---------------------------------------------------------------------------------------------
# Figure 3: unseen-direction translation loss vs model size


def _bars_with_reduction(
    ax: Any,
    labels: list[str],
    series: dict[str, list[float]],
    colours: dict[str, str],
    paper: bool = False,
) -> None:
    """Grouped bars per size; the relative reduction of each non-baseline series is written on
    its bar, since the paper's claim is the percentage, not the absolute loss."""
    keys = list(series)
    width = 0.8 / max(len(keys), 1)
    x = np.arange(len(labels))
    base = series.get("shuffled")
    for k, key in enumerate(keys):
        vals = np.asarray(series[key], dtype=float)
        kw = dict(style.PAPER_STYLE) if paper else {}
        if paper:
            kw["edgecolor"] = colours[key]
        else:
            kw["color"] = colours[key]
        bars = ax.bar(x + (k - (len(keys) - 1) / 2) * width, vals, width, label=key, **kw)
        if base is not None and key != "shuffled":
            for bar, v, b in zip(bars, vals, base, strict=True):
                if np.isfinite(v) and np.isfinite(b) and b > 0:
                    ax.annotate(
                        f"{100 * (v - b) / b:+.0f}%",
                        (bar.get_x() + bar.get_width() / 2, v),
                        ha="center",
                        va="bottom",
                        fontsize=6.5,
                    )
    ax.set_xticks(x, labels)


def fig3(df: pl.DataFrame, fits: dict[str, dict[str, Any]]) -> tuple[Figure, list[str]]:
    """(a) our mean unseen-direction translation loss per size and pair format; (b) the paper's
    Figure 3 (shuffled vs paired, 0.2B-7B)."""
    notes: list[str] = []
    fig, (ax, ax_p) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    unseen = tables.unseen_by_size(df)
    if unseen.height == 0:
        style.blank(ax, "no pairing runs with unseen-direction\ntranslation loss")
        notes.append("no pairing runs")
    else:
        sizes = unseen.select("N", "size").unique().sort("N")
        labels = [f"{s}\nN={style.fmt_count(n)}" for n, s in sizes.iter_rows()]
        series: dict[str, list[float]] = {}
        for fmt in tables.pair_formats(unseen):
            sub = unseen.filter(pl.col("pair_format") == fmt)
            by_n = dict(zip(sub["N"].to_list(), sub["loss"].to_list(), strict=True))
            series[fmt] = [by_n.get(n, math.nan) for n in sizes["N"].to_list()]
        colours = {k: style.FORMAT_COLORS.get(k, "#777777") for k in series}
        _bars_with_reduction(ax, labels, series, colours)
        ax.legend(title="pair format", frameon=False)
        ax.set_xlabel("model size (largest token budget of each size)")
        if "shuffled" not in series:
            notes.append("no shuffled baseline: reductions not shown")
    ax.set_ylabel("mean translation loss, unseen directions\n(nats/token)")
    ax.set_title("(a) ours: non-Python ↔ non-Python directions")
    paper = reference.fig3_unseen_loss()
    sizes_b = sorted(paper)
    _bars_with_reduction(
        ax_p,
        [f"{s:g}B" for s in sizes_b],
        {"shuffled": [paper[s][0] for s in sizes_b], "paired": [paper[s][1] for s in sizes_b]},
        {"shuffled": style.FORMAT_COLORS["shuffled"], "paired": style.FORMAT_COLORS["direct"]},
        paper=True,
    )
    ax_p.legend(frameon=False)
    ax_p.set_xlabel("model size (parameters)")
    ax_p.set_ylabel("mean translation loss, 30 unseen directions\n(nats/token)")
    ax_p.set_title("(b) paper, Figure 3 (hatched)")
    fig.suptitle("Figure 3: parallel pairing and zero-shot translation")
    return fig, notes


# ---------------------------------------------------------------------------------------------
# Figure 4: per-direction heatmaps and aggregates


def _agg(df: pl.DataFrame, run: str, metric: str, lang: str | None, fallback: list[float]) -> float:
    """The collected aggregate, else the mean of the directions it summarises."""
    v = tables.aggregate(df, run, metric, lang)
    if v is not None:
        return v
    vals = [x for x in fallback if np.isfinite(x)]
    return float(np.mean(vals)) if vals else math.nan


def fig4(df: pl.DataFrame, fits: dict[str, dict[str, Any]]) -> tuple[Figure, list[str]]:
    """Top: translation loss per direction (rows source, columns target) for each pair format's
    largest run. Bottom: X->All, All->X and the Non-Python / seen / unseen means."""
    notes: list[str] = []
    fmts = tables.pair_formats(df)
    if not fmts:
        fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
        style.blank(ax, "no pairing runs in the collected table")
        fig.suptitle("Figure 4: translation loss per direction")
        return fig, ["no pairing runs"]
    mats = {f: tables.direction_losses(df, f) for f in fmts}
    langs = ordered({lang for _, m in mats.values() for pair in m for lang in pair})
    ncols = max(len(fmts), 3)
    fig, axes = plt.subplots(
        2, ncols, figsize=(3.9 * ncols, 7.4), squeeze=False, layout="constrained"
    )
    values = [v for _, m in mats.values() for v in m.values()]
    vmin, vmax = (min(values), max(values)) if values else (0, 1)
    for k, fmt in enumerate(fmts):
        ax = axes[0, k]
        run, m = mats[fmt]
        if not m:
            style.blank(ax, f"{fmt}: no per-direction losses")
            notes.append(f"{fmt}: no directions")
            continue
        grid = np.full((len(langs), len(langs)), np.nan)
        for (s, t), v in m.items():
            grid[langs.index(s), langs.index(t)] = v
        names = [style.name(lang) for lang in langs]
        _heatmap(
            grid,
            ax=ax,
            annot=len(langs) <= 7,
            fmt=".3f",
            cmap="viridis_r",
            vmin=vmin,
            vmax=vmax,
            xticklabels=names,
            yticklabels=names,
            square=True,
            cbar=k == len(fmts) - 1,
            annot_kws={"fontsize": 6},
            cbar_kws={"label": "translation loss (nats/token)"},
        )
        ax.set_xlabel("target language")
        ax.set_ylabel("source language")
        ax.set_title(f"{fmt}\n{run}", fontsize=8)
        style.heatmap_axes(ax)
    for k in range(len(fmts), ncols):
        axes[0, k].set_visible(False)

    # bottom row: aggregates per language (grouped by format) and scalar means
    width = 0.8 / len(fmts)
    x = np.arange(len(langs))
    scalars: dict[str, dict[str, float]] = {}
    for k, fmt in enumerate(fmts):
        run, m = mats[fmt]
        if run is None:
            continue
        x_all = [
            _agg(
                df,
                run,
                "translation_loss_x_to_all",
                lang,
                [v for (s, _), v in m.items() if s == lang],
            )
            for lang in langs
        ]
        all_x = [
            _agg(
                df,
                run,
                "translation_loss_all_to_x",
                lang,
                [v for (_, t), v in m.items() if t == lang],
            )
            for lang in langs
        ]
        off = (k - (len(fmts) - 1) / 2) * width
        colour = style.FORMAT_COLORS.get(fmt, "#777777")
        axes[1, 0].bar(x + off, x_all, width, color=colour, label=fmt)
        axes[1, 1].bar(x + off, all_x, width, color=colour, label=fmt)
        nonpy = [v for (s, t), v in m.items() if "python" not in (s, t)]
        seen = [v for (s, t), v in m.items() if "python" in (s, t)]
        scalars[fmt] = {
            "non-Python→\nnon-Python": _agg(
                df, run, "translation_loss_nonpython_mean", None, nonpy
            ),
            "seen\n(Python ↔ X)": _agg(df, run, "translation_loss_seen_mean", None, seen),
            "unseen": _agg(df, run, "translation_loss_unseen_mean", None, nonpy),
        }
    for ax, title in (
        (axes[1, 0], "X → All (mean over targets)"),
        (axes[1, 1], "All → X (mean over sources)"),
    ):
        ax.set_xticks(x, [style.name(lang) for lang in langs], rotation=30)
        for tick, lang in zip(ax.get_xticklabels(), langs, strict=True):
            tick.set_color(style.color(lang))
        ax.set_ylabel("translation loss (nats/token)")
        ax.set_title(title)
        ax.margins(y=0.18)
        ax.legend(frameon=False, fontsize=7, loc="upper center", ncols=len(fmts))
    ax = axes[1, 2]
    cats = list(next(iter(scalars.values()))) if scalars else []
    xc = np.arange(len(cats))
    for k, (fmt, vals) in enumerate(scalars.items()):
        ax.bar(
            xc + (k - (len(scalars) - 1) / 2) * width,
            [vals[c] for c in cats],
            width,
            color=style.FORMAT_COLORS.get(fmt, "#777777"),
            label=fmt,
        )
    ax.set_xticks(xc, cats)
    ax.set_ylabel("mean translation loss (nats/token)")
    ax.set_title("direction-group means")
    if scalars:
        ax.margins(y=0.18)
        ax.legend(frameon=False, fontsize=7, loc="upper center", ncols=len(scalars))
    for k in range(3, ncols):
        axes[1, k].set_visible(False)
    if "python" not in langs:
        notes.append("no Python directions: seen/unseen split degenerate")
    fig.suptitle("Figure 4: translation loss per direction (largest run of each pair format)")
    return fig, notes


# ---------------------------------------------------------------------------------------------
# Figures 5 and 6: allocation


def _proportions(obj: Any) -> dict[str, float]:
    """{lang: p} normalised to sum 1 (the allocation file may store tokens or proportions)."""
    if not isinstance(obj, dict):
        return {}
    vals = {k: float(v) for k, v in obj.items() if isinstance(v, int | float)}
    total = sum(vals.values())
    return {k: v / total for k, v in vals.items()} if total > 0 else {}


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


def fig6(df: pl.DataFrame, fits: dict[str, dict[str, Any]]) -> tuple[Figure, list[str]]:
    """(a) measured per-language validation loss of the uniform and optimised allocation runs
    (and their mean); (b) the mixture law's predicted loss against the measured mean."""
    notes: list[str] = []
    fig, (ax, ax_pm) = plt.subplots(
        1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.7, 1]}, layout="constrained"
    )
    by_seed = tables.allocation_losses(df)
    cmp = tables.allocation_comparison(
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
            label = f"{kind} ({len(runs)} seed{'s' if len(runs) > 1 else ''})"
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
# Table 1 heatmap


def table1_figure(df: pl.DataFrame, fits: dict[str, dict[str, Any]]) -> tuple[Figure, list[str]]:
    """Relative synergy gain (%) heatmaps, ours beside the paper's Table 1; diagonal masked
    (the self-repetition baseline, zero by construction)."""
    notes: list[str] = []
    langs, mats = tables.synergy_matrices(fits["synergy"])
    fig, (ax, ax_p) = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    _, p_rel = reference.synergy_gain()

    def draw(
        ax: Any, order: list[str], rel: dict[str, dict[str, float | None]], title: str
    ) -> None:
        grid = np.array(
            [
                [np.nan if (rel[t][a] is None or t == a) else 100 * rel[t][a] for a in order]
                for t in order
            ]
        )
        lim = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
        names = [style.name(lang) for lang in order]
        _heatmap(
            grid,
            ax=ax,
            annot=True,
            fmt=".1f",
            cmap="RdBu",
            center=0,
            vmin=-lim,
            vmax=lim,
            xticklabels=names,
            yticklabels=names,
            square=True,
            annot_kws={"fontsize": 7},
            cbar_kws={"label": "relative gain (%)"},
        )
        ax.set_xlabel("auxiliary language")
        ax.set_ylabel("target language (loss measured on it)")
        ax.set_title(title)
        style.heatmap_axes(ax)

    if langs:
        draw(ax, langs, mats["relative_gain"], "ours")
    else:
        why = error_of(fits["synergy"]) or "no languages"
        style.blank(ax, f"no synergy result:\n{why[:80]}")
        notes.append(f"synergy: {why}")
    draw(ax_p, list(LANGUAGES), p_rel, "paper, Table 1")
    fig.suptitle("Table 1: synergy gain (L(i+i) − L(i+j)) / L(i+i); blue = the auxiliary helps")
    return fig, notes


# ---------------------------------------------------------------------------------------------
# CLI

FIGURES: dict[str, tuple[str, Callable[..., tuple[Figure, list[str]]], tuple[str, ...]]] = {
    "fig1": (FIGURE_STEMS["fig1"], fig1, ("per_language",)),
    "fig2": (FIGURE_STEMS["fig2"], fig2, ("per_language",)),
    "fig3": (FIGURE_STEMS["fig3"], fig3, ()),
    "fig4": (FIGURE_STEMS["fig4"], fig4, ()),
    "fig5": (FIGURE_STEMS["fig5"], fig5, ("allocation",)),
    "fig6": (FIGURE_STEMS["fig6"], fig6, ("allocation", "mixture_law")),
    "table1": (FIGURE_STEMS["table1"], table1_figure, ("synergy",)),
}
TABLES: dict[str, tuple[str, ...]] = {
    "table1": ("synergy",),
    "table2": ("translation",),
    "table3": (),
    "fits": ("per_language", "mixture_law"),
}
ITEMS = list(REPORT_ITEMS)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", type=Path, required=True, help="results/collect/runs.parquet")
    parser.add_argument("--fits-dir", type=Path, required=True, help="results/fits (the *.json)")
    parser.add_argument("--out-dir", type=Path, required=True, help="figures (PNG + PDF)")
    parser.add_argument("--tables-dir", type=Path, required=True, help="tables (CSV + Markdown)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=ITEMS,
        metavar="ITEM",
        help=f"produce only these ({', '.join(ITEMS)})",
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        default=None,
        help="list of files written (default: OUT_DIR/manifest.json)",
    )


def produce(
    table: Path, fits_dir: Path, out_dir: Path, tables_dir: Path, only: list[str] | None = None
) -> dict[str, Any]:
    """Make the selected figures and tables; return the manifest (item -> files and notes)."""
    items = only or ITEMS
    need = set()
    for item in items:
        need |= set(FIGURES[item][2]) if item in FIGURES else set()
        need |= set(TABLES.get(item, ()))
    fits = {key: tables.load_fit(fits_dir / FIT_FILES[key]) for key in sorted(need)}
    df = tables.load_table(table)
    style.apply()
    manifest: dict[str, Any] = {"table": str(table), "fits_dir": str(fits_dir), "items": {}}
    for item in items:
        files: list[Path] = []
        notes: list[str] = []
        if item in FIGURES:
            stem, draw, _ = FIGURES[item]
            fig, notes = draw(df, fits)
            files += style.save(fig, out_dir, stem)
        for t in _tables_for(item, df, fits):
            files += tables.write_table(t, tables_dir)
            notes += t.warnings
        for note in notes:
            log.info("%s: %s", item, note)
        manifest["items"][item] = {"files": [str(f) for f in files], "notes": notes}
    return manifest


def _tables_for(item: str, df: pl.DataFrame, fits: dict[str, Any]) -> list[tables.Table]:
    if item == "table1":
        return [tables.table1_synergy(fits["synergy"])]
    if item == "table2":
        return [tables.table2_directions(df), tables.table2_laws(fits["translation"])]
    if item == "table3":
        from codescale.report.table3 import table3  # measured pass@1 when the study executed

        return [table3(df)]
    if item == "fig6":
        return [tables.allocation_table(df, fits["allocation"])]
    if item == "fits":
        return [tables.fits_table(fits["per_language"], fits.get("mixture_law"))]
    return []


def run(args: argparse.Namespace) -> None:
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise CodescaleError(f"--out-dir {args.out_dir}: exists and is not a directory")
    manifest = produce(args.table, args.fits_dir, args.out_dir, args.tables_dir, args.only)
    path = args.manifest or args.out_dir / "manifest.json"
    write_json(path, manifest)
    n = sum(len(v["files"]) for v in manifest["items"].values())
    log.info("wrote %d files; manifest %s", n, path)
