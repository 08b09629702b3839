"""`codescale figures`: the paper's Figures 1-6 and Tables 1-3 from the collected table and fits.

Every figure is always written, whatever the study's size: a panel with nothing to draw says why
in the panel itself, so Snakemake's declared outputs exist for a one-language smoke study and the
reader sees what is missing instead of a silently empty axis. The paper's numbers are drawn
hatched or hollow next to ours, from codescale/report/paper_reference.yaml.

This module is the stage's command-line adapter only (named for its stage, like laws/fit.py):
the figures and tables are drawn by the figure-family modules (per_language, synergy, pairing,
table3, allocation) and dispatched through codescale.report.registry; the inputs are read once by
codescale.report.inputs.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from codescale.catalog import FIGURE_STEMS, REPORT_ITEMS
from codescale.errors import CodescaleError
from codescale.io import write_json
from codescale.report import registry, style
from codescale.report.inputs import load_inputs
from codescale.report.tables import write_table

log = logging.getLogger(__name__)

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
    every = registry.items()
    items = [every[item] for item in only or ITEMS]
    df, fits = load_inputs(table, fits_dir, set().union(*(item.needs for item in items)))
    style.apply()
    manifest: dict[str, Any] = {"table": str(table), "fits_dir": str(fits_dir), "items": {}}
    for item in items:
        files: list[Path] = []
        notes: list[str] = []
        if item.figure is not None:
            fig, notes = item.figure(df, fits)
            files += style.save(fig, out_dir, FIGURE_STEMS[item.name])
        for t in item.tables(df, fits) if item.tables is not None else []:
            files += write_table(t, tables_dir)
            notes += t.warnings
        for note in notes:
            log.info("%s: %s", item.name, note)
        manifest["items"][item.name] = {"files": [str(f) for f in files], "notes": notes}
    return manifest


def run(args: argparse.Namespace) -> None:
    if args.out_dir.exists() and not args.out_dir.is_dir():
        raise CodescaleError(f"--out-dir {args.out_dir}: exists and is not a directory")
    manifest = produce(args.table, args.fits_dir, args.out_dir, args.tables_dir, args.only)
    path = args.manifest or args.out_dir / "manifest.json"
    write_json(path, manifest)
    n = sum(len(v["files"]) for v in manifest["items"].values())
    log.info("wrote %d files; manifest %s", n, path)
