"""Shared fitting machinery: Huber loss, grid-screened multistart L-BFGS-B, bootstrap intervals.

Every law in codescale is an `lmfit.Model` whose output is compared with the observations through a
robust Huber loss on the residuals (Hoffmann et al. 2022, "Approach 3", use delta = 1e-3 on log-loss
residuals). Scaling-law objectives are non-convex and have flat valleys (E trades against A when the
sizes span little range), so one start is not enough: we evaluate the objective on a coarse grid of
parameter values (vectorised, cheap), run L-BFGS-B from the best few grid points and keep the best
optimum. Uncertainty comes from a bootstrap over runs, reported as percentile intervals.

Nothing here knows about a particular law; the law modules supply the model, the grid and the data.
No torch is imported anywhere in codescale.laws.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import lmfit
import numpy as np

from codescale.errors import CodescaleError

DEFAULT_HUBER_DELTA = 1e-3

# d model / d parameter: (parameter values, **independent variables) -> {name: array}
Gradient = Callable[..., Mapping[str, np.ndarray]]


_BLAS_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


@functools.cache
def _openblas_controls() -> tuple[tuple[Callable[[], int], Callable[[int], None]], ...]:
    """(get, set) thread-count functions of every OpenBLAS loaded in this process (Linux)."""
    maps = Path("/proc/self/maps")
    if not maps.is_file():
        return ()
    paths = {line.split()[-1] for line in maps.read_text().splitlines() if "openblas" in line}
    controls = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _BLAS_SYMBOLS:
            if hasattr(lib, get_name) and hasattr(lib, set_name):
                get, set_ = getattr(lib, get_name), getattr(lib, set_name)
                get.restype, set_.argtypes = ctypes.c_int, [ctypes.c_int]
                controls.append((get, set_))
                break
    return tuple(controls)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with OpenBLAS on one thread, then restore.

    Why: L-BFGS-B and SLSQP call BLAS on vectors of 3-10 numbers; OpenBLAS threads spin-wait on
    them, which on a loaded machine made each optimiser step ~10 ms instead of ~0.1 ms (measured:
    fits 3-6x slower on 2 shared cores). What threadpoolctl does, without the dependency.
    """
    controls = _openblas_controls()
    saved = [(set_, get()) for get, set_ in controls]
    for set_, _ in saved:
        set_(1)
    try:
        yield
    finally:
        for set_, n in saved:
            set_(n)


