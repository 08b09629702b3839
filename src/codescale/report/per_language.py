"""The per-language laws (the mono study): Figure 1 (overview: loss vs compute, L_inf, the
compute-optimal D*/N*), Figure 2 (one panel per language with its fitted law) and the fits table
(per_language.json's parameters with intervals beside the paper's Figure 2 annotations, and
mixture_law.json's proportion-dependent law).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
from matplotlib import colors as mcolors
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from codescale import catalog
from codescale.laws import chinchilla
from codescale.report import reference, style
from codescale.report.inputs import error_of, ordered
from codescale.report.registry import figure, tables
from codescale.report.style import LOSS_LABEL
from codescale.report.tables import Table, fmt, markdown_grid, reference_name


def _law(params: dict[str, float], n: Any, d: Any) -> Any:
    """E + A/N^alpha + B/D^beta, the per-language law the fit stage reports."""
    return (
        params["E"]
        + params["A"] / np.power(n, params["alpha"])
        + params["B"] / np.power(d, params["beta"])
    )


# ---------------------------------------------------------------------------------------------
# selections from the collected table


def mono_points(df: pl.DataFrame) -> pl.DataFrame:
    """Per-language grid points: lang, size, N, D, loss (validation loss on the run's language)."""
    mono = chinchilla.per_language_rows(df)  # the fit's own selection
    return mono.select("lang", "size", "N", "D", pl.col("value").alias("loss")).sort(
        "lang", "N", "D"
    )


# ---------------------------------------------------------------------------------------------
# Figure 1: overview


@figure("fig1", needs=("per_language",))
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
    pts = mono_points(df)
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
    # the paper's languages by its L_inf, then those it has not (ours only), in catalog order
    in_paper = [lang for lang in catalog.LANGUAGES if lang in paper]
    langs = sorted(in_paper, key=lambda lang: paper[lang]["L_inf"]) + [
        lang for lang in catalog.LANGUAGES if lang not in paper
    ]
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
    ax_paper.barh(
        [i for i, lang in enumerate(langs) if lang in paper],
        [paper[lang]["L_inf"] for lang in langs if lang in paper],
        height=0.6,
        **style.PAPER_STYLE,
    )
    for i, lang in enumerate(langs):
        if lang not in paper:
            ax_paper.text(0, i, " not in the paper", va="center", ha="left", fontsize=7)
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
        if not math.isnan(o) and lang in paper
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


@figure("fig2", needs=("per_language",))
def fig2(df: pl.DataFrame, fits: dict[str, dict[str, Any]]) -> tuple[Figure, list[str]]:
    """One panel per language: loss vs D coloured by N, the fitted law's curve per N, and the
    exponents and L_inf annotated, ours beside the paper's."""
    notes: list[str] = []
    pts = mono_points(df)
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
# the fits table


def fits_table(fit: dict[str, Any], mixture: dict[str, Any] | None = None) -> Table:
    """Per-language law parameters with CIs, fit quality and extrapolation error, and the paper's
    exponents and L_inf beside them (our beta is the paper's alpha_D, our E its L_inf). With
    `mixture` (mixture_law.json) the Markdown also shows the proportion-dependent law: every
    parameter with its interval, unit and status, and the transfer matrix with intervals."""
    paper = reference.per_language_law()
    per_lang = fit.get("languages") or {}
    rows = []
    for lang in ordered(set(per_lang) | set(catalog.LANGUAGES)):
        entry = per_lang.get(lang)
        err = error_of(entry)
        status = None if err else entry.get("status")
        row: dict[str, Any] = {
            "language": lang,
            "status": err or (status if status and status != "converged" else "fitted"),
        }
        params = {} if err else dict(entry.get("params", {}))
        ci = {} if err else dict(entry.get("ci", {}) or {})
        for p in ("E", "A", "alpha", "B", "beta"):
            row[p] = params.get(p)
            lo_hi = ci.get(p) or [None, None]
            row[f"{p}_ci_lo"], row[f"{p}_ci_hi"] = lo_hi[0], lo_hi[1]
        r2_by_n = {} if err else entry.get("r2_by_N") or {}
        r2_vals = list(r2_by_n.values()) if isinstance(r2_by_n, dict) else list(r2_by_n)
        r2_nums = [float(v) for v in r2_vals if isinstance(v, int | float)]
        row["r2_log"] = None if err else entry.get("r2_log")
        row["r2_by_N_min"] = min(r2_nums) if r2_nums else None
        # chinchilla._extrapolate's block: rel_error at the held-out size (budget), or an error
        extrapolation = {} if err else entry.get("extrapolation") or {}
        row["extrapolation_rel_error"] = extrapolation.get("rel_error")
        row["extrapolation_D_rel_error"] = (extrapolation.get("by_D") or {}).get("rel_error")
        front = {} if err else {f.get("C"): f for f in entry.get("frontier") or []}
        f20 = front.get(1e20) or {}
        row["tokens_per_param_C1e20"] = f20.get("tokens_per_param")
        tp_ci = f20.get("tokens_per_param_ci") or [None, None]
        row["tokens_per_param_C1e20_ci_lo"], row["tokens_per_param_C1e20_ci_hi"] = tp_ci[:2]
        row["converged"] = None if err else entry.get("converged")
        row["n_points"] = None if err else entry.get("n_points")
        ref = paper.get(lang, {})  # a language the paper has not: no paper value (blank)
        row["paper_alpha_N"] = ref.get("alpha_N")
        row["paper_alpha_D"] = ref.get("alpha_D")
        row["paper_L_inf"] = ref.get("L_inf")
        rows.append(row)
    units = fit.get("units") or next(
        (e.get("units") for e in per_lang.values() if isinstance(e, dict) and e.get("units")), None
    )
    notes = [
        "L(N, D) = E + A/N^alpha + B/D^beta; paper notation: L_inf = E, alpha_N = alpha, "
        "alpha_D = beta. CIs as reported by the fit stage (95%, parametric bootstrap).",
        "Units: "
        + (
            "; ".join(f"{k}: {v}" for k, v in units.items())
            if units
            else "E in nats/token; A and B in raw counts (N non-embedding parameters, D tokens)"
        )
        + ". The paper publishes exponents and L_inf only, so A and B have no paper value to "
        "convert to; exponents are unit-free and compared directly.",
        "D*/N*: compute-optimal tokens per parameter at C = 6ND = 1e20 FLOPs from each law "
        "(Chinchilla approach 3, closed form; 95% bootstrap interval); per_language.json has "
        "N*, D* at 1e18-1e21. The paper says the optimal ratio differs by language but gives none.",
        "status 'flagged: ...': a parameter within 1% of a bound or the optimiser not stopped; "
        "such a fit is not converged. Extrapolation: refit on the smaller half of N (of D), "
        "relative error at the largest N (D).",
        "Paper values: Figure 2 annotations of arXiv 2512.13472 (prefactors not published). "
        "Absolute losses depend on tokenizer and data, so compare exponents and rankings.",
    ]
    if error_of(fit):
        notes.append(f"per_language.json: {error_of(fit)}")
    warn = [
        f"{r['language']}: {r['status']}" for r in rows if r["status"] not in ("fitted", "absent")
    ]
    return Table(
        "fits_per_language",
        "Per-language scaling-law fits",
        list(rows[0]),
        rows,
        notes,
        _fits_markdown(rows) + ("" if mixture is None else "\n\n" + mixture_markdown(mixture)),
        warn,
    )


def mixture_markdown(mix: dict[str, Any]) -> str:
    """The transfer law of mixture_law.json as Markdown: parameters, status, tau with intervals."""
    err = error_of(mix)
    title = "### Proportion-dependent law (mixture_law.json)"
    if err:
        return f"{title}\n\nNot fitted: {err}"
    langs = list(mix.get("languages") or [])
    params, ci = mix.get("params") or {}, mix.get("ci") or {}
    blocks, units = mix.get("blocks") or {}, mix.get("units") or {}

    def cell(lang: str, p: str) -> str:
        lo, hi = ((ci.get(lang) or {}).get(p) or [None, None])[:2]
        v = (params.get(lang) or {}).get(p)
        return f"{fmt(v)} [{fmt(lo)}, {fmt(hi)}]" if lo is not None else fmt(v)

    head = ["language", "status", "E", "A", "alpha", "B", "beta", "n"]
    body = [
        [reference_name(k), (blocks.get(k) or {}).get("status", "—"),
         *(cell(k, p) for p in ("E", "A", "alpha", "B", "beta")),
         fmt((blocks.get(k) or {}).get("n_points"))]
        for k in langs
    ]  # fmt: skip
    tau, tau_ci = mix.get("tau") or [], mix.get("tau_ci") or []
    t_body = []
    for i, k in enumerate(langs):
        row = [reference_name(k)]
        for j in range(len(langs)):
            v = tau[i][j] if i < len(tau) and j < len(tau[i]) else None
            c = tau_ci[i][j] if i < len(tau_ci) and j < len(tau_ci[i]) else None
            row.append("1" if i == j else (f"{fmt(v, 3)} [{fmt(c[0], 2)}, {fmt(c[1], 2)}]"
                                          if c and c[0] is not None else fmt(v, 3)))  # fmt: skip
        t_body.append(row)
    held = mix.get("heldout_check") or {}
    gamma_ci = mix.get("gamma_ci") or [None, None]
    lines = [
        title,
        "",
        f"Law: {mix.get('law', '—')}",
        "",
        "Units: " + "; ".join(f"{k}: {v}" for k, v in units.items()),
        "",
        markdown_grid(head, body),
        "",
        "Transfer matrix tau_ij (row: target i, column: source j; 95% interval; — = no run mixes "
        f"them). gamma (mean tau_ij) = {fmt(mix.get('gamma'))} "
        f"[{fmt(gamma_ci[0])}, {fmt(gamma_ci[1])}].",
        "",
        markdown_grid(["target \\ source", *(reference_name(k) for k in langs)], t_body),
        "",
        "Held-out check (3+-language mixtures refitted without them): "
        + (
            f"mean relative error {fmt(held.get('rel_error_mean'))} on {held.get('n')} run(s)"
            if "rel_error_mean" in held
            else str(held.get("error", "—"))
        ),  # fmt: skip
    ]
    return "\n".join(lines)


def _fits_markdown(rows: list[dict[str, Any]]) -> str:
    """The fits table with `value [lo, hi]` cells, narrow enough to read in the report."""

    def ci(row: dict[str, Any], p: str) -> str:
        if row[p] is None:
            return "—"
        lo, hi = row[f"{p}_ci_lo"], row[f"{p}_ci_hi"]
        return f"{fmt(row[p])} [{fmt(lo)}, {fmt(hi)}]" if lo is not None else fmt(row[p])

    header = ["language", "status", "α_N (ours / paper)", "α_D (ours / paper)",
              "L∞ (ours / paper)", "A", "B", "R² log", "extrap. N / D rel. err",
              "D*/N* at 1e20 FLOPs", "n"]  # fmt: skip
    body = [
        [reference_name(r["language"]), r["status"],
         f"{ci(r, 'alpha')} / {fmt(r['paper_alpha_N'])}",
         f"{ci(r, 'beta')} / {fmt(r['paper_alpha_D'])}",
         f"{ci(r, 'E')} / {fmt(r['paper_L_inf'])}",
         fmt(r["A"]), fmt(r["B"]), fmt(r["r2_log"]),
         f"{fmt(r['extrapolation_rel_error'])} / {fmt(r['extrapolation_D_rel_error'])}",
         ci(r, "tokens_per_param_C1e20"), fmt(r["n_points"])]
        for r in rows
    ]  # fmt: skip
    return markdown_grid(header, body)


@tables("fits", needs=("per_language", "mixture_law"))
def fits_tables(df: pl.DataFrame, fits: dict[str, Any]) -> list[Table]:
    """Item `fits`: the per-language fits table (with the mixture law in its Markdown)."""
    return [fits_table(fits["per_language"], fits.get("mixture_law"))]
