"""Parallel pairing and translation (the pairing study): Figure 3 (unseen-direction translation
loss vs model size), Figure 4 (per-direction heatmaps and aggregates) and Table 2 (per-direction
fits of the shuffled baseline, and translation.json's aggregate laws, Eqs. 3-5). Table 3 (pass@1
of shuffled vs paired models) is codescale.report.table3: it reads the execute stage's rows.

The per-direction fits of Table 2 are made HERE, not read from a fit JSON: translation.json holds
the aggregate laws only (laws/translation.py), so fit_direction runs the law engine per direction.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from codescale import catalog
from codescale.report import reference, style
from codescale.report.inputs import error_of, largest_run, ordered
from codescale.report.registry import figure, tables
from codescale.report.tables import Table

# ---------------------------------------------------------------------------------------------
# selections from the collected table


def direction_losses(df: pl.DataFrame, fmt: str) -> tuple[str | None, dict[tuple[str, str], float]]:
    """Per-direction translation loss of the largest pairing run of `fmt`: (run, {(src,tgt): L})."""
    rows = df.filter(
        (pl.col("study") == "pairing")
        & (pl.col("pair_format") == fmt)
        & (pl.col("metric") == "translation_loss")
        & pl.col("src_lang").is_not_null()
        & pl.col("tgt_lang").is_not_null()
    )
    run = largest_run(rows)
    if run is None:
        return None, {}
    rows = rows.filter(pl.col("run") == run)
    return run, {(r["src_lang"], r["tgt_lang"]): r["value"] for r in rows.iter_rows(named=True)}


def pair_formats(df: pl.DataFrame) -> list[str]:
    """Pair formats present (in pairing runs when `df` is the collected table), shuffled first."""
    if "study" in df.columns:
        df = df.filter(pl.col("study") == "pairing")
    fmts = df["pair_format"].drop_nulls().unique().to_list()
    order = ["shuffled", "direct", "prompt"]
    return [f for f in order if f in fmts] + sorted(set(fmts) - set(order))


def aggregate(df: pl.DataFrame, run: str, metric: str, lang: str | None = None) -> float | None:
    """One aggregate translation metric of a run as collected (None when not collected)."""
    rows = df.filter((pl.col("run") == run) & (pl.col("metric") == metric))
    rows = rows.filter(pl.col("lang").is_null() if lang is None else pl.col("lang") == lang)
    return float(rows["value"][0]) if rows.height else None


def unseen_by_size(df: pl.DataFrame) -> pl.DataFrame:
    """Mean unseen-direction loss per (format, N) at the largest D: columns pair_format, size, N,
    D, run, loss. Uses the collected aggregate, else averages the unseen directions itself."""
    pairing = df.filter(pl.col("study") == "pairing")
    out = []
    for fmt in pair_formats(pairing):
        sub = pairing.filter(pl.col("pair_format") == fmt)
        for n in sorted(set(sub["N"].to_list())):
            at_n = sub.filter(pl.col("N") == n)
            run = largest_run(at_n)
            if run is None:
                continue
            loss = aggregate(df, run, "translation_loss_unseen_mean")
            if loss is None:
                unseen = at_n.filter(
                    (pl.col("run") == run)
                    & (pl.col("metric") == "translation_loss")
                    & (pl.col("seen") == False)  # noqa: E712 (polars expression)
                )
                loss = float(unseen["value"].mean()) if unseen.height else None
            if loss is None:
                continue
            first = at_n.filter(pl.col("run") == run).row(0, named=True)
            out.append(
                {
                    "pair_format": fmt,
                    "size": first["size"],
                    "N": n,
                    "D": first["D"],
                    "run": run,
                    "loss": loss,
                }
            )
    schema = {
        "pair_format": pl.String,
        "size": pl.String,
        "N": pl.Float64,
        "D": pl.Float64,
        "run": pl.String,
        "loss": pl.Float64,
    }
    return pl.DataFrame(out, schema=schema)


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


@figure("fig3")
def fig3(df: pl.DataFrame, fits: dict[str, dict[str, Any]]) -> tuple[Figure, list[str]]:
    """(a) our mean unseen-direction translation loss per size and pair format; (b) the paper's
    Figure 3 (shuffled vs paired, 0.2B-7B)."""
    notes: list[str] = []
    fig, (ax, ax_p) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    unseen = unseen_by_size(df)
    if unseen.height == 0:
        style.blank(ax, "no pairing runs with unseen-direction\ntranslation loss")
        notes.append("no pairing runs")
    else:
        sizes = unseen.select("N", "size").unique().sort("N")
        labels = [f"{s}\nN={style.fmt_count(n)}" for n, s in sizes.iter_rows()]
        series: dict[str, list[float]] = {}
        for fmt in pair_formats(unseen):
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
    v = aggregate(df, run, metric, lang)
    if v is not None:
        return v
    vals = [x for x in fallback if np.isfinite(x)]
    return float(np.mean(vals)) if vals else math.nan


@figure("fig4")
def fig4(df: pl.DataFrame, fits: dict[str, dict[str, Any]]) -> tuple[Figure, list[str]]:
    """Top: translation loss per direction (rows source, columns target) for each pair format's
    largest run. Bottom: X->All, All->X and the Non-Python / seen / unseen means."""
    notes: list[str] = []
    fmts = pair_formats(df)
    if not fmts:
        fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
        style.blank(ax, "no pairing runs in the collected table")
        fig.suptitle("Figure 4: translation loss per direction")
        return fig, ["no pairing runs"]
    mats = {f: direction_losses(df, f) for f in fmts}
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
        style.heatmap(
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
# Table 2: per-direction translation fits (shuffled baseline) and the aggregate translation laws


def fit_direction(points: np.ndarray, n_bootstrap: int = 50) -> dict[str, Any] | str:
    """Fit L = A N^-alpha_N + B D^-alpha_D + L_inf to one direction's (N, D, L) points with the
    law engine (codescale.laws.chinchilla: the same fitter, Huber loss, intervals and convergence
    flags as every other law). Returns the parameters, their 95% intervals, R^2 (log space) and
    the status, or a string saying why no fit was attempted.

    The one fit the report makes itself: translation.json (laws/translation.py) holds only the
    aggregate laws of Eqs. 3-5, not the paper's per-direction Table 2 laws."""
    from codescale.errors import CodescaleError
    from codescale.laws import chinchilla

    n, d, loss = points[:, 0], points[:, 1], points[:, 2]
    if len(set(n)) < 2 or len(set(d)) < 2 or len(points) < 6:
        return f"needs >= 2 sizes, >= 2 budgets and >= 6 runs (have {len(points)})"
    try:
        out = chinchilla.analyse(n, d, loss, n_bootstrap=n_bootstrap, seed=0)
    except CodescaleError as err:
        return f"fit failed: {err}"
    p, ci = out["params"], out["ci"]
    return {
        "A": p["A"],
        "B": p["B"],
        "alpha_N": p["alpha"],
        "alpha_D": p["beta"],
        "L_inf": p["E"],
        "alpha_N_ci": ci["alpha"],
        "alpha_D_ci": ci["beta"],
        "r2_log": out["r2_log"],
        "status": "fitted" if out["converged"] else out["status"],
    }


