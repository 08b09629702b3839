"""The cross-language synergy matrix (paper Table 1) and a Data-Mixing-Law fit of mixtures.

Synergy runs are named synergy/A+B/... (one run per unordered pair, see synergy_cells); the
diagonal A+A (the target's data
repeated twice) is the self-repetition baseline. The matrix entry (i, j) is the validation loss on
target i of the run TARGET=i, AUX=j (rows target, columns auxiliary; seeds averaged). The paper's
convention, used for every number it reports:
    gain[i][j] = loss[i][i] - loss[i][j]          (> 0: auxiliary j helps target i)
    relative_gain[i][j] = gain[i][j] / loss[i][i]
If the table holds synergy runs at several (N, D), the configuration with the most matrix cells is
used (ties: largest N, then largest D); the chosen N and D are reported.

Parametric part, a Data Mixing Law (Ye et al. 2024) per target language i:
    L_i(r) = c_i + k_i * exp(sum_j t_ij r_j)
with r the mixture proportions (p_* columns) of every synergy and allocation run at the chosen
(N, D), and L_i the val_loss on language i of that run (also runs that do not contain i, when the
table has them). Because sum_j r_j = 1, adding a constant to every t_ij is absorbed by k_i: we fix
the gauge t_ii = 0, leaving c_i, k_i and t_ij (j != i). A target is fitted only when every one of
these parameters is locally identifiable (full-rank Jacobian at a generic point). With only the
pairwise runs' losses on their own target, row i has L points for L + 1 parameters: nothing is
identifiable (c_i trades against k_i and every t_ij); the reason is recorded instead.

`codescale fit` writes results/fits/synergy.json:

    {"languages": [...], "N": float, "D": float,
     "convention": str,
     "baseline": {lang: loss or null},
     "loss": LxL, "gain": LxL, "relative_gain": LxL,  # rows target, cols aux; null = no run
     "parametric": {"form": str, "gauge": "t_ii = 0",
                    "targets": {lang: {"c", "k", "t": {lang: t_ij}, "n_points", "rmse",
                                       "success", "message"}
                              or {"error": str, "identifiable": [param names], "n_points"}}}
                   or {"error": str}}
"""

from __future__ import annotations

from collections.abc import Sequence

import lmfit
import numpy as np

from codescale import LANGUAGES
from codescale.errors import CodescaleError
from codescale.laws.fitting import single_threaded_blas

CONVENTION = "gain = L(Li+Li) - L(Li+Lj) (> 0 helps); relative_gain = gain / L(Li+Li)"
FORM = "L_i(r) = c_i + k_i * exp(sum_j t_ij r_j)"
P_COLUMNS = tuple(f"p_{lang}" for lang in LANGUAGES)


def synergy_cells(table, languages: Sequence[str] | None = None):
    """Mean val_loss per (target, auxiliary) cell at the chosen (N, D) config.

    A run mixing L_a and L_b (D tokens each; named synergy/a+b) fills two cells: (a, b) from its
    loss on L_a and (b, a) from its loss on L_b. A run a+a (the self-repetition baseline) fills
    (a, a). So the paper's 7x7 table needs 7 + 21 runs.
    """
    import polars as pl

    sub = table.filter(
        (pl.col("study") == "synergy")
        & (pl.col("metric") == "val_loss")
        & pl.col("auxiliary").is_not_null()
        & ((pl.col("lang") == pl.col("target")) | (pl.col("lang") == pl.col("auxiliary")))
    ).with_columns(
        pl.col("lang").alias("cell_target"),
        pl.when(pl.col("lang") == pl.col("target"))
        .then(pl.col("auxiliary"))
        .otherwise(pl.col("target"))
        .alias("cell_aux"),
    )
    if languages is not None:
        sub = sub.filter(pl.col("cell_target").is_in(list(languages)))
        sub = sub.filter(pl.col("cell_aux").is_in(list(languages)))
    if sub.height == 0:
        raise CodescaleError(
            "no synergy runs in the table (study == 'synergy', metric == 'val_loss' on the "
            "target or auxiliary language)"
        )
    configs = (
        sub.group_by(["N", "D"])
        .agg(pl.struct(["cell_target", "cell_aux"]).n_unique().alias("cells"))
        .sort(["cells", "N", "D"], descending=True)
    )
    N, D = float(configs["N"][0]), float(configs["D"][0])
    cells = (
        sub.filter((pl.col("N") == N) & (pl.col("D") == D))
        .group_by(["cell_target", "cell_aux"])
        .agg(pl.col("value").mean())
    )
    rows = cells.iter_rows(named=True)
    return N, D, {(r["cell_target"], r["cell_aux"]): float(r["value"]) for r in rows}


