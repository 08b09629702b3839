"""The per-language Chinchilla law L(N, D) = E + A / N**alpha + B / D**beta (paper Eq. 1).

Fitted as Hoffmann et al. (2022) Approach 3 with the law engine (codescale.laws.engine): Huber loss
(delta 1e-3) on log residuals log L_pred - log L_obs, Levenberg-Marquardt from the best points of
a grid, in a well-conditioned (and unit-invariant) parameterisation:
    log L_pred = logsumexp(a - alpha * x, b - beta * y, e),   x = log(N / N0), y = log(D / D0)
with N0, D0 the geometric means of the data, so a = log(A / N0**alpha), b = log(B / D0**beta) and
e = log E are all of the order of log-losses whatever the units of N and D. Reported parameters are
converted back to raw N (non-embedding parameters) and D (tokens); units in UNITS. This is the
transfer law of codescale.laws.mixture_law restricted to one language (same engine, same model).
The same law (E named L_inf) is the translation law of Eqs. 3-5.

Honest convergence: `converged` only when the optimiser stopped normally AND no parameter lies
within 1% of its bound width of a bound (fitted scale); otherwise "flagged" with the parameters
named. Intervals: a parametric bootstrap (the noise of every run redrawn at the fit's residual
scale, dof-corrected; a multistart per resample from the full-data optimum and the best grid
point). A fit with as many distinct points as parameters has no residual degrees of freedom: it
is flagged and its intervals are null, with the reason. Too few points: CodescaleError naming the
language.

`codescale fit` writes results/fits/per_language.json with this module's `analyse` entries:

    {"law": "L(N, D) = E + A / N^alpha + B / D^beta", "units": {param: unit},
     "huber_delta": 0.001, "bootstrap": 200,
     "languages": {LANG: {
        "params": {"E", "A", "alpha", "B", "beta"}, "units": {param: unit},
        "ci": {param: [lo, hi]},                  # 95% parametric bootstrap percentile interval
        "r2_log": float,                          # R^2 of log L over all points
        "r2_by_N": {"<N>": float or null},        # R^2 of log L among the points of one N
        "extrapolation": {"heldout_N", "fit_N_max", "predicted", "observed", "rel_error",
                          "n_heldout", "rel_error_mean", "fit_converged",
                          "by_D": {"heldout_D", "fit_D_max", ...same} or {"error"}}
                         or {"error": str},
        "converged": bool, "status": "converged" | "flagged: ...", "at_bounds": [names],
        "message": str, "nfev": int, "sigma_log": float or null,
        "n_points": int, "points": [[N, D, L], ...],
        "bootstrap_converged": float or null,      # fraction of resamples that converged
        "frontier": [{"C", "N", "D", "tokens_per_param", "N_ci", "D_ci",
                      "tokens_per_param_ci"}]}     # compute-optimal at C = 1e18..1e21 FLOPs
      or {"error": str}}}

`extrapolation` (issue 15.8): the law refitted on the smaller half of the model sizes (the first
ceil(k/2) of k distinct N, at least 2) predicts every run at the largest N: rel_error =
(predicted - observed) / observed at the largest D there, rel_error_mean the mean |rel. error|.
`by_D` does the same along D (fit on the smaller half of the token counts, predict the largest D).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from codescale.errors import CodescaleError
from codescale.laws import engine
from codescale.laws.fitting import DEFAULT_HUBER_DELTA, FitOutcome, r_squared

LAW = "L(N, D) = E + A / N^alpha + B / D^beta"
PARAMS = ("E", "A", "alpha", "B", "beta")
N_STARTS = 6
UNITS = {
    "E": "nats/token",
    "A": "nats/token x (non-embedding parameters)^alpha",
    "alpha": "dimensionless",
    "B": "nats/token x tokens^beta",
    "beta": "dimensionless",
}


def chinchilla_loss(N, D, E, A, alpha, B, beta):
    """L(N, D) = E + A N^-alpha + B D^-beta, in raw units (arrays broadcast)."""
    N = np.asarray(N, dtype=float)
    D = np.asarray(D, dtype=float)
    return E + A * N ** (-alpha) + B * D ** (-beta)


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


def _block(N, D, L, where: str):
    """The one-language block of the transfer law (no partners): exactly this law."""
    from codescale.laws.mixture_law import Block

    n = N.size
    return Block(where or "law", [f"point {i}" for i in range(n)], np.arange(n), N, D,
                 np.ones(n), np.zeros((n, 0)), [], np.log(L))  # fmt: skip


def _outcome(block, fit: engine.BatchFit, n_starts: int) -> FitOutcome:
    specs = block.specs()
    flagged = [s.name for s, f in zip(specs, fit.at_bounds[0], strict=True) if f]
    stopped = bool(fit.stopped[0])
    if stopped:
        msg = "stopped: relative change of the objective below tolerance"
    else:
        msg = f"not stopped after {fit.iterations} iterations"
    return FitOutcome(
        values=dict(zip([s.name for s in specs], map(float, fit.theta[0]), strict=True)),
        objective=float(fit.objective[0]),
        success=stopped,
        message=msg,
        nfev=int(fit.iterations),
        n_starts=n_starts,
        at_bounds=flagged,
    )


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

    `start` (raw E, A, alpha, B, beta, e.g. a previous fit) is added to the grid's starts.
    """
    if not _checked:
        N, D, L = check_points(N, D, L, where)
    block = _block(N, D, L, where)
    f = block.model()
    ones = np.ones(N.size)
    starts = engine.best_starts(f, block.logL, block.grid(), ones, delta, n_starts)
    if start is not None:
        own = [
            np.log(start["E"]),
            np.log(start["A"]) - start["alpha"] * np.log(block.N0),
            start["alpha"],
            np.log(start["B"]) - start["beta"] * np.log(block.D0),
            start["beta"],
        ]
        starts = np.vstack([np.array(own)[None, :], starts])
    fit = engine.multistart(f, block.logL, starts, block.specs(), ones, delta)
    raw = block.raw(fit.theta)
    params = {p: float(raw[p][0]) for p in PARAMS}
    out = _outcome(block, fit, len(starts))
    return ChinchillaFit(params=params, outcome=out, internal=out.values, N0=block.N0, D0=block.D0)


