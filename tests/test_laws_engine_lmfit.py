"""The law engine against lmfit: the same robust objective, the same optimum.

codescale fits its laws with its own batched Levenberg-Marquardt (codescale.laws.engine: all
starts, bootstrap draws and held-out refits at once; lmfit solves one problem at a time, ~60 ms
per start on these cores). lmfit stays the reference: minimising the same Huber objective on
log residuals with lmfit (scipy's least_squares, loss="huber") from several starts must not find
a better optimum than the engine, and both must land on the same parameters.
"""

from __future__ import annotations

import lmfit
import numpy as np
import pytest

from codescale.laws import chinchilla, engine

TRUE = {"E": 0.8, "A": 300.0, "alpha": 0.4, "B": 900.0, "beta": 0.35}


def _lmfit_best(N, D, L, delta: float, starts: list[dict[str, float]]) -> lmfit.Parameters:
    def residual(p: lmfit.Parameters) -> np.ndarray:
        v = p.valuesdict()
        return np.log(chinchilla.chinchilla_loss(N, D, **v)) - np.log(L)

    best, best_obj = None, np.inf
    for start in starts:
        params = lmfit.Parameters()
        for name, value in start.items():
            lo, hi = (1e-3, 3.0) if name in ("alpha", "beta") else (1e-8, 1e8)
            params.add(name, value=float(np.clip(value, lo * 1.01, hi * 0.99)), min=lo, max=hi)
        res = lmfit.minimize(
            residual, params, method="least_squares", loss="huber", f_scale=delta,
            xtol=1e-14, ftol=1e-14, gtol=1e-14, max_nfev=20000,
        )  # fmt: skip
        obj = float(engine.objective(-residual(res.params), 0.0, 1.0, delta))
        if obj < best_obj:
            best, best_obj = res.params, obj
    assert best is not None
    return best


@pytest.mark.parametrize("noise", [0.0, 0.02])
def test_engine_reaches_the_lmfit_optimum(noise: float) -> None:
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e5, 1e7, 5), np.geomspace(1e6, 1e8, 5)))
    rng = np.random.default_rng(3)
    L = chinchilla.chinchilla_loss(N, D, **TRUE) * np.exp(rng.normal(0, noise, N.size))
    L[4] *= 1.2  # one broken run: the Huber tail is exercised
    delta = chinchilla.DEFAULT_HUBER_DELTA
    fit = chinchilla.fit_chinchilla(N, D, L, delta=delta)
    assert fit.outcome.converged, fit.outcome.report

    def obj(params: dict[str, float]) -> float:
        pred = np.log(chinchilla.chinchilla_loss(N, D, **params))
        return float(engine.objective(pred, np.log(L), 1.0, delta))

    starts = [{k: v * f for k, v in TRUE.items()} for f in (0.5, 1.0, 2.0)] + [fit.params]
    ref = _lmfit_best(N, D, L, delta, starts).valuesdict()
    # lmfit, started from the truth, around it and from the engine's answer, finds nothing better
    assert obj(fit.params) <= obj(ref) * (1 + 1e-6) + 1e-12
    for k in TRUE:
        assert fit.params[k] == pytest.approx(ref[k], rel=2e-3, abs=1e-6), k
