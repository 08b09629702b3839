"""`codescale collect`: every run's spec, size and metrics in one tidy (long) table.

One row per (run, metric, language or direction). Run columns: run, study, size, N, N_total, D,
pair_format, parallel_share, seed, target, auxiliary, p_python ... p_rust (the spec's weights of the
code languages, 0 where absent); from config.json["mixture"]["spec"] and metrics.json (N, N_total,
D). Metric rows (column `metric`, then lang / src_lang / tgt_lang / seen, then value):
- train_loss: metrics.json final_train_loss (no lang);
- val_loss, bpb: per language (lang) from the evaluation (test split), nats/token and bits/byte;
- translation_loss: per direction (src_lang, tgt_lang, seen), nats per target token;
- translation_loss_seen_mean, translation_loss_unseen_mean (Figure 3), translation_loss_all_mean,
  translation_loss_nonpython_mean (no lang): means over directions;
- translation_loss_x_to_all, translation_loss_all_to_x (lang = X; Figure 4);
- translation_bleu: per direction (src_lang, tgt_lang, seen), greedy-translation BLEU (0-100), and
  translation_bleu_seen_mean, translation_bleu_unseen_mean (no lang); only with `evaluate --bleu`.
- pass_at_k (with `--execute`, one JSON of `codescale execute` per executed run): per language
  (lang) and k (in `src_lang`, e.g. "k=1"), the execution-based pass@k as a fraction (0-1);
  execute_tasks: per language, the number of tasks scored (the n of Table 3's binomial
  interval); execute_skipped: per language whose toolchain was missing, value NaN;
  execute_task_passed: per language and task, the fraction of that task's samples that passed
  (0 or 1 for greedy), with the task id in the extra column `task_id`.
A run without a translation evaluation (or without BLEU, or without execution) simply has no such
rows. The `task_id` column exists only when execution results are collected (null elsewhere).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from codescale import LANGUAGES
from codescale.errors import CodescaleError
from codescale.io import atomic_path, read_json

log = logging.getLogger(__name__)

SCHEMA: dict[str, pl.DataType] = {
    "run": pl.Utf8, "study": pl.Utf8, "size": pl.Utf8, "N": pl.Int64, "N_total": pl.Int64,
    "D": pl.Int64, "pair_format": pl.Utf8, "parallel_share": pl.Float64, "seed": pl.Int64,
    "target": pl.Utf8, "auxiliary": pl.Utf8,
    **{f"p_{lang}": pl.Float64 for lang in LANGUAGES},
    "metric": pl.Utf8, "lang": pl.Utf8, "src_lang": pl.Utf8, "tgt_lang": pl.Utf8,
    "seen": pl.Boolean, "value": pl.Float64,
}  # fmt: skip
AGGREGATE_SCALARS = ("seen_mean", "unseen_mean", "all_mean", "nonpython_mean")


def read_table(path: str | Path, required: Sequence[str]) -> pl.DataFrame:
    """The collected table (runs.parquet) as written, for its readers (`codescale fit`, the
    report), each naming the columns it reads. Raises CodescaleError naming the file when it is
    absent, not parquet, or lacks any of `required`."""
    path = Path(path)
    if not path.is_file():
        raise CodescaleError(f"{path}: collected table not found (run `codescale collect` first)")
    try:
        table = pl.read_parquet(path)
    except Exception as err:  # polars raises several types for a corrupt file
        raise CodescaleError(f"{path}: cannot read parquet: {err}") from err
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise CodescaleError(
            f"{path}: missing columns {missing} of the collected table (docs/ARCHITECTURE.md)"
        )
    return table


def _load(path: Path, what: str) -> dict[str, Any]:
    if not path.exists():
        raise CodescaleError(f"missing {what}: {path}")
    try:
        return read_json(path)
    except ValueError as err:
        raise CodescaleError(f"{path}: invalid JSON ({err})") from err


def run_columns(run_dir: Path) -> dict[str, Any]:
    """The per-run columns, from config.json and metrics.json."""
    cfg = _load(run_dir / "config.json", "run config")
    metrics = _load(run_dir / "metrics.json", "run metrics")
    spec = (cfg.get("mixture") or {}).get("spec")
    if not isinstance(spec, dict):
        raise CodescaleError(f"{run_dir / 'config.json'}: no mixture.spec")
    for key in ("N", "N_total", "D"):
        if key not in metrics:
            raise CodescaleError(f"{run_dir / 'metrics.json'}: missing {key!r}")
    weights = spec.get("weights") or {}
    return {
        "run": cfg.get("run") or spec.get("name") or str(run_dir),
        "study": spec.get("study"),
        "size": spec.get("size") or cfg.get("size"),
        "N": int(metrics["N"]),
        "N_total": int(metrics["N_total"]),
        "D": int(metrics["D"]),
        "pair_format": spec.get("pair_format"),
        "parallel_share": float(spec.get("parallel_share") or 0.0),
        "seed": spec.get("seed"),
        "target": spec.get("target"),
        "auxiliary": spec.get("auxiliary"),
        **{f"p_{lang}": float(weights.get(lang, 0.0)) for lang in LANGUAGES},
        "_final_train_loss": metrics.get("final_train_loss"),
    }


def metric_rows(final_train_loss: float | None, ev: dict[str, Any]) -> list[dict[str, Any]]:
    """The metric part of each row (metric, lang, src_lang, tgt_lang, seen, value)."""

    def row(metric: str, value: Any, lang=None, src=None, tgt=None, seen=None) -> dict[str, Any]:
        return {"metric": metric, "lang": lang, "src_lang": src, "tgt_lang": tgt, "seen": seen,
                "value": None if value is None else float(value)}  # fmt: skip

    rows = []
    if final_train_loss is not None:
        rows.append(row("train_loss", final_train_loss))
    for lang in LANGUAGES:
        stats = (ev.get("languages") or {}).get(lang)
        if stats:
            rows.append(row("val_loss", stats["loss"], lang=lang))
            rows.append(row("bpb", stats["bpb"], lang=lang))
    tr = ev.get("translation")
    if tr:
        for d in tr["directions"]:
            rows.append(row("translation_loss", d["loss"], src=d["src_lang"], tgt=d["tgt_lang"],
                            seen=bool(d["seen"])))  # fmt: skip
        agg = tr["aggregates"]
        for key in AGGREGATE_SCALARS:
            if agg.get(key) is not None:
                rows.append(row(f"translation_loss_{key}", agg[key]))
        for key in ("x_to_all", "all_to_x"):
            for lang in LANGUAGES:
                if (agg.get(key) or {}).get(lang) is not None:
                    rows.append(row(f"translation_loss_{key}", agg[key][lang], lang=lang))
        bleu = tr.get("bleu")
        if bleu:
            for d in bleu["directions"]:
                rows.append(row("translation_bleu", d["bleu"], src=d["src_lang"],
                                tgt=d["tgt_lang"], seen=bool(d["seen"])))  # fmt: skip
            for key in ("seen_mean", "unseen_mean"):
                if bleu.get(key) is not None:
                    rows.append(row(f"translation_bleu_{key}", bleu[key]))
    return rows


def execute_rows(ex: dict[str, Any]) -> list[dict[str, Any]]:
    """Metric rows of one `codescale execute` JSON (see the module doc)."""

    def row(metric: str, value: Any, lang: str, k: str | None = None, task: str | None = None):
        return {"metric": metric, "lang": lang, "src_lang": k, "tgt_lang": None, "seen": None,
                "value": None if value is None else float(value), "task_id": task}  # fmt: skip

    rows = []
    per_task: dict[tuple[str, str], list[bool]] = {}
    for r in ex.get("results") or []:
        per_task.setdefault((r["lang"], r["task_id"]), []).append(bool(r["passed"]))
    for lang in LANGUAGES:
        info = (ex.get("languages") or {}).get(lang)
        if not info:
            continue
        if info.get("status") != "ok":
            rows.append(row("execute_skipped", float("nan"), lang))
            continue
        for k, v in sorted(info["pass_at_k"].items(), key=lambda kv: int(kv[0])):
            rows.append(row("pass_at_k", v, lang, k=f"k={k}"))
        rows.append(row("execute_tasks", info["n_tasks"], lang))
        for (lg, task), passed in per_task.items():
            if lg == lang:
                rows.append(row("execute_task_passed", sum(passed) / len(passed), lang, task=task))
    return rows


def collect(
    run_dirs: list[Path], evals: list[Path], executions: list[Path] | None = None
) -> pl.DataFrame:
    executed: dict[str, dict[str, Any]] = {}
    for path in executions or []:
        ex = _load(path, "execution")
        if not ex.get("run"):
            raise CodescaleError(f"{path}: no 'run' (not a `codescale execute` output?)")
        executed[ex["run"]] = ex
    if len(run_dirs) != len(evals):
        raise CodescaleError(
            f"--run and --eval must pair up: {len(run_dirs)} runs, {len(evals)} evaluations"
        )
    rows = []
    for run_dir, ev_path in zip(run_dirs, evals, strict=True):
        cols = run_columns(run_dir)
        final = cols.pop("_final_train_loss")
        ev = _load(ev_path, "evaluation")
        if ev.get("run") is not None and ev["run"] != cols["run"]:
            raise CodescaleError(f"{ev_path} evaluates run {ev['run']!r}, not {cols['run']!r}")
        rows += [{**cols, **m} for m in metric_rows(final, ev)]
        if cols["run"] in executed:
            rows += [{**cols, **m} for m in execute_rows(executed.pop(cols["run"]))]
    if executed:
        raise CodescaleError(f"--execute results for runs not collected: {sorted(executed)}")
    if executions:
        return pl.DataFrame(rows, schema={**SCHEMA, "task_id": pl.Utf8})
    return pl.DataFrame(rows, schema=SCHEMA)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", nargs="+", type=Path, required=True, help="run dirs")
    parser.add_argument("--eval", nargs="+", type=Path, required=True,
                        help="evaluation JSONs, same order as --run")  # fmt: skip
    parser.add_argument("--execute", nargs="*", type=Path, default=[],
                        help="codescale execute JSONs (any order; matched by run)")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="results/collect/runs.parquet")
    parser.add_argument("--csv", type=Path, default=None, help="results/collect/runs.csv")


def run(args: argparse.Namespace) -> None:
    table = collect(args.run, args.eval, args.execute)
    with atomic_path(args.out) as tmp:
        table.write_parquet(tmp)
    if args.csv is not None:
        with atomic_path(args.csv) as tmp:
            table.write_csv(tmp)
    log.info("collected %d rows from %d runs", table.height, len(args.run))
