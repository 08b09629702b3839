"""The report's table container and its writers: every table is written twice, CSV (tidy, one
row per cell, for machines) and Markdown (for the report and the README).

Our numbers always sit beside the paper's; a cell we cannot measure says so in words
(NOT_MEASURED) and is never filled with a guess. The tables themselves are built by their figure
family's module (per_language, synergy, pairing, table3, allocation).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codescale import LANGUAGE_NAMES
from codescale.io import atomic_path

NOT_MEASURED = "not measured (see README)"


@dataclass
class Table:
    """A report table: tidy rows for the CSV, and a title, notes and optional custom Markdown."""

    stem: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    markdown: str | None = None  # replaces the rendering of `rows` in the .md when set
    warnings: list[str] = field(default_factory=list)  # what is missing; goes to the manifest


def fmt(value: Any, digits: int = 4) -> str:
    """Human cell text: floats to `digits` significant places, None/NaN as an em dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def markdown_grid(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table from already-formatted cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_table(table: Table, tables_dir: Path) -> list[Path]:
    """Write `stem`.csv and `stem`.md atomically; return both paths."""
    csv_path = tables_dir / f"{table.stem}.csv"
    md_path = tables_dir / f"{table.stem}.md"
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=table.columns, extrasaction="raise")
        writer.writeheader()
        for row in table.rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in table.columns})
    body = table.markdown
    if body is None:
        body = markdown_grid(table.columns, [[r.get(c) for c in table.columns] for r in table.rows])
    notes = "".join(f"- {n}\n" for n in table.notes)
    text = f"# {table.title}\n\n" + (notes + "\n" if notes else "") + body + "\n"
    with atomic_path(md_path) as tmp:
        tmp.write_text(text)
    return [csv_path, md_path]


def reference_name(lang: str) -> str:
    """Display name of a language (C#, not csharp) for table headers."""
    return LANGUAGE_NAMES.get(lang, lang)
