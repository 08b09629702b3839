"""The per-language Chinchilla law L(N, D) = E + A / N**alpha + B / D**beta (paper Eq. 1).

Fitted as Hoffmann et al. (2022) Approach 3: Huber loss (delta 1e-3) on log residuals
log L_pred - log L_obs, L-BFGS-B from a grid of starts, in a well-conditioned parameterisation:
    log L_pred = logsumexp(a - alpha * x, b - beta * y, e),   x = log(N / N0), y = log(D / D0)
with N0, D0 the geometric means of the data, so a = log(A / N0**alpha), b = log(B / D0**beta) and
e = log E are all of the order of log-losses whatever the units of N and D. Reported parameters are
converted back to raw N and D. The same law (E named L_inf) is the translation law of Eqs. 3-5.

`codescale fit` writes results/fits/per_language.json with this module's `analyse` entries:

    {"law": "L(N, D) = E + A / N^alpha + B / D^beta",
     "huber_delta": 0.001, "bootstrap": 200,
     "languages": {LANG: {
        "params": {"E", "A", "alpha", "B", "beta"},
        "ci": {param: [lo, hi]},                  # 95% percentile bootstrap over runs
        "r2_log": float,                          # R^2 of log L over all points
        "r2_by_N": {"<N>": float or null},        # R^2 of log L among the points of one N
        "extrapolation": {"heldout_N", "predicted", "observed", "rel_error",
                          "n_heldout", "rel_error_mean"} or {"error": str},
        "converged": bool, "message": str, "nfev": int,
        "n_points": int, "points": [[N, D, L], ...],
        "bootstrap_failed": int}                  # resamples that were degenerate
      or {"error": str}}}

`extrapolation`: the law refitted without every run at the largest N, predicting the held-out run
with the largest D at that N (`predicted`, `observed`,
rel_error = (predicted - observed) / observed); rel_error_mean is the mean |relative error|
over all `n_heldout` runs at that N.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import lmfit
import numpy as np

from codescale.errors import CodescaleError
from codescale.laws.fitting import (
    DEFAULT_HUBER_DELTA,
    FitOutcome,
    bootstrap,
    fit_multistart,
    grid_starts,
    huber,
    percentile_ci,
    r_squared,
)

LAW = "L(N, D) = E + A / N^alpha + B / D^beta"
PARAMS = ("E", "A", "alpha", "B", "beta")
N_STARTS = 6
BOUNDS = {
    "e": (-20.0, 10.0),
    "a": (-20.0, 10.0),
    "alpha": (1e-3, 5.0),
    "b": (-20.0, 10.0),
    "beta": (1e-3, 5.0),
}


def chinchilla_loss(N, D, E, A, alpha, B, beta):
    """L(N, D) = E + A N^-alpha + B D^-beta, in raw units (arrays broadcast)."""
    N = np.asarray(N, dtype=float)
    D = np.asarray(D, dtype=float)
    return E + A * N ** (-alpha) + B * D ** (-beta)


def _log_law(x, y, e, a, alpha, b, beta):
    """log L in the normalised parameterisation (stable: logaddexp never overflows)."""
    return np.logaddexp(np.logaddexp(a - alpha * x, b - beta * y), e)


def _log_law_gradient(values: Mapping[str, float], x, y) -> dict[str, np.ndarray]:
    """d log L / d (e, a, alpha, b, beta): softmax weights of the three terms (exact)."""
    t1 = values["a"] - values["alpha"] * x
    t2 = values["b"] - values["beta"] * y
    f = _log_law(x, y, **values)
    w1, w2, w3 = np.exp(t1 - f), np.exp(t2 - f), np.exp(values["e"] - f)
    return {"e": w3, "a": w1, "alpha": -x * w1, "b": w2, "beta": -y * w2}


MODEL = lmfit.Model(_log_law, independent_vars=["x", "y"], name="chinchilla_log")


@dataclass(frozen=True)
class ChinchillaFit:
    """A fitted law: raw parameters, the optimiser's report, and the normalisation used."""

    params: dict[str, float]
    outcome: FitOutcome
    internal: dict[str, float]
    N0: float
    D0: float

    def predict(self, N, D) -> np.ndarray:
        return chinchilla_loss(N, D, **self.params)


