"""Translation-loss laws of the parallel-pairing study (paper Eqs. 3-5).

    L(N, D) = L_inf + A * N^-alpha + B * D^-beta
fitted exactly like the per-language law (codescale.laws.chinchilla: Huber on log residuals,
multistart L-BFGS-B, bootstrap over runs), on pairing runs (study == pairing) with N = non-embedding
parameters and D = the run's training tokens. The loss of a run is a mean translation loss:
- from per-direction rows (metric == translation_loss with src_lang/tgt_lang set) when the table has
  them: the mean over all directions, over seen (Python <-> other) or unseen directions;
- otherwise from the collected aggregates translation_loss_all_mean (or translation_loss_mean),
  translation_loss_seen_mean, translation_loss_unseen_mean; with only the last two, "all" is
  their mean weighted by the paper's 12 seen and 30 unseen directions.

Which runs feed each law:
- "shuffled": pair_format == shuffled, mean over all directions (paper Eq. 3);
- "paired_seen" / "paired_unseen": the direct and prompt formats POOLED (both formats' runs are
  points of one fit), mean over seen / unseen directions (paper Eqs. 4-5);
- "by_format": the same per single format (direct, prompt; shuffled for comparison).

`codescale fit` writes results/fits/translation.json:

    {"law": "L(N, D) = L_inf + A * N^-alpha + B * D^-beta",
     "shuffled": LAW, "paired_seen": LAW, "paired_unseen": LAW,
     "by_format": {"direct": {"seen": LAW, "unseen": LAW}, "prompt": {...},
                   "shuffled": {"seen": LAW, "unseen": LAW}}}
    LAW = chinchilla.analyse entry with E renamed L_inf ("params": {L_inf, A, alpha, B, beta}, "ci",
          "points": [[N, D, L], ...], "r2_log", "r2_by_N", "extrapolation", "converged", "message",
          "nfev", "n_points") plus "formats": [..], "directions": "all"|"seen"|"unseen";
          or {"error": str, "formats", "directions"} when there are too few runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codescale.errors import CodescaleError
from codescale.laws import chinchilla
from codescale.laws.fitting import DEFAULT_HUBER_DELTA

LAW = "L(N, D) = L_inf + A * N^-alpha + B * D^-beta"
AGGREGATES = {
    "all": ("translation_loss_all_mean", "translation_loss_mean"),
    "seen": ("translation_loss_seen_mean",),
    "unseen": ("translation_loss_unseen_mean",),
}
PAIRED = ("direct", "prompt")
N_SEEN, N_UNSEEN = 12, 30  # directions of the paper's translation test (7 languages)


def run_losses(table) -> list[dict]:
    """One record per pairing run: run, format, N, D and its all/seen/unseen mean losses."""
    import polars as pl

    sub = table.filter(pl.col("study") == "pairing")
    records = []
    for (run,), rows in sub.group_by(["run"], maintain_order=True):
        fmt = rows["pair_format"][0]
        rec = {"run": run, "format": fmt, "N": float(rows["N"][0]), "D": float(rows["D"][0])}
        per_dir = rows.filter(
            (pl.col("metric") == "translation_loss") & pl.col("src_lang").is_not_null()
        )
        for key, names in AGGREGATES.items():
            value = None
            if per_dir.height:
                sel = per_dir
                if key != "all":
                    sel = per_dir.filter(pl.col("seen") == (key == "seen"))
                if sel.height:
                    value = float(sel["value"].mean())
            if value is None:
                agg = rows.filter(pl.col("metric").is_in(list(names)))
                if agg.height:
                    value = float(agg["value"].mean())
            rec[key] = value
        if rec["all"] is None and rec["seen"] is not None and rec["unseen"] is not None:
            # only the two aggregates: weight them by the paper's 12 seen / 30 unseen directions
            rec["all"] = (N_SEEN * rec["seen"] + N_UNSEEN * rec["unseen"]) / (N_SEEN + N_UNSEEN)
        records.append(rec)
    return records


def fit_law(
    records: Sequence[dict],
    formats: Sequence[str],
    directions: str,
    n_bootstrap: int,
    seed: int,
    delta: float,
) -> dict:
    """One translation law on the runs of `formats`; {"error"} when they cannot be fitted."""
    pts = [
        (r["N"], r["D"], r[directions])
        for r in records
        if r["format"] in formats and r[directions] is not None
    ]
    meta = {"formats": list(formats), "directions": directions}
    if not pts:
        return {
            "error": f"no pairing runs of format {'/'.join(formats)} with {directions} "
            "translation losses",
            **meta,
        }
    N, D, L = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
    where = f"translation {'+'.join(formats)} {directions}"
    try:
        out = chinchilla.analyse(
            N, D, L, n_bootstrap, seed, delta, where=where, rename={"E": "L_inf"}
        )
    except CodescaleError as err:
        return {"error": str(err), **meta}
    return {**out, **meta}


def analyse(
    table, n_bootstrap: int = 200, seed: int = 0, delta: float = DEFAULT_HUBER_DELTA
) -> dict:
    """translation.json content (never raises for lack of runs: each law records its error)."""
    records = run_losses(table)
    args = (n_bootstrap, seed, delta)
    return {
        "law": LAW,
        "shuffled": fit_law(records, ("shuffled",), "all", *args),
        "paired_seen": fit_law(records, PAIRED, "seen", *args),
        "paired_unseen": fit_law(records, PAIRED, "unseen", *args),
        "by_format": {
            fmt: {d: fit_law(records, (fmt,), d, *args) for d in ("seen", "unseen")}
            for fmt in ("direct", "prompt", "shuffled")
        },
    }
