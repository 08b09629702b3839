"""One look for every figure: fixed language colours, fonts, and atomic PNG + PDF saving.

A language keeps its colour in every figure (Okabe-Ito, colour-blind safe; yellow is left out
because it vanishes on white), so a reader who learned "Go is green" in Figure 1 can read
Figure 6 without the legend. Paper numbers are always drawn hatched or hollow next to ours.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: cluster nodes and CI have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogFormatter  # noqa: E402

from codescale import LANGUAGE_NAMES  # noqa: E402

# Each language's colour and marker: codescale.catalog (one entry per language); the figures use
# style.LANGUAGE_MARKERS.
from codescale.catalog import LANGUAGE_COLORS  # noqa: E402
from codescale.catalog import LANGUAGE_MARKERS as LANGUAGE_MARKERS  # noqa: E402
from codescale.io import atomic_path  # noqa: E402

DPI = 200

# Pair formats and allocations get their own (Tol) colours so they never read as a language.
FORMAT_COLORS: dict[str, str] = {"shuffled": "#999999", "direct": "#332288", "prompt": "#44AA99"}
ALLOCATION_COLORS: dict[str, str] = {
    "uniform": "#999999",
    "natural": "#DDCC77",
    "optimised": "#117733",
}
PAPER_HATCH = "///"
PAPER_STYLE = {"facecolor": "white", "hatch": PAPER_HATCH, "edgecolor": "#444444"}
# The y label of every validation-loss axis (Figures 1, 2 and 6).
LOSS_LABEL = "validation loss (nats/token)"


def apply() -> None:
    """Set the rcParams every figure shares (readable at single-column print size)."""
    plt.rcParams.update(
        {
            "font.size": 9,
            "axes.titlesize": 10,
            "axes.labelsize": 9,
            "legend.fontsize": 8,
            "xtick.labelsize": 8,
            "ytick.labelsize": 8,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "grid.linewidth": 0.5,
            "pdf.fonttype": 42,  # embed TrueType: text stays editable and searchable in the PDF
            "hatch.linewidth": 0.6,
        }
    )


def color(lang: str) -> str:
    return LANGUAGE_COLORS.get(lang, "#777777")


def name(lang: str) -> str:
    return LANGUAGE_NAMES.get(lang, lang)


def fmt_count(x: float) -> str:
    """1.2e6 -> '1.2M': labels for parameter and token counts."""
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


class _PlainLogFormatter(LogFormatter):
    """Log-axis labels as '2.5' or '4M' instead of '2.5x10^0': losses span under a decade, so
    matplotlib's default labels only minor ticks, in scientific notation that reads badly."""

    def __init__(self, text: Callable[[float], str]) -> None:
        super().__init__(labelOnlyBase=False, minor_thresholds=(2, 0.5))
        self._text = text

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self._text(x) if super().__call__(x, pos) else ""


def log_axis(ax: Axes, axis: str, kind: str = "value") -> None:
    """Put `axis` ('x' or 'y') on a log scale with plain labels (kind 'count' writes 1M, 2B)."""
    text = fmt_count if kind == "count" else (lambda v: f"{v:.3g}")
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target.set_major_formatter(_PlainLogFormatter(text))
    target.set_minor_formatter(_PlainLogFormatter(text))


def heatmap(grid: np.ndarray, **kw: Any) -> Any:
    """seaborn.heatmap without its matplotlib-deprecation chatter in every job log."""
    import warnings

    import seaborn as sns

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return sns.heatmap(grid, **kw)


def heatmap_axes(ax: Axes) -> None:
    """Heatmaps: no grid over the cells, row labels horizontal."""
    ax.grid(False)
    ax.tick_params(axis="y", labelrotation=0)


def annotate_missing(ax: Axes, message: str) -> None:
    """Say in the panel itself why it is empty or partial, instead of failing the whole figure."""
    ax.text(
        0.5,
        0.5,
        message,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=8,
        color="#aa0000",
        wrap=True,
        bbox={"boxstyle": "round", "facecolor": "#fff5f5", "edgecolor": "#aa0000", "lw": 0.5},
    )


def blank(ax: Axes, message: str) -> None:
    """An empty panel that carries only the reason it is empty."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    annotate_missing(ax, message)


def save(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    """Write `stem`.png (dpi 200) and `stem`.pdf atomically; close the figure; return both paths."""
    paths = []
    # Solve the constrained layout once and freeze it: otherwise every savefig re-solves it (two
    # full tick passes each), which dominated the figure stage's run time on small CPUs.
    if fig.get_layout_engine() is not None:
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    for fmt in ("png", "pdf"):
        path = out_dir / f"{stem}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI)
        paths.append(path)
    plt.close(fig)
    return paths
