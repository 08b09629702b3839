"""Shared helpers of the laws: the Huber loss, the convergence report, R^2, rank correlation and a
single-threaded BLAS context. The fitter itself is codescale.laws.engine (one engine for every
law); the lmfit-based multistart and run bootstrap that lived here were replaced by it (issue 15:
they refitted each resample once from the full-data optimum and missed parameters at a bound).

No torch is imported anywhere in codescale.laws.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DEFAULT_HUBER_DELTA = 1e-3


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