def table2_directions(df: pl.DataFrame) -> Table:
    """Per-direction losses (largest shuffled run), per-direction fits where the shuffled runs
    span N and D, and the paper's Table 2 parameters beside them."""
    shuffled = df.filter(
        (pl.col("study") == "pairing")
        & (pl.col("pair_format") == "shuffled")
        & (pl.col("metric") == "translation_loss")
        & pl.col("src_lang").is_not_null()
    )
    run, largest = direction_losses(df, "shuffled")
    paper = reference.translation_directions()
    seen_of = {
        (r["src_lang"], r["tgt_lang"]): r["seen"]
        for r in shuffled.select("src_lang", "tgt_lang", "seen").unique().iter_rows(named=True)
    }
    rows = []
    n_fitted = 0
    # every catalog language, and any the runs measured; a direction the paper has not (a
    # language added to the catalog) has blank paper_* cells
    measured = set(shuffled["src_lang"].drop_nulls()) | set(shuffled["tgt_lang"].drop_nulls())
    every = ordered(set(catalog.LANGUAGES) | measured)
    for src in every:
        for tgt in every:
            if src == tgt:
                continue
            pts = shuffled.filter((pl.col("src_lang") == src) & (pl.col("tgt_lang") == tgt))
            fit: dict[str, float] | str
            if pts.height:
                fit = fit_direction(pts.select("N", "D", "value").to_numpy().astype(float))
            else:
                fit = "no shuffled pairing runs for this direction"
            ok = isinstance(fit, dict)
            n_fitted += ok
            p = paper.get((src, tgt))
            seen = seen_of.get((src, tgt))
            rows.append(
                {
                    "src_lang": src,
                    "tgt_lang": tgt,
                    "seen": ("python" in (src, tgt)) if seen is None else bool(seen),
                    "loss_largest_run": largest.get((src, tgt)),
                    "n_runs": pts.select("run").n_unique() if pts.height else 0,
                    "A": fit["A"] if ok else None,
                    "B": fit["B"] if ok else None,
                    "A_per_billion": per_billion(fit["A"], fit["alpha_N"]) if ok else None,
                    "B_per_billion": per_billion(fit["B"], fit["alpha_D"]) if ok else None,
                    "alpha_N": fit["alpha_N"] if ok else None,
                    "alpha_D": fit["alpha_D"] if ok else None,
                    "L_inf": fit["L_inf"] if ok else None,
                    "alpha_N_ci_lo": fit["alpha_N_ci"][0] if ok else None,
                    "alpha_N_ci_hi": fit["alpha_N_ci"][1] if ok else None,
                    "alpha_D_ci_lo": fit["alpha_D_ci"][0] if ok else None,
                    "alpha_D_ci_hi": fit["alpha_D_ci"][1] if ok else None,
                    "r2_log": fit["r2_log"] if ok else None,
                    "fit_status": fit["status"] if ok else fit,
                    "paper_A": p[0] if p else None,
                    "paper_B": p[1] if p else None,
                    "paper_alpha_N": p[2] if p else None,
                    "paper_alpha_D": p[3] if p else None,
                }
            )
    notes = [
        "Shuffled baseline only (the paper's Table 2). Rows = (source, target) direction.",
        f"loss_largest_run: measured translation loss of {run or 'no shuffled run'} "
        "(largest N, then largest D).",
        f"Per-direction fits of L = A/N^alpha_N + B/D^alpha_D + L_inf: {n_fitted} of "
        f"{len(rows)} directions fitted"
        + (
            ""
            if n_fitted
            else " (the shuffled runs do not span both N and D; measured losses shown instead)"
        )
        + ".",
        "Paper: Table 2 of arXiv 2512.13472 (L_inf per direction not published).",
        "Fitted with the law engine (Huber on log residuals, 95% parametric-bootstrap intervals "
        "of the exponents; 'flagged: ...' = a parameter at a bound, not converged). Units: our A "
        "and B are per raw count (N non-embedding parameters, D tokens); the paper does not state "
        "the units of its A and B; A_per_billion / B_per_billion are ours for N and D in billions "
        "(the likely convention) and are the ones to set beside paper_A / paper_B. The exponents "
        "are unit-free and compare directly.",
    ]
    return Table(
        "table2_translation_directions",
        "Table 2: per-direction translation loss, shuffled baseline",
        list(rows[0]),
        rows,
        notes,
        warnings=[] if n_fitted else ["no per-direction fits: shuffled runs do not span N and D"],
    )