def huber(r: np.ndarray, delta: float) -> np.ndarray:
    """Elementwise Huber loss: quadratic within |r| <= delta, linear outside (outlier-robust)."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def huber_reducer(delta: float) -> Callable[[np.ndarray], float]:
    """The scalar objective lmfit minimises: sum of Huber losses divided by delta**2.

    Why the division: the sum is ~delta**2 at a good fit, far below L-BFGS-B's absolute stopping
    scale; dividing by delta**2 (which does not move the minimum) keeps the optimiser from stopping
    early.
    """
    if not (delta > 0 and math.isfinite(delta)):
        raise CodescaleError(f"huber delta must be a positive number, got {delta!r}")
    scale = 1.0 / (delta * delta)

    def reduce(r: np.ndarray) -> float:
        return float(np.sum(huber(np.asarray(r, dtype=float), delta)) * scale)

    return reduce


@dataclass(frozen=True)
class FitOutcome:
    """The best of several L-BFGS-B runs, with the convergence report of that run."""

    values: dict[str, float]
    objective: float
    success: bool
    message: str
    nfev: int
    n_starts: int
    at_bounds: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        """Optimiser success and no parameter pinned to a bound (pinned: a warning sign)."""
        return self.success and not self.at_bounds

    @property
    def report(self) -> str:
        msg = self.message
        if self.at_bounds:
            msg += f" (parameters at a bound: {', '.join(self.at_bounds)})"
        return msg


def grid_starts(
    objective: Callable[[dict[str, np.ndarray]], np.ndarray],
    grid: Mapping[str, Sequence[float]],
    k: int,
) -> list[dict[str, float]]:
    """The k grid points with the lowest objective; `objective` is vectorised over the grid.

    `objective(values)` gets each parameter as a 1-D array (one entry per grid point) and returns
    one objective value per grid point.
    """
    names = list(grid)
    combos = np.array(list(itertools.product(*(grid[n] for n in names))), dtype=float)
    values = {n: combos[:, i] for i, n in enumerate(names)}
    with np.errstate(all="ignore"):
        obj = np.asarray(objective(values), dtype=float)
    obj = np.where(np.isfinite(obj), obj, np.inf)
    order = np.argsort(obj, kind="stable")[: max(k, 1)]
    return [{n: float(values[n][i]) for n in names} for i in order]


def fit_multistart(
    model: lmfit.Model,
    data: np.ndarray,
    starts: Sequence[Mapping[str, float]],
    bounds: Mapping[str, tuple[float, float]],
    delta: float,
    fixed: Mapping[str, float] | None = None,
    gradient: Gradient | None = None,
    **independent: np.ndarray,
) -> FitOutcome:
    """Fit `model` to `data` from every start with L-BFGS-B on the Huber objective; keep the best.

    `bounds` lists every varying parameter; `fixed` ones are held constant. `gradient`, when given,
    returns d model / d parameter (one array per parameter name) so that L-BFGS-B gets an exact
    gradient instead of finite differences (about 3x fewer model evaluations, and no gradient
    noise near the optimum). Raises CodescaleError if no start produced a finite objective.
    """
    reduce = huber_reducer(delta)
    varying = [n for n in model.param_names if not (fixed and n in fixed)]
    fit_kws: dict = {"reduce_fcn": reduce, "tol": 1e-12}
    if gradient is not None:
        fit_kws["jac"] = _huber_jacobian(model, gradient, varying, delta)
    best: tuple[float, lmfit.model.ModelResult] | None = None
    with single_threaded_blas():
        for start in starts:
            outcome = _fit_one(model, data, start, bounds, fixed, fit_kws, independent)
            if outcome is not None and (best is None or outcome[0] < best[0]):
                best = outcome
    if best is None:
        raise CodescaleError("no starting point gave a finite objective: the data cannot be fitted")
    obj, res = best
    values = {n: float(p.value) for n, p in res.params.items()}
    pinned = []
    for n, (lo, hi) in bounds.items():
        if fixed and n in fixed:
            continue
        width = hi - lo
        if min(abs(values[n] - lo), abs(values[n] - hi)) <= 1e-6 * max(width, 1.0):
            pinned.append(n)
    return FitOutcome(
        values=values,
        objective=obj,
        success=bool(res.success),
        message=str(res.message),
        nfev=int(res.nfev),
        n_starts=len(starts),
        at_bounds=pinned,
    )


def _fit_one(
    model: lmfit.Model,
    data: np.ndarray,
    start: Mapping[str, float],
    bounds: Mapping[str, tuple[float, float]],
    fixed: Mapping[str, float] | None,
    fit_kws: dict,
    independent: Mapping[str, np.ndarray],
) -> tuple[float, lmfit.model.ModelResult] | None:
    """One L-BFGS-B run from `start`: (objective, result), or None when the model went NaN."""
    params = lmfit.Parameters()
    for name in model.param_names:
        if fixed and name in fixed:
            params.add(name, value=float(fixed[name]), vary=False)
            continue
        lo, hi = bounds[name]
        params.add(name, value=float(np.clip(start[name], lo, hi)), min=lo, max=hi)
    try:
        res = model.fit(
            data,
            params,
            method="lbfgsb",
            calc_covar=False,
            nan_policy="raise",
            fit_kws=fit_kws,
            **independent,
        )
    except (ValueError, FloatingPointError):  # a start whose model is NaN: skip it
        return None
    obj = fit_kws["reduce_fcn"](res.residual)
    return (obj, res) if math.isfinite(obj) else None


def _huber_jacobian(
    model: lmfit.Model, gradient: Gradient, varying: Sequence[str], delta: float
) -> Callable[..., np.ndarray]:
    """The gradient of the scaled Huber objective in the form lmfit's scalar minimisers call.

    lmfit calls it as jac(params, data, weights, **independent) and rescales it for bounded
    parameters itself. d/dtheta sum huber(r) = sum clip(r, -delta, delta) * d model / d theta.
    """
    scale = 1.0 / (delta * delta)

    def jac(params: lmfit.Parameters, data: np.ndarray, weights, **indep: np.ndarray) -> np.ndarray:
        values = {n: p.value for n, p in params.items()}
        r = model.func(**indep, **values) - data
        psi = np.clip(r, -delta, delta)
        d = gradient(values, **indep)
        return np.array([float(np.sum(psi * d[n])) * scale for n in varying])

    return jac


def percentile_ci(
    samples: Mapping[str, Sequence[float]], level: float = 0.95
) -> dict[str, list[float]]:
    """Percentile bootstrap interval [lo, hi] of every parameter."""
    tail = 100 * (1 - level) / 2
    out = {}
    for name, vals in samples.items():
        arr = np.asarray(vals, dtype=float)
        arr = arr[np.isfinite(arr)]
        if arr.size == 0:
            out[name] = [None, None]
        else:
            out[name] = [float(np.percentile(arr, tail)), float(np.percentile(arr, 100 - tail))]
    return out


def bootstrap(
    fit: Callable[[np.ndarray], Mapping[str, float]],
    n_points: int,
    n_samples: int,
    seed: int,
) -> tuple[dict[str, list[float]], int]:
    """Refit on `n_samples` resamples (with replacement) of the point indices.

    `fit(indices)` returns the parameter values of one refit or raises CodescaleError when the
    resample is degenerate (e.g. all points at one size); such resamples are counted and skipped.
    Returns the parameter samples and the number of failed resamples.
    """
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    failed = 0
    for _ in range(n_samples):
        idx = rng.integers(0, n_points, size=n_points)
        try:
            vals = fit(idx)
        except CodescaleError:
            failed += 1
            continue
        for k, v in vals.items():
            samples.setdefault(k, []).append(float(v))
    return samples, failed


def r_squared(observed: np.ndarray, predicted: np.ndarray) -> float | None:
    """Coefficient of determination; None when the observations do not vary (undefined)."""
    observed = np.asarray(observed, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    ss_tot = float(np.sum((observed - observed.mean()) ** 2))
    if observed.size < 2 or ss_tot <= 0:
        return None
    return 1.0 - float(np.sum((observed - predicted) ** 2)) / ss_tot


def spearman_rho(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Rank correlation (None when undefined: fewer than 3 values or a constant series)."""
    from scipy.stats import spearmanr

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)