def _sigma(block, theta: np.ndarray) -> float | None:
    """Residual scale of log L, dof-corrected; None when there are no residual dof."""
    pred, _ = block.model()(theta[None, :])
    dof = block.logL.size - len(block.specs())
    if dof <= 0:
        return None
    return float(np.sqrt(np.sum((pred[0] - block.logL) ** 2) / dof))


def _smaller_half(values: np.ndarray) -> float | None:
    """Largest value of the smaller half of the distinct values (ceil(k/2), at least 2)."""
    uniq = np.unique(values)
    m = max(2, math.ceil(uniq.size / 2))
    return None if m >= uniq.size else float(uniq[m - 1])


def _extrapolate(N, D, L, delta: float, along: str) -> dict:
    """Refit on the smaller half of N (or D), predict every run at the largest N (or D)."""
    x = N if along == "N" else D
    cut = _smaller_half(x)
    if cut is None:
        return {"error": f"{np.unique(x).size} distinct {along}: no smaller half to fit on"}
    keep = x <= cut
    top = float(x.max())
    try:
        sub = fit_chinchilla(N[keep], D[keep], L[keep], delta, where=f"{along} <= {cut:g}")
    except CodescaleError as err:
        return {"error": f"cannot refit on the smaller half of {along}: {err}"}
    held = np.flatnonzero(x == top)
    pred = sub.predict(N[held], D[held])
    rel = (pred - L[held]) / L[held]
    other = D[held] if along == "N" else N[held]
    j = int(np.argmax(other))
    return {
        f"heldout_{along}": top,
        f"fit_{along}_max": cut,
        "predicted": float(pred[j]),
        "observed": float(L[held][j]),
        "rel_error": float(rel[j]),
        "n_heldout": int(held.size),
        "rel_error_mean": float(np.mean(np.abs(rel))),
        "fit_converged": sub.outcome.converged,
    }


FRONTIER_C = (1e18, 1e19, 1e20, 1e21)  # FLOPs: the paper's grid spans 6ND = 1.2e18 .. 1.2e21


def frontier(params: Mapping[str, np.ndarray | float], C: float) -> dict[str, np.ndarray]:
    """Compute-optimal N*, D* and D*/N* at C = 6 N D FLOPs (Chinchilla approach 3, closed form).

    Minimising E + A N^-alpha + B D^-beta subject to 6 N D = C gives
        N* = G (C/6)^(beta/(alpha+beta)),  D* = (C/6) / N*,
        G = (alpha A / (beta B))^(1/(alpha+beta))
    (Hoffmann et al. 2022, eq. 4). Arrays broadcast (bootstrap draws).
    """
    a, b = np.asarray(params["alpha"], float), np.asarray(params["beta"], float)
    G = (a * np.asarray(params["A"], float) / (b * np.asarray(params["B"], float))) ** (1 / (a + b))
    n_opt = G * (C / 6) ** (b / (a + b))
    d_opt = (C / 6) / n_opt
    return {"N": n_opt, "D": d_opt, "tokens_per_param": d_opt / n_opt}