def synergy_matrix(table, languages: Sequence[str] | None = None) -> dict:
    """Loss, gain and relative-gain matrices (without the parametric fit)."""
    N, D, cells = synergy_cells(table, languages)
    present = {t for t, _ in cells} | {a for _, a in cells}
    langs = [lang for lang in (languages or LANGUAGES) if lang in present]
    unknown = present - set(LANGUAGES)
    if unknown:
        raise CodescaleError(f"unknown languages in synergy runs: {sorted(unknown)}")
    loss = [[cells.get((t, a)) for a in langs] for t in langs]
    baseline = {t: cells.get((t, t)) for t in langs}
    gain, rel = [], []
    for t, row in zip(langs, loss, strict=True):
        b = baseline[t]
        gain.append([None if b is None or v is None else b - v for v in row])
        rel.append([None if b is None or v is None else (b - v) / b for v in row])
    return {
        "languages": langs,
        "N": N,
        "D": D,
        "convention": CONVENTION,
        "baseline": baseline,
        "loss": loss,
        "gain": gain,
        "relative_gain": rel,
    }


def mixture_rows(table, N: float, D: float, languages: Sequence[str]):
    """Runs of the synergy and allocation studies at (N, D): proportions and val_loss per language.

    Returns (R, losses) with R an (n_runs, L) array of proportions over `languages` (null counts as
    0; renormalised to sum 1; runs with no weight on `languages` dropped) and losses
    {lang: array of val_loss per run, NaN where not evaluated}.
    """
    import polars as pl

    sub = table.filter(
        pl.col("study").is_in(["synergy", "allocation"])
        & (pl.col("metric") == "val_loss")
        & (pl.col("N") == N)
        & (pl.col("D") == D)
    )
    cols = [f"p_{lang}" for lang in languages]
    missing = [c for c in cols if c not in sub.columns]
    if missing:
        raise CodescaleError(f"the table lacks the proportion columns {missing}")
    wide = (
        sub.group_by(["run", "lang"])
        .agg(pl.col("value").mean(), *[pl.col(c).first() for c in cols])
        .sort(["run", "lang"])
    )
    runs = sorted(set(wide["run"].to_list()))
    R = np.full((len(runs), len(languages)), np.nan)
    losses = {lang: np.full(len(runs), np.nan) for lang in languages}
    pos = {r: i for i, r in enumerate(runs)}
    for row in wide.iter_rows(named=True):
        i = pos[row["run"]]
        R[i] = [0.0 if row[c] is None else row[c] for c in cols]  # null: not in the mixture
        if row["lang"] in losses:
            losses[row["lang"]][i] = row["value"]
    ok = np.all(np.isfinite(R), axis=1) & (R.sum(axis=1) > 0)
    R = R[ok] / R[ok].sum(axis=1, keepdims=True)
    return R, {k: v[ok] for k, v in losses.items()}


def _dml(R: np.ndarray, c: float, k: float, t: np.ndarray) -> np.ndarray:
    return c + k * np.exp(R @ t)


