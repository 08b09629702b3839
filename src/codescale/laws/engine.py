"""The law engine: one vectorised robust fitter for every law of codescale, with honest flags.

Why a new fitter: the laws need a multistart fit per bootstrap draw, per held-out refit and per
synthetic study; lmfit's L-BFGS-B costs ~60 ms a start (measured on 2 cores: 0.37 s for a 6-start
fit), so bootstraps were refitted once from the full-data optimum (flat directions then got
zero-width intervals). Here K problems (starts x bootstrap draws x held-out variants) are fitted
AT ONCE in numpy:

    minimise_k  sum_n w_kn * huber(f(theta_k)_n - y_kn, delta) / delta**2

by a damped Gauss-Newton (Levenberg-Marquardt) iteration on the iteratively reweighted Huber
objective (IRLS weights min(1, delta / |r|)), each step projected on the box bounds and accepted
only when it lowers the true Huber objective (so the objective never rises). A bootstrap draw is
another data vector y_k, a left-out run a zero weight, so every refit has the same shapes and one
batch does them all (measured: a synthetic 7-language study, ~350 fits with starts, bootstrap and
held-out refits, plus the allocation, took ~2 s per study on 2 loaded cores; benchmarks/laws.py).

Honest convergence (issue 15): a fit is `converged` only when the optimiser stopped on a small
relative change of the objective AND no parameter lies within 1% of the width of its bounds of
either bound (bounds are on the fitted, internal scale of each parameter: log scale for the
positive scale parameters E, A, B; linear for exponents and transfer coefficients). Such a
parameter is listed in `at_bounds` and the fit is reported as "flagged", never "converged".

Nothing here knows about a particular law: a law supplies f and its Jacobian (the `Model`
callable), its parameter specs (names, bounds, units) and a grid of starts
(codescale.laws.mixture_law.Block is the one law; chinchilla is its one-language case).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from codescale.errors import CodescaleError
from codescale.laws.fitting import single_threaded_blas

BOUND_FRACTION = 0.01  # within 1% of the bound width of a bound: flagged (issue 15)
REL_TOL = 1e-10
MAX_ITER = 300


@dataclass(frozen=True)
class ParamSpec:
    """One fitted (internal) parameter: its bounds on the fitted scale and its unit."""

    name: str
    lo: float
    hi: float
    unit: str


# model(theta (K, P), jac=True) -> (prediction (K, n), Jacobian (K, n, P) or None when jac is
# False); the prediction is of y (log losses)
Model = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class BatchFit:
    """K fitted problems: parameters, objective, optimiser stop and bound flags."""

    theta: np.ndarray  # (K, P) internal parameters
    objective: np.ndarray  # (K,) scaled Huber objective
    stopped: np.ndarray  # (K,) the optimiser met its relative-change criterion
    at_bounds: np.ndarray  # (K, P) within BOUND_FRACTION of a bound
    iterations: int

    @property
    def converged(self) -> np.ndarray:
        """(K,) optimiser stopped normally and no parameter near a bound."""
        return self.stopped & ~self.at_bounds.any(axis=1)


def huber(r: np.ndarray, delta: float) -> np.ndarray:
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def objective(pred: np.ndarray, y: np.ndarray, w: np.ndarray, delta: float) -> np.ndarray:
    """(K,) sum_n w_kn huber(pred_kn - y_n) / delta**2 (NaN predictions count as +inf)."""
    with np.errstate(invalid="ignore", over="ignore"):
        val = np.sum(w * huber(pred - y, delta), axis=-1) / (delta * delta)
    return np.where(np.isfinite(val), val, np.inf)


def near_bounds(theta: np.ndarray, specs: Sequence[ParamSpec]) -> np.ndarray:
    """(K, P) True where a parameter is within BOUND_FRACTION of its bound width of a bound."""
    lo = np.array([s.lo for s in specs])
    hi = np.array([s.hi for s in specs])
    tol = BOUND_FRACTION * (hi - lo)
    return (theta - lo <= tol) | (hi - theta <= tol)


def fit_batch(*args, **kwargs) -> BatchFit:
    """Fit K problems at once (see `_fit_batch`), with OpenBLAS on one thread: the batched solves
    are of P x P systems (P <= 12), where BLAS threads only spin (see fitting.single_threaded_blas).
    """
    with single_threaded_blas():
        return _fit_batch(*args, **kwargs)


def _fit_batch(
    model: Model,
    y: np.ndarray,
    theta0: np.ndarray,
    specs: Sequence[ParamSpec],
    weights: np.ndarray,
    delta: float,
    max_iter: int = MAX_ITER,
) -> BatchFit:
    """Fit K problems at once (see the module docstring). theta0 (K, P); weights (K, n) >= 0.

    `y` is (n,) (shared) or (K, n). Parameters whose weighted Jacobian column is zero in a problem
    (no data informs them) do not move: the damping keeps the step finite.
    """
    if not (delta > 0 and np.isfinite(delta)):
        raise CodescaleError(f"huber delta must be a positive number, got {delta!r}")
    lo = np.array([s.lo for s in specs], dtype=float)
    hi = np.array([s.hi for s in specs], dtype=float)
    theta = np.clip(np.array(theta0, dtype=float), lo, hi)
    K, P = theta.shape
    w = np.broadcast_to(np.asarray(weights, dtype=float), (K, np.shape(y)[-1]))
    Y = np.broadcast_to(np.asarray(y, dtype=float), (K, w.shape[1]))
    pred, jac = model(theta)
    obj = objective(pred, Y, w, delta)
    g, H = _normal_equations(pred, jac, Y, w, delta)
    lam = np.full(K, 1e-3)
    active = np.isfinite(obj)
    stopped = np.zeros(K, dtype=bool)
    eye = np.eye(P)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        if not active.any():
            break
        idx = np.flatnonzero(active)
        diag = np.diagonal(H[idx], axis1=1, axis2=2)
        # Marquardt scaling, floored so that a parameter no data inform (zero column) stays put
        floor = 1e-6 * np.maximum(diag.max(axis=1), 1e-30)[:, None]
        damp = eye * (lam[idx, None] * np.maximum(diag, floor) + floor)[:, None, :]
        try:
            step = np.linalg.solve(H[idx] + damp, -g[idx][..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -g[idx] / (np.maximum(diag, 1e-12) * (1 + lam[idx, None]))
        step = np.where(np.isfinite(step), step, 0.0)
        trial = np.clip(theta[idx] + step, lo, hi)
        tpred, _ = model(trial, jac=False)
        tobj = objective(tpred, Y[idx], w[idx], delta)
        better = tobj < obj[idx]
        change = (obj[idx] - tobj) / np.maximum(np.abs(obj[idx]), 1e-30)
        moved = np.max(np.abs(trial - theta[idx]), axis=1)
        acc = idx[better]
        if acc.size:
            theta[acc] = trial[better]
            obj[acc] = tobj[better]
            apred, ajac = model(theta[acc])
            pred[acc] = apred
            g[acc], H[acc] = _normal_equations(apred, ajac, Y[acc], w[acc], delta)
        lam[acc] = np.maximum(lam[acc] * 0.3, 1e-9)
        rej = idx[~better]
        lam[rej] = lam[rej] * 8.0
        done_acc = better & ((change < REL_TOL) | (moved < 1e-12))
        # rejected with huge damping: no descent direction left at this precision
        done_rej = ~better & (lam[idx] > 1e10)
        done = idx[done_acc | done_rej]
        stopped[done] = True
        active[done] = False
    return BatchFit(theta, obj, stopped, near_bounds(theta, specs), it)


def _normal_equations(pred, jac, Y, w, delta):
    """IRLS gradient (K, P) and Gauss-Newton matrix (K, P, P) of the weighted Huber objective."""
    r = pred - Y
    a = np.abs(r)
    irls = w * np.where(a <= delta, 1.0, delta / np.maximum(a, 1e-300))
    g = np.matmul((irls * r)[:, None, :], jac)[:, 0, :]
    H = np.matmul((jac * irls[:, :, None]).transpose(0, 2, 1), jac)
    return g, H


def grid_points(grid: Mapping[str, Sequence[float]], names: Sequence[str]) -> np.ndarray:
    """(G, P) Cartesian product of per-parameter values (missing names get 0)."""
    axes = [np.asarray(grid.get(n, [0.0]), dtype=float) for n in names]
    return np.array(list(itertools.product(*axes)), dtype=float)


def best_starts(
    model: Model, y: np.ndarray, grid: np.ndarray, weights: np.ndarray, delta: float, k: int
) -> np.ndarray:
    """The k grid points (rows of `grid`) with the lowest objective: (k, P) for y (n,), or
    (R, k, P) for R data sets y (R, n) (weights (n,) shared)."""
    pred, _ = model(grid, jac=False)
    w = np.asarray(weights, dtype=float)
    y = np.asarray(y, dtype=float)
    Y = np.atleast_2d(y)
    obj = np.stack([objective(pred, row[None, :], w[None, :], delta) for row in Y])  # (R, G)
    order = np.argsort(obj, axis=1, kind="stable")[:, : max(k, 1)]
    out = grid[order]
    return out[0] if y.ndim == 1 else out


def multistart(
    model: Model,
    y: np.ndarray,
    starts: np.ndarray,
    specs: Sequence[ParamSpec],
    weights: np.ndarray,
    delta: float,
    max_iter: int = MAX_ITER,
) -> BatchFit:
    """For each of R problems, fit from every start and keep the best (ties: the earlier start).

    R is the number of rows of `weights` (R, n), of `y` (R, n) or of `starts` (R, S, P); the
    others may be shared (1-D weights or y, starts (S, P)).
    """
    y = np.asarray(y, dtype=float)
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    starts = np.asarray(starts, dtype=float)
    R = max(
        weights.shape[0], y.shape[0] if y.ndim == 2 else 1, len(starts) if starts.ndim == 3 else 1
    )
    if starts.ndim == 2:
        starts = np.broadcast_to(starts, (R, *starts.shape))
    S = starts.shape[1]
    theta0 = starts.reshape(R * S, -1)
    w = np.repeat(np.broadcast_to(weights, (R, weights.shape[1])), S, axis=0)
    if y.ndim == 2:
        y = np.repeat(np.broadcast_to(y, (R, y.shape[1])), S, axis=0)
    fit = fit_batch(model, y, theta0, specs, w, delta, max_iter)
    obj = fit.objective.reshape(R, S)
    best = np.argmin(obj, axis=1)
    pick = np.arange(R) * S + best
    return BatchFit(
        fit.theta[pick], fit.objective[pick], fit.stopped[pick], fit.at_bounds[pick],
        fit.iterations,
    )  # fmt: skip


def bias_corrected_interval(
    samples: np.ndarray, estimate: float, level: float = 0.95
) -> list[float | None]:
    """[lo, hi]: the bias-corrected normal bootstrap interval (Efron & Tibshirani 1993, ch. 10
    and 13) of a full-data `estimate` from its bootstrap `samples`:

        centre = estimate - (mean(samples) - estimate),   half-width = z * sd(samples)

    Used for an AVERAGE of many estimators (gamma, the mean of 42 tau_ij), where the percentile
    interval fails: it is centred on the bootstrap mean, i.e. on the estimate PLUS the estimator's
    bias (the parametric bootstrap draws data from the fitted, biased law and reproduces the
    bias), so it sits near truth + 2 bias. tau_ij is the inverse of a convex power law of a noisy
    loss, so its estimator is right-skewed (paper grid, 2% noise: median error +0.005, mean error
    +0.074, bootstrap mean - estimate +0.10). For one tau_ij that bias is a quarter of its spread
    and the percentile interval covers (0.87-0.90); averaging 42 keeps the bias and shrinks the
    spread by sqrt(42), so bias ~ 1 sd: percentile coverage of gamma 0.25-0.65, bias-corrected
    0.90-0.97 (benchmarks/RESULTS.md). The average is near normal (CLT), hence the normal width.
    Not used for single parameters: where the draws are skewed by a bound (E on the default grid)
    the bootstrap's bias is not the estimator's, and correcting for it broke E's coverage (0.93
    percentile -> 0.71). [None, None] with fewer than 2 finite samples or a non-finite estimate.
    """
    from statistics import NormalDist

    arr = np.asarray(samples, dtype=float)
    arr = arr[np.isfinite(arr)]
    est = float("nan") if estimate is None else float(estimate)
    if arr.size < 2 or not np.isfinite(est):
        return [None, None]
    z = NormalDist().inv_cdf(0.5 + level / 2)
    centre = 2 * est - float(arr.mean())
    half = z * float(arr.std(ddof=1))
    return [centre - half, centre + half]


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> list[float | None]:
    """[lo, hi] percentile interval of finite samples, [None, None] when there are none."""
    arr = np.asarray(samples, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return [None, None]
    tail = 100 * (1 - level) / 2
    return [float(np.percentile(arr, tail)), float(np.percentile(arr, 100 - tail))]