def frontiers(params: Mapping[str, float], draws: Mapping[str, np.ndarray] | None) -> list[dict]:
    """N*(C), D*(C), D*/N* at FRONTIER_C with 95% bootstrap intervals (null without draws)."""
    out = []
    for C in FRONTIER_C:
        point = frontier(params, C)
        row: dict = {"C": C}
        for k, v in point.items():
            row[k] = float(v)
            row[f"{k}_ci"] = (
                engine.percentile_interval(frontier(draws, C)[k]) if draws else [None, None]
            )
        out.append(row)
    return out


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
    from codescale.laws import mixture_law

    N, D, L = check_points(N, D, L, where)
    fit = fit_chinchilla(N, D, L, delta, where=where, _checked=True)
    pred = fit.predict(N, D)
    logL, logP = np.log(L), np.log(pred)
    by_n = {_key(n): r_squared(logL[np.equal(N, n)], logP[np.equal(N, n)]) for n in np.unique(N)}
    block = _block(N, D, L, where)
    theta = np.array([fit.internal[s.name] for s in block.specs()])
    sigma = _sigma(block, theta)
    out = fit.outcome
    status = (
        "converged"
        if out.converged
        else (
            f"flagged: within 1% of a bound: {', '.join(out.at_bounds)}"
            if out.at_bounds
            else f"flagged: {out.message}"
        )
    )
    ci: dict[str, list] = dict.fromkeys(PARAMS, [None, None])
    boot_conv = None
    raw = None
    converged = out.converged
    if sigma is None:
        converged = False
        status = (
            f"flagged: {np.unique(np.column_stack([N, D]), axis=0).shape[0]} distinct points for "
            f"{len(PARAMS)} parameters: no residual degrees of freedom, no intervals"
        )
    elif n_bootstrap > 0:
        bf = mixture_law.BlockFit(
            block,
            engine.BatchFit(theta[None, :], np.array([out.objective]), np.array([out.success]),
                            np.array([[False] * theta.size]), out.nfev),
            None,
            engine.best_starts(block.model(), block.Y, block.grid(), np.ones(N.size), delta, 2),
        )  # fmt: skip
        mixture_law.bootstrap_block(
            bf, np.array([sigma]), n_bootstrap, np.random.default_rng(seed), delta
        )
        raw = block.raw(bf.boot.theta)
        ci = {p: engine.percentile_interval(raw[p]) for p in PARAMS}
        boot_conv = float(np.mean(bf.boot.converged))
    names = dict(rename or {})
    extrapolation = _extrapolate(N, D, L, delta, "N")
    if "error" not in extrapolation:
        extrapolation["by_D"] = _extrapolate(N, D, L, delta, "D")
    return {
        "params": {names.get(k, k): v for k, v in fit.params.items()},
        "units": {names.get(k, k): v for k, v in UNITS.items()},
        "ci": {names.get(k, k): v for k, v in ci.items()},
        "r2_log": r_squared(logL, logP),
        "r2_by_N": by_n,
        "extrapolation": extrapolation,
        "converged": converged,
        "status": status,
        "at_bounds": out.at_bounds,
        "message": out.report,
        "nfev": out.nfev,
        "sigma_log": sigma,
        "n_points": int(N.size),
        "points": [[float(n), float(d), float(lv)] for n, d, lv in zip(N, D, L, strict=True)],
        "bootstrap_converged": boot_conv,
        "frontier": frontiers(fit.params, raw),
    }


def _key(n: float) -> str:
    """JSON key of a model size: an integer when it is one (N counts parameters)."""
    return str(int(n)) if float(n).is_integer() else repr(float(n))


def per_language_rows(table):
    """The per-language grid's rows of a collected table (polars DataFrame): study mono, metric
    val_loss, measured on the run's own language. The one selection both the fit and the report
    use (issue 14). The run's language is its `target`; where a table leaves target null, a run
    named mono/LANG/... or with p_LANG == 1 is LANG's run."""
    import polars as pl

    langs = table.filter(pl.col("study") == "mono")["lang"].unique().drop_nulls().to_list()
    own = pl.lit(False)
    for lang in langs:
        mine = pl.col("run").str.starts_with(f"mono/{lang}/")
        if f"p_{lang}" in table.columns:
            mine = mine | (pl.col(f"p_{lang}").fill_null(0.0) >= 1 - 1e-9)
        own = own | (mine & (pl.col("lang") == lang))
    target = pl.col("target") if "target" in table.columns else pl.lit(None, pl.Utf8)
    return table.filter(
        (pl.col("study") == "mono")
        & (pl.col("metric") == "val_loss")
        & ((pl.col("lang") == target) | (target.is_null() & own)).fill_null(False)
    )


def mono_points(table, lang: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, D, val_loss) of one language's per-language grid (`per_language_rows`); raises
    CodescaleError naming the runs whose loss is not a finite positive number."""
    import polars as pl

    sub = per_language_rows(table).filter(pl.col("lang") == lang)
    values = sub["value"].to_numpy().astype(float)
    bad = [
        r
        for r, v in zip(sub["run"].to_list(), values, strict=True)
        if not (np.isfinite(v) and v > 0)
    ]
    if bad:
        raise CodescaleError(
            f"{lang}: val_loss is not a finite positive number in run(s) {', '.join(bad)} "
            "(fix or remove their evaluation)"
        )
    return (
        sub["N"].to_numpy().astype(float),
        sub["D"].to_numpy().astype(float),
        values,
    )