def identifiable(R: np.ndarray, target: int) -> tuple[list[int], int]:
    """Indices (into [c, k, t_j for j != target]) that are locally identifiable from mixtures R.

    A parameter is identifiable when its unit vector lies in the row space of the Jacobian at a
    generic parameter point (the null-space directions are the combinations the data cannot see).
    """
    L = R.shape[1]
    others = [j for j in range(L) if j != target]
    t = np.zeros(L)
    t[others] = 0.37 * (np.arange(len(others)) + 1) / L - 0.1  # generic, not special
    e = np.exp(R @ t)
    J = np.column_stack([np.ones(len(R)), e, *(R[:, j] * e for j in others)])
    n_par = J.shape[1]
    _, s, vt = np.linalg.svd(J, full_matrices=True)
    rank = int(np.sum(s > 1e-9 * max(s.max(), 1.0))) if s.size else 0
    null = vt[rank:]
    if null.shape[0] == 0:
        return list(range(n_par)), rank
    return [p for p in range(n_par) if np.linalg.norm(null[:, p]) < 1e-6], rank


def fit_target(R: np.ndarray, y: np.ndarray, target: int, languages: Sequence[str]) -> dict:
    """Fit the Data Mixing Law for one target, or say why it cannot be fitted (never raises)."""
    ok = np.isfinite(y)
    R, y = R[ok], y[ok]
    others = [j for j in range(len(languages)) if j != target]
    names = ["c", "k", *(f"t_{languages[j]}" for j in others)]
    if len(y) == 0:
        return {"error": "no runs evaluated on this language", "identifiable": [], "n_points": 0}
    # distinct mixtures only count once for identifiability
    uniq = np.unique(np.round(R, 12), axis=0)
    idx, rank = identifiable(uniq, target)
    if len(idx) < len(names):
        return {
            "error": (
                f"{len(uniq)} distinct mixtures give Jacobian rank {rank} for {len(names)} "
                f"parameters ({', '.join(names)}): not identifiable"
            ),
            "identifiable": [names[i] for i in idx],
            "n_points": int(len(y)),
        }

    def residual(params: lmfit.Parameters) -> np.ndarray:
        t = np.zeros(len(languages))
        for j in others:
            t[j] = params[f"t_{languages[j]}"].value
        return _dml(R, params["c"].value, params["k"].value, t) - y

    best = None
    lo = float(y.min())
    span = max(float(np.ptp(y)), 1e-3 * lo)
    for frac in (0.0, 0.5, 0.9):
        params = lmfit.Parameters()
        params.add("c", value=frac * lo, min=-10 * abs(lo) - 1, max=lo)
        params.add("k", value=max(float(y.mean()) - frac * lo, span), min=1e-9, max=1e3)
        for j in others:
            params.add(f"t_{languages[j]}", value=0.0, min=-30, max=30)
        with single_threaded_blas():
            res = lmfit.minimize(residual, params, method="leastsq", calc_covar=False)
        cost = float(np.sum(res.residual**2))
        if np.isfinite(cost) and (best is None or cost < best[0]):
            best = (cost, res)
    if best is None:
        return {"error": "no start converged", "identifiable": names, "n_points": int(len(y))}
    cost, res = best
    p = res.params
    return {
        "c": float(p["c"].value),
        "k": float(p["k"].value),
        "t": {
            lang: (0.0 if j == target else float(p[f"t_{lang}"].value))
            for j, lang in enumerate(languages)
        },
        "n_points": int(len(y)),
        "rmse": float(np.sqrt(cost / len(y))),
        "success": bool(res.success),
        "message": str(res.message),
    }


def parametric(table, N: float, D: float, languages: Sequence[str]) -> dict:
    """The Data Mixing Law per target from every mixture at (N, D); reasons where not fittable."""
    try:
        R, losses = mixture_rows(table, N, D, languages)
    except CodescaleError as err:
        return {"error": str(err)}
    if len(R) == 0:
        return {"error": f"no synergy/allocation runs with proportions at N={N:g}, D={D:g}"}
    targets = {lang: fit_target(R, losses[lang], i, languages) for i, lang in enumerate(languages)}
    return {"form": FORM, "gauge": "t_ii = 0", "targets": targets}


def analyse(table, languages: Sequence[str] | None = None) -> dict:
    """synergy.json content; raises CodescaleError only when there are no synergy runs at all."""
    out = synergy_matrix(table, languages)
    out["parametric"] = parametric(table, out["N"], out["D"], out["languages"])
    return out
