"""The report's shared inputs: the collected table and the fit JSONs, read once per
`codescale figures` run, and the helpers every figure family reads them with.

Inputs: results/collect/runs.parquet (the long table of codescale.evaluate.collect, one row per
run x metric x language) and results/fits/*.json (codescale.catalog.FIT_FILES, written by
`codescale fit` and `codescale allocate`). The paper's published numbers are the third input,
read through codescale.report.reference (paper_reference.yaml, cached).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from codescale import LANGUAGES
from codescale.catalog import FIT_FILES
from codescale.errors import CodescaleError
from codescale.evaluate.collect import read_table
from codescale.io import read_json

# The collected table's columns the report reads.
REPORT_COLUMNS = (
    "run", "study", "size", "N", "D", "pair_format",
    "metric", "lang", "src_lang", "tgt_lang", "seen", "value",
)  # fmt: skip


def load_table(path: Path) -> pl.DataFrame:
    """The collected long table (checked by codescale.evaluate.collect.read_table), with N, D
    and value as floats for the plots and fits of the report."""
    df = read_table(path, REPORT_COLUMNS)
    return df.with_columns(
        pl.col("N").cast(pl.Float64), pl.col("D").cast(pl.Float64), pl.col("value").cast(pl.Float64)
    )


def load_fit(path: Path) -> dict[str, Any]:
    """One results/fits/*.json; a fit that failed is a dict with "error" and is drawn as such."""
    if not path.exists():
        raise CodescaleError(f"{path}: fit result not found (run `codescale fit` first)")
    try:
        obj = read_json(path)
    except ValueError as err:
        raise CodescaleError(f"{path}: not valid JSON: {err}") from err
    if not isinstance(obj, dict):
        raise CodescaleError(f"{path}: expected a JSON object at top level")
    return obj


def load_inputs(
    table: Path, fits_dir: Path, keys: Iterable[str]
) -> tuple[pl.DataFrame, dict[str, dict[str, Any]]]:
    """The collected table and the fit JSONs named by `keys` (codescale.catalog.FIT_FILES keys,
    read in sorted order, before the table as always), loaded once for every item of a
    `codescale figures` run."""
    fits = {key: load_fit(fits_dir / FIT_FILES[key]) for key in sorted(keys)}
    return load_table(table), fits


def error_of(obj: Any) -> str | None:
    """The failure message of a fit entry, or None when it holds a result."""
    if obj is None:
        return "absent"
    if not isinstance(obj, dict):
        return f"malformed entry ({type(obj).__name__})"
    if "error" in obj:
        return str(obj["error"])
    return None


def ordered(langs: Iterable[str]) -> list[str]:
    """Languages in the paper's order (unknown names last, sorted) so every figure agrees."""
    langs = set(langs)
    known = [lang for lang in LANGUAGES if lang in langs]
    return known + sorted(langs - set(LANGUAGES))


def largest_run(df: pl.DataFrame) -> str | None:
    """The run with the largest N (then D) among `df`: the paper reports its biggest models."""
    runs = df.select("run", "N", "D").unique().sort(["N", "D", "run"], descending=True)
    return runs["run"][0] if runs.height else None