def check_points(N, D, L, where: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate (N, D, L) for a 5-parameter fit; raise CodescaleError saying what is wrong."""
    at = f" ({where})" if where else ""
    N, D, L = (np.asarray(v, dtype=float).ravel() for v in (N, D, L))
    if not (N.size == D.size == L.size):
        raise CodescaleError(f"N, D and L differ in length{at}: {N.size}, {D.size}, {L.size}")
    for name, arr in (("N", N), ("D", D), ("loss", L)):
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise CodescaleError(f"every {name} must be a finite positive number{at}")
    # seeds repeated at one (N, D) are separate runs but not separate equations
    distinct = np.unique(np.column_stack([N, D]), axis=0).shape[0]
    if distinct < len(PARAMS):
        raise CodescaleError(
            f"{distinct} distinct (N, D) points cannot determine the {len(PARAMS)} parameters of "
            f"{LAW}{at}: need runs at at least {len(PARAMS)} (N, D) combinations"
        )
    if np.ptp(L) == 0:
        raise CodescaleError(f"all {L.size} losses are equal ({L[0]:g}){at}: nothing to fit")
    if np.unique(N).size < 2 or np.unique(D).size < 2:
        raise CodescaleError(
            f"need at least 2 distinct model sizes and 2 distinct token counts{at}, got "
            f"{np.unique(N).size} N and {np.unique(D).size} D"
        )
    return N, D, L


def fit_chinchilla(
    N,
    D,
    L,
    delta: float = DEFAULT_HUBER_DELTA,
    n_starts: int = N_STARTS,
    start: Mapping[str, float] | None = None,
    where: str = "",
    _checked: bool = False,
) -> ChinchillaFit:
    """Fit the law to points (N, D, L) and return raw parameters plus the convergence report.

    `start` (raw E, A, alpha, B, beta, e.g. a previous fit) replaces the grid of starts: the
    bootstrap refits start from the full-data optimum.
    """
    if not _checked:
        N, D, L = check_points(N, D, L, where)
    N0 = float(np.exp(np.mean(np.log(N))))
    D0 = float(np.exp(np.mean(np.log(D))))
    x, y, logL = np.log(N / N0), np.log(D / D0), np.log(L)
    if start is None:
        starts = _grid(x, y, L, delta, n_starts)
    else:  # raw -> this data's normalisation
        starts = [
            {
                "e": float(np.log(start["E"])),
                "a": float(np.log(start["A"]) - start["alpha"] * np.log(N0)),
                "alpha": float(start["alpha"]),
                "b": float(np.log(start["B"]) - start["beta"] * np.log(D0)),
                "beta": float(start["beta"]),
            }
        ]
    try:
        out = fit_multistart(
            MODEL, logL, starts, BOUNDS, delta, gradient=_log_law_gradient, x=x, y=y
        )
    except CodescaleError as err:
        raise CodescaleError(f"{err}{f' ({where})' if where else ''}") from None
    v = out.values
    params = {
        "E": float(np.exp(v["e"])),
        "A": float(np.exp(v["a"] + v["alpha"] * np.log(N0))),
        "alpha": v["alpha"],
        "B": float(np.exp(v["b"] + v["beta"] * np.log(D0))),
        "beta": v["beta"],
    }
    return ChinchillaFit(params=params, outcome=out, internal=v, N0=N0, D0=D0)


def _grid(x, y, L, delta: float, k: int) -> list[dict[str, float]]:
    """Data-scaled grid: E below the smallest loss, each power term a fraction of the loss range."""
    lo, span = float(L.min()), float(np.ptp(L))
    grid = {
        "e": np.log(lo * np.array([0.05, 0.3, 0.6, 0.85, 0.97])),
        "a": np.log(span * np.array([0.02, 0.1, 0.3, 1.0, 3.0])),
        "alpha": np.array([0.05, 0.2, 0.4, 0.7, 1.0, 1.5, 2.5]),
        "b": np.log(span * np.array([0.02, 0.1, 0.3, 1.0, 3.0])),
        "beta": np.array([0.05, 0.2, 0.4, 0.7, 1.0, 1.5, 2.5]),
    }
    logL = np.log(L)

    def objective(v: dict[str, np.ndarray]) -> np.ndarray:
        pred = _log_law(
            x[None, :],
            y[None, :],
            v["e"][:, None],
            v["a"][:, None],
            v["alpha"][:, None],
            v["b"][:, None],
            v["beta"][:, None],
        )
        return huber(pred - logL[None, :], delta).sum(axis=1)

    return grid_starts(objective, grid, k)


def _extrapolation(N, D, L, delta: float) -> dict:
    """Refit without the largest N and predict it (the paper's 'does the law extrapolate' check)."""
    top = float(N.max())
    keep = np.less(N, top)
    try:
        sub = fit_chinchilla(N[keep], D[keep], L[keep], delta, where=f"without N={top:g}")
    except CodescaleError as err:
        return {"error": f"cannot refit without the largest N: {err}"}
    held = np.flatnonzero(~keep)
    pred = sub.predict(N[held], D[held])
    rel = (pred - L[held]) / L[held]
    j = int(np.argmax(D[held]))
    return {
        "heldout_N": top,
        "predicted": float(pred[j]),
        "observed": float(L[held][j]),
        "rel_error": float(rel[j]),
        "n_heldout": int(held.size),
        "rel_error_mean": float(np.mean(np.abs(rel))),
    }


def analyse(
    N,
    D,
    L,
    n_bootstrap: int = 200,
    seed: int = 0,
    delta: float = DEFAULT_HUBER_DELTA,
    where: str = "",
    rename: Mapping[str, str] | None = None,
) -> dict:
    """Everything reported per law: fit, bootstrap CIs, R^2, extrapolation, points (JSON-ready).

    `rename` maps parameter names for laws written differently (translation: E -> L_inf).
    Raises CodescaleError when the points cannot be fitted at all.
    """
    N, D, L = check_points(N, D, L, where)
    fit = fit_chinchilla(N, D, L, delta, where=where, _checked=True)
    pred = fit.predict(N, D)
    logL, logP = np.log(L), np.log(pred)
    by_n = {}
    for n in np.unique(N):
        m = np.equal(N, n)
        r2 = r_squared(logL[m], logP[m])
        by_n[_key(n)] = r2

    def refit(idx: np.ndarray) -> dict[str, float]:
        bN, bD, bL = check_points(N[idx], D[idx], L[idx])
        return fit_chinchilla(bN, bD, bL, delta, start=fit.params, _checked=True).params

    samples, failed = bootstrap(refit, N.size, n_bootstrap, seed)
    ci = percentile_ci({p: samples.get(p, []) for p in PARAMS})
    names = dict(rename or {})
    out = fit.outcome
    return {
        "params": {names.get(k, k): v for k, v in fit.params.items()},
        "ci": {names.get(k, k): v for k, v in ci.items()},
        "r2_log": r_squared(logL, logP),
        "r2_by_N": by_n,
        "extrapolation": _extrapolation(N, D, L, delta),
        "converged": out.converged,
        "message": out.report,
        "nfev": out.nfev,
        "n_points": int(N.size),
        "points": [[float(n), float(d), float(lv)] for n, d, lv in zip(N, D, L, strict=True)],
        "bootstrap_failed": failed,
    }


def _key(n: float) -> str:
    """JSON key of a model size: an integer when it is one (N counts parameters)."""
    return str(int(n)) if float(n).is_integer() else repr(float(n))


def mono_points(table, lang: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, D, val_loss) of the per-language grid: study mono, the run's language, loss on lang.

    The run's language is its `target`; where a table leaves target null, a run named
    mono/LANG/... or with p_LANG == 1 is LANG's run.
    """
    import polars as pl

    own = pl.col("run").str.starts_with(f"mono/{lang}/")
    if f"p_{lang}" in table.columns:
        own = own | (pl.col(f"p_{lang}").fill_null(0.0) >= 1 - 1e-9)
    sub = table.filter(
        (pl.col("study") == "mono")
        & (pl.col("metric") == "val_loss")
        & (pl.col("lang") == lang)
        & ((pl.col("target") == lang) | (pl.col("target").is_null() & own)).fill_null(False)
    )
    return (
        sub["N"].to_numpy().astype(float),
        sub["D"].to_numpy().astype(float),
        sub["value"].to_numpy().astype(float),
    )
