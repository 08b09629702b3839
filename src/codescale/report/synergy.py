"""Cross-language synergy (the synergy study): Table 1 (ours beside the paper's, CSV + Markdown)
and its heatmap figure, both from synergy.json.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from codescale import catalog
from codescale.errors import CodescaleError
from codescale.report import reference, style
from codescale.report.inputs import error_of, ordered
from codescale.report.registry import figure, tables
from codescale.report.tables import Table, markdown_grid, reference_name

# ---------------------------------------------------------------------------------------------
# synergy.json's matrices


def _matrix(fit: dict[str, Any], key: str, langs: list[str]) -> dict[str, dict[str, float | None]]:
    """fit[key] as target -> aux -> value; accepts a list of rows or a nested dict."""
    raw = fit.get(key)
    out: dict[str, dict[str, float | None]] = {t: dict.fromkeys(langs) for t in langs}
    if isinstance(raw, dict):
        for t in langs:
            for a in langs:
                v = (raw.get(t) or {}).get(a)
                out[t][a] = None if v is None else float(v)
    elif isinstance(raw, list):
        if len(raw) != len(langs) or any(len(r) != len(langs) for r in raw):
            raise CodescaleError(f"synergy.json: {key!r} is not {len(langs)}x{len(langs)}")
        for t, row in zip(langs, raw, strict=True):
            for a, v in zip(langs, row, strict=True):
                out[t][a] = None if v is None else float(v)
    return out


def synergy_matrices(fit: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """(languages, {loss, gain, relative_gain: target -> aux -> value}) from synergy.json."""
    if error_of(fit) or "languages" not in fit:
        return [], {}
    langs = list(fit["languages"])
    mats = {k: _matrix(fit, k, langs) for k in ("loss", "gain", "relative_gain")}
    return langs, mats


# ---------------------------------------------------------------------------------------------
# Table 1


def table1_synergy(fit: dict[str, Any]) -> Table:
    """Our synergy matrix with the paper's Table 1 value in the same row (tidy CSV) and two
    side-by-side matrices in Markdown."""
    langs, mats = synergy_matrices(fit)
    p_loss = reference.synergy_loss()
    p_gain, p_rel = reference.synergy_gain()

    def paper(mat: dict[str, dict[str, float]], t: str, a: str, digits: int | None) -> Any:
        """The paper's cell, or None for a pair of languages it has not (ours alone)."""
        v = (mat.get(t) or {}).get(a)
        return v if v is None or digits is None else round(v, digits)

    rows = []
    every = ordered(set(catalog.LANGUAGES) | set(langs))  # the catalog's and any we measured
    for t in every:
        for a in every:
            ours = {k: (mats[k][t][a] if t in langs and a in langs else None) for k in mats}
            rows.append(
                {
                    "target": t,
                    "auxiliary": a,
                    "loss": ours.get("loss"),
                    "gain": ours.get("gain"),
                    "relative_gain": ours.get("relative_gain"),
                    "paper_loss": paper(p_loss, t, a, None),
                    "paper_gain": paper(p_gain, t, a, 6),
                    "paper_relative_gain": paper(p_rel, t, a, 6),
                }
            )
    notes = [
        "Rows: target language (validation loss measured on it); columns: auxiliary language.",
        "Gain = L(target+target) - L(target+aux) (> 0: the auxiliary helps); relative gain = "
        "gain / L(target+target). Diagonal = self-repetition baseline.",
        "Paper: Table 1 of arXiv 2512.13472 (64B + 64B tokens); ours: this study's synergy runs.",
    ]
    if error_of(fit):
        notes.append(f"Our synergy fit is missing: {error_of(fit)}.")

    def cell(loss: float | None, rel: float | None) -> str:
        if loss is None:
            return "—"
        return f"{loss:.4f} ({100 * rel:+.2f}%)" if rel is not None else f"{loss:.4f}"

    header = ["target \\ aux", *[reference_name(a) for a in langs]]
    ours_md = markdown_grid(
        header,
        [
            [reference_name(t)]
            + [cell(mats["loss"][t][a], mats["relative_gain"][t][a]) for a in langs]
            for t in langs
        ],
    )
    p_langs = list(p_loss)  # the paper's languages: its Table 1 as printed
    paper_md = markdown_grid(
        ["target \\ aux", *[reference_name(a) for a in p_langs]],
        [[reference_name(t)] + [cell(p_loss[t][a], p_rel[t][a]) for a in p_langs] for t in p_langs],
    )
    md = (
        "## Ours: validation loss (relative gain)\n\n"
        + (ours_md if langs else f"No synergy result: {error_of(fit) or 'no languages'}.")
        + "\n\n## Paper (Table 1): validation loss (relative gain)\n\n"
        + paper_md
    )
    columns = list(rows[0])
    warn = [f"synergy: {error_of(fit)}"] if error_of(fit) else []
    return Table(
        "table1_synergy", "Table 1: cross-language synergy", columns, rows, notes, md, warn
    )


# ---------------------------------------------------------------------------------------------
# Table 1 heatmap


@figure("table1", needs=("synergy",))
def table1_figure(df: pl.DataFrame, fits: dict[str, dict[str, Any]]) -> tuple[Figure, list[str]]:
    """Relative synergy gain (%) heatmaps, ours beside the paper's Table 1; diagonal masked
    (the self-repetition baseline, zero by construction)."""
    notes: list[str] = []
    langs, mats = synergy_matrices(fits["synergy"])
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
        style.heatmap(
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
    draw(ax_p, list(p_rel), p_rel, "paper, Table 1")  # the paper's languages only
    fig.suptitle("Table 1: synergy gain (L(i+i) − L(i+j)) / L(i+i); blue = the auxiliary helps")
    return fig, notes


@tables("table1", needs=("synergy",))
def table1_tables(df: pl.DataFrame, fits: dict[str, Any]) -> list[Table]:
    """Item `table1`: the synergy table."""
    return [table1_synergy(fits["synergy"])]