def per_billion(coef: float | None, exponent: float | None) -> float | None:
    """A prefactor of c * X^-e with X in raw counts, re-expressed for X in billions."""
    if coef is None or exponent is None:
        return None
    return float(coef) * 1e9 ** (-float(exponent))


def table2_laws(fit: dict[str, Any]) -> Table:
    """The aggregate translation laws (Eqs. 3-5) from translation.json beside the paper's."""
    paper = reference.translation_laws()
    rows = []
    for key in ("shuffled", "paired_seen", "paired_unseen"):
        entry = fit.get(key)
        err = error_of(entry)
        params = {} if err else dict(entry.get("params", {}))
        ci = {} if err else dict(entry.get("ci", {}) or {})
        row: dict[str, Any] = {"law": key, "status": err or "fitted"}
        for p in ("L_inf", "A", "alpha", "B", "beta"):
            row[p] = params.get(p)
            lo_hi = ci.get(p) or [None, None]
            row[f"{p}_ci_lo"], row[f"{p}_ci_hi"] = lo_hi[0], lo_hi[1]
            row[f"paper_{p}"] = paper[key][p]
        row["A_per_billion"] = per_billion(row["A"], row["alpha"])
        row["B_per_billion"] = per_billion(row["B"], row["beta"])
        if not err and entry.get("status") not in (None, "converged"):
            row["status"] = entry["status"]
        rows.append(row)
    notes = [
        "L = A N^-alpha + B D^-beta + L_inf over translation loss (Eqs. 3-5 of the paper).",
        "Units: our A and B are per raw count (N non-embedding parameters, D tokens). The paper "
        "does not state its units; A_per_billion / B_per_billion convert ours to N and D in "
        "billions (A 1e9^-alpha), the likely convention, for comparison with paper_A / paper_B. "
        "Exponents and L_inf (nats/token) need no conversion.",
        "Paper's paired_seen alpha = 6.404 and identical betas look like transcription errors "
        "in v1; kept as printed.",
    ]
    if error_of(fit):
        notes.append(f"translation.json: {error_of(fit)}")
    warn = [f"{r['law']}: {r['status']}" for r in rows if r["status"] != "fitted"]
    return Table(
        "table2_translation_laws", "Translation-loss laws", list(rows[0]), rows, notes, None, warn
    )


@tables("table2", needs=("translation",))
def table2_tables(df: pl.DataFrame, fits: dict[str, Any]) -> list[Table]:
    """Item `table2`: the per-direction table and the aggregate laws table."""
    return [table2_directions(df), table2_laws(fits["translation"])]
