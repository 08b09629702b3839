"""The proportion-dependent multilingual law (paper Eqs. 6-7).

    L(N, D; p) = A * N^-alpha_N(p) + B * D_x^-alpha_D(p) + L_inf(p)
    alpha_N(p) = sum_k p_k alpha_N^k,  alpha_D(p) = sum_k p_k alpha_D^k,
    L_inf(p) = sum_k p_k L_inf^k
    D_x = D * (1 + gamma * S(p)),      S(p) = sum_{i != j} p_i p_j tau_ij
The per-language alpha_N^k, alpha_D^k, L_inf^k are the per-language fits' alpha, beta and E
(per_language.json); only A, B and gamma are fitted, with the same machinery as the per-language law
(Huber on log residuals, grid-screened multistart L-BFGS-B; A and B as log A, log B).

tau mapping (the paper says only "derived from Table 1"): tau_ij = relative_gain[i][j] of
synergy.json, the relative loss reduction of target i when auxiliary j is added,
(L(i+i) - L(i+j)) / L(i+i); missing cells and the diagonal are 0. S(p) only sees the symmetric part
(tau_ij + tau_ji) / 2. gamma > 0 means synergy acts like extra data.

Loss the law predicts: for a run with mixture p, the mean over the languages in the mixture
(p_k > 0) of that run's val_loss on language k (over those evaluated, when a table lacks some:
each point records `evaluated` and `complete`). Points: every synergy and allocation run whose
mixture uses only languages with a per-language fit. Validation: leave-one-run-out (refit without
the run, predict it): mean |relative error| and Spearman rho between predictions and observations.
When S(p) is 0 for every point (no synergy signal or only single-language runs) gamma cannot be
identified: it is fixed at 0 and `gamma_fixed` says so.

`codescale fit` writes results/fits/mixture_law.json:

    {"law": str, "languages": [...],
     "params": {"A", "B", "gamma", "alpha_N": {lang}, "alpha_D": {lang}, "L_inf": {lang}},
     "gamma_fixed": bool, "converged": bool, "message": str, "nfev": int,
     "n_points": int,
     "r2_log": float or null,
     "points": [{"run", "N", "D", "p": {lang: p}, "observed", "predicted", "evaluated": [lang],
                 "complete": bool}],
     "validation": {"method": "leave-one-run-out", "rel_error_mean", "spearman_rho", "n"}
                   or {"error": str},
     "tau": LxL, "tau_mapping": str, "loss_definition": str}
  or {"error": str, "tau": LxL or null}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import lmfit
import numpy as np

from codescale.errors import CodescaleError
from codescale.laws.fitting import (
    DEFAULT_HUBER_DELTA,
    FitOutcome,
    fit_multistart,
    grid_starts,
    huber,
    r_squared,
    spearman_rho,
)

LAW = "L(N, D; p) = A N^-alpha_N(p) + B D_x^-alpha_D(p) + L_inf(p), D_x = D (1 + gamma S(p))"
TAU_MAPPING = "tau_ij = relative_gain[i][j] = (L(i+i) - L(i+j)) / L(i+i); missing and diagonal = 0"
LOSS_DEFINITION = "mean over the languages with p_k > 0 of the run's val_loss on language k"
GAMMA_LIMIT = 100.0


def synergy_sum(P: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """S(p) = sum_{i != j} p_i p_j tau_ij for each row of P."""
    P = np.atleast_2d(P)
    off = tau - np.diag(np.diag(tau))
    return np.einsum("ni,ij,nj->n", P, off, P)


def mixture_loss(N, D, P, A, B, gamma, alpha_N, alpha_D, L_inf, tau) -> np.ndarray:
    """Eqs. 6-7 for rows of proportions P (n, L) at sizes N and tokens D (broadcast)."""
    P = np.atleast_2d(np.asarray(P, dtype=float))
    aN, aD, Li = P @ np.asarray(alpha_N), P @ np.asarray(alpha_D), P @ np.asarray(L_inf)
    Dx = np.asarray(D, dtype=float) * (1 + gamma * synergy_sum(P, np.asarray(tau, dtype=float)))
    return A * np.asarray(N, dtype=float) ** (-aN) + B * Dx ** (-aD) + Li


def _log_law(N, D, aN, aD, Li, S, logA, logB, gamma):
    Dx = D * np.maximum(1 + gamma * S, 1e-12)
    return np.log(np.exp(logA - aN * np.log(N)) + np.exp(logB - aD * np.log(Dx)) + Li)


def _log_law_gradient(values: Mapping[str, float], N, D, aN, aD, Li, S) -> dict[str, np.ndarray]:
    """Exact d log L / d (logA, logB, gamma) for L-BFGS-B."""
    boost = 1 + values["gamma"] * S
    safe = np.maximum(boost, 1e-12)
    u1 = np.exp(values["logA"] - aN * np.log(N))
    u2 = np.exp(values["logB"] - aD * np.log(D * safe))
    T = u1 + u2 + Li
    dgamma = np.where(boost > 1e-12, -aD * S / safe, 0.0) * u2 / T
    return {"logA": u1 / T, "logB": u2 / T, "gamma": dgamma}


MODEL = lmfit.Model(
    _log_law, independent_vars=["N", "D", "aN", "aD", "Li", "S"], name="mixture_log"
)


@dataclass(frozen=True)
class MixtureFit:
    A: float
    B: float
    gamma: float
    gamma_fixed: bool
    outcome: FitOutcome


def tau_from_relative_gain(rel: Sequence[Sequence[float | None]]) -> np.ndarray:
    """The documented tau mapping: relative gains, None -> 0, diagonal -> 0."""
    tau = np.array([[0.0 if v is None else float(v) for v in row] for row in rel], dtype=float)
    np.fill_diagonal(tau, 0.0)
    return tau


def fit_mixture_law(
    N,
    D,
    P,
    L,
    alpha_N,
    alpha_D,
    L_inf,
    tau,
    delta: float = DEFAULT_HUBER_DELTA,
    start: Mapping[str, float] | None = None,
) -> MixtureFit:
    """Fit A, B, gamma to observed mixture losses L; raises CodescaleError for unusable data."""
    N, D, L = (np.asarray(v, dtype=float).ravel() for v in (N, D, L))
    P = np.atleast_2d(np.asarray(P, dtype=float))
    if not (N.size == D.size == L.size == P.shape[0]):
        raise CodescaleError("mixture law: N, D, L and proportions differ in length")
    for name, arr in (("N", N), ("D", D), ("loss", L)):
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise CodescaleError(f"mixture law: every {name} must be a finite positive number")
    aN, aD, Li = P @ np.asarray(alpha_N), P @ np.asarray(alpha_D), P @ np.asarray(L_inf)
    S = synergy_sum(P, np.asarray(tau, dtype=float))
    gamma_fixed = bool(np.all(np.abs(S) < 1e-12))
    n_free = 2 if gamma_fixed else 3
    if L.size < n_free:
        raise CodescaleError(
            f"mixture law: {L.size} multilingual runs cannot determine {n_free} parameters"
        )
    # Fit g = gamma * s with s = max |S|: relative gains are ~1e-2, so gamma itself moves the
    # objective too little for L-BFGS-B to leave its start; g has an O(1) effect on D_x.
    s = float(np.max(np.abs(S))) if not gamma_fixed else 1.0
    Sn = S / s
    # keep 1 + g * Sn > 0 at every point: D_x must stay positive
    lo_g, hi_g = -GAMMA_LIMIT * s, GAMMA_LIMIT * s
    if Sn.max() > 0:
        lo_g = max(lo_g, -0.99 / Sn.max())
    if Sn.min() < 0:
        hi_g = min(hi_g, 0.99 / -Sn.min())
    bounds = {"logA": (-50.0, 80.0), "logB": (-50.0, 80.0), "gamma": (lo_g, hi_g)}
    fixed = {"gamma": 0.0} if gamma_fixed else None
    logL = np.log(L)
    indep = {"N": N, "D": D, "aN": aN, "aD": aD, "Li": Li, "S": Sn}
    if start is not None:
        starts = [{**start, "gamma": start["gamma"] * s}]
    else:
        excess = np.maximum(L - Li, 1e-3 * L)
        base_a = float(np.log(np.mean(excess)) + np.mean(aN * np.log(N)))
        base_b = float(np.log(np.mean(excess)) + np.mean(aD * np.log(D)))
        fr = np.log([0.01, 0.05, 0.2, 0.5, 1.0, 2.0])
        g = [-0.5, -0.2, 0.0, 0.2, 0.5, 1.0, 3.0, 10.0]
        gam = [0.0] if gamma_fixed else np.unique(np.clip(g, lo_g, hi_g))
        grid = {"logA": base_a + fr, "logB": base_b + fr, "gamma": gam}

        def objective(v: dict[str, np.ndarray]) -> np.ndarray:
            pred = _log_law(
                *(indep[k][None, :] for k in ("N", "D", "aN", "aD", "Li", "S")),
                v["logA"][:, None],
                v["logB"][:, None],
                v["gamma"][:, None],
            )
            return huber(pred - logL[None, :], delta).sum(axis=1)

        starts = grid_starts(objective, grid, 4)
    out = fit_multistart(
        MODEL, logL, starts, bounds, delta, fixed=fixed, gradient=_log_law_gradient, **indep
    )
    v = out.values
    return MixtureFit(
        A=float(np.exp(v["logA"])),
        B=float(np.exp(v["logB"])),
        gamma=float(v["gamma"]) / s,
        gamma_fixed=gamma_fixed,
        outcome=out,
    )


def multilingual_points(table, languages: Sequence[str]) -> list[dict]:
    """Synergy and allocation runs: run, N, D, proportions over `languages`, mean loss (documented).

    Runs whose mixture puts weight on a language outside `languages` are skipped. A run evaluated
    on only some languages of its mixture gets the mean over those (`evaluated` lists them,
    `complete` is False); a run evaluated on none of them is skipped.
    """
    import polars as pl

    from codescale import LANGUAGES

    sub = table.filter(
        pl.col("study").is_in(["synergy", "allocation"]) & (pl.col("metric") == "val_loss")
    )
    pcols = [f"p_{lang}" for lang in LANGUAGES if f"p_{lang}" in table.columns]
    points = []
    for (run,), rows in sub.group_by(["run"], maintain_order=True):
        first = rows.row(0, named=True)
        p_all = {c[2:]: (first[c] or 0.0) for c in pcols}
        total = sum(p_all.values())
        if total <= 0:
            continue
        if any(v > 0 and lang not in languages for lang, v in p_all.items()):
            continue
        p = {lang: p_all.get(lang, 0.0) / total for lang in languages}
        losses = {}
        for lang, share in p.items():
            if share > 0:
                vals = rows.filter(pl.col("lang") == lang)["value"].drop_nulls()
                if vals.len():
                    losses[lang] = float(vals.mean())
        if not losses:
            continue
        points.append(
            {
                "run": run,
                "N": float(first["N"]),
                "D": float(first["D"]),
                "p": p,
                "observed": float(np.mean(list(losses.values()))),
                "evaluated": list(losses),
                "complete": len(losses) == sum(v > 0 for v in p.values()),
            }
        )
    return points


def analyse(
    table,
    per_language: Mapping[str, Mapping],
    synergy: Mapping,
    delta: float = DEFAULT_HUBER_DELTA,
) -> dict:
    """mixture_law.json content. Raises CodescaleError when the law cannot be fitted."""
    langs = [lang for lang, e in per_language.items() if "params" in e]
    if not langs:
        raise CodescaleError("mixture law: no per-language law was fitted")
    if "relative_gain" in synergy:
        pos = {lang: i for i, lang in enumerate(synergy["languages"])}
        rel = synergy["relative_gain"]
        tau = np.zeros((len(langs), len(langs)))
        for a, la in enumerate(langs):
            for b, lb in enumerate(langs):
                if la in pos and lb in pos and rel[pos[la]][pos[lb]] is not None and a != b:
                    tau[a, b] = rel[pos[la]][pos[lb]]
    else:
        tau = np.zeros((len(langs), len(langs)))
    aN = np.array([per_language[k]["params"]["alpha"] for k in langs])
    aD = np.array([per_language[k]["params"]["beta"] for k in langs])
    Li = np.array([per_language[k]["params"]["E"] for k in langs])
    points = multilingual_points(table, langs)
    if not points:
        raise CodescaleError(
            "mixture law: no synergy or allocation runs whose languages all have a per-language fit"
        )
    N = np.array([q["N"] for q in points])
    D = np.array([q["D"] for q in points])
    P = np.array([[q["p"][k] for k in langs] for q in points])
    L = np.array([q["observed"] for q in points])
    fit = fit_mixture_law(N, D, P, L, aN, aD, Li, tau, delta)
    pred = mixture_loss(N, D, P, fit.A, fit.B, fit.gamma, aN, aD, Li, tau)
    for q, v in zip(points, pred, strict=True):
        q["predicted"] = float(v)
    return {
        "law": LAW,
        "languages": langs,
        "params": {
            "A": fit.A,
            "B": fit.B,
            "gamma": fit.gamma,
            "alpha_N": dict(zip(langs, aN.tolist(), strict=True)),
            "alpha_D": dict(zip(langs, aD.tolist(), strict=True)),
            "L_inf": dict(zip(langs, Li.tolist(), strict=True)),
        },
        "gamma_fixed": fit.gamma_fixed,
        "converged": fit.outcome.converged,
        "message": fit.outcome.report,
        "nfev": fit.outcome.nfev,
        "n_points": len(points),
        "r2_log": r_squared(np.log(L), np.log(pred)),
        "points": points,
        "validation": leave_one_out(N, D, P, L, aN, aD, Li, tau, delta, fit),
        "tau": tau.tolist(),
        "tau_mapping": TAU_MAPPING,
        "loss_definition": LOSS_DEFINITION,
    }


def leave_one_out(N, D, P, L, aN, aD, Li, tau, delta, full: MixtureFit) -> dict:
    """Refit without each run in turn and predict it: mean |rel. error| and Spearman rho."""
    n = L.size
    need = (2 if full.gamma_fixed else 3) + 1
    if n < need:
        return {"error": f"{n} multilingual runs: leave-one-out needs at least {need}"}
    start = {"logA": np.log(full.A), "logB": np.log(full.B), "gamma": full.gamma}
    preds = np.full(n, np.nan)
    for i in range(n):
        keep = np.arange(n) != i
        try:
            f = fit_mixture_law(N[keep], D[keep], P[keep], L[keep], aN, aD, Li, tau, delta, start)
        except CodescaleError:
            continue
        preds[i] = mixture_loss(N[i], D[i], P[i], f.A, f.B, f.gamma, aN, aD, Li, tau)[0]
    ok = np.isfinite(preds)
    if not ok.any():
        return {"error": "no leave-one-out refit succeeded"}
    rel = np.abs(preds[ok] - L[ok]) / L[ok]
    return {
        "method": "leave-one-run-out",
        "rel_error_mean": float(rel.mean()),
        "spearman_rho": spearman_rho(preds[ok], L[ok]),
        "n": int(ok.sum()),
    }
