"""Token allocation across languages: minimise the mean predicted loss on the capped simplex.

Predicted loss of language i under mixture p at model size N and total tokens D (documented choice;
the paper does not spell it out): the per-language law of per_language.json evaluated at the
language's own tokens, boosted by the synergy-derived effective data of the mixture law,
    D_i,eff = p_i D (1 + gamma * sum_{j != i} p_j tau_ij)
    L_i(p)  = E_i + A_i N^-alpha_i + B_i D_i,eff^-beta_i
with gamma and tau_ij (relative gain of target i from auxiliary j) from mixture_law.json
(gamma = 0, i.e. no synergy, when that law could not be fitted). The boost is floored at 1e-12 so
that D_i,eff stays positive. The objective is the plain mean over the languages of L_i(p).

Constraints: p on the simplex, p_i >= 0 and p_i D <= cap * available_i (each language's data may be
repeated at most `cap` times), i.e. p_i <= max_p_i = min(1, cap * available_i / D). Solved with
SLSQP from several feasible starts (natural, uniform projected onto the caps, random Dirichlet);
the result is projected onto the capped simplex so it satisfies the constraints exactly.

The uniform mixture is p_i = 1/L, the natural one p_i = available_i / sum(available); both are
reported with their predicted losses (uniform may violate the caps; `uniform_feasible` says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import minimize

from codescale.errors import CodescaleError
from codescale.laws.fitting import single_threaded_blas

P_FLOOR = 1e-9
PARAMS = ("E", "A", "alpha", "B", "beta")


def language_losses(p, N, D, E, A, alpha, B, beta, gamma, tau) -> np.ndarray:
    """L_i(p) for every language (inf where p_i == 0: the law has no data for it)."""
    p = np.asarray(p, dtype=float)
    tau = np.asarray(tau, dtype=float)
    off = tau - np.diag(np.diag(tau))
    boost = np.maximum(1 + gamma * (off @ p), 1e-12)
    Deff = p * D * boost
    with np.errstate(divide="ignore"):
        return E + A * float(N) ** (-np.asarray(alpha)) + B * Deff ** (-np.asarray(beta))


def caps(D: float, available: Sequence[float], cap: float) -> np.ndarray:
    """max_p_i = min(1, cap * available_i / D)."""
    avail = np.asarray(available, dtype=float)
    if not (cap > 0 and np.isfinite(cap)):
        raise CodescaleError(f"repetition cap must be a positive number, got {cap!r}")
    if D <= 0 or not np.isfinite(D):
        raise CodescaleError(f"total tokens D must be a positive number, got {D!r}")
    if np.any(~np.isfinite(avail)) or np.any(avail <= 0):
        raise CodescaleError("every language's available tokens must be a positive number")
    return np.minimum(1.0, cap * avail / D)


def project_capped_simplex(v: np.ndarray, upper: np.ndarray, lower: float = 0.0) -> np.ndarray:
    """Euclidean projection of v onto {lower <= p_i <= upper_i, sum p = 1}, by bisection."""
    v, upper = np.asarray(v, dtype=float), np.asarray(upper, dtype=float)
    lo_s, hi_s = np.min(v - upper) - 1, np.max(v - lower) + 1
    for _ in range(200):
        mid = 0.5 * (lo_s + hi_s)
        if np.clip(v - mid, lower, upper).sum() > 1:
            lo_s = mid
        else:
            hi_s = mid
    p = np.clip(v - 0.5 * (lo_s + hi_s), lower, upper)
    # remove the last rounding residue on a coordinate with room to move
    resid = 1 - p.sum()
    room = (upper - p) if resid > 0 else (p - lower)
    k = int(np.argmax(room))
    p[k] += np.sign(resid) * min(abs(resid), room[k])
    return p


def optimise(
    N: float,
    D: float,
    law: Mapping[str, np.ndarray],
    max_p: np.ndarray,
    gamma: float = 0.0,
    tau: np.ndarray | None = None,
    n_starts: int = 8,
    seed: int = 0,
) -> np.ndarray:
    """The proportions minimising the mean predicted loss subject to the caps."""
    max_p = np.asarray(max_p, dtype=float)
    L = max_p.size
    if max_p.sum() < 1 - 1e-12:
        raise CodescaleError(
            f"the capped data cannot fill D: the caps allow at most {max_p.sum():.4g} of D "
            "(raise --repetition-cap or provide more available tokens)"
        )
    tau = np.zeros((L, L)) if tau is None else np.asarray(tau, dtype=float)
    lower = min(P_FLOOR, float(max_p.min()))

    def objective(p: np.ndarray) -> float:
        q = np.maximum(p, lower)
        return float(np.mean(language_losses(q, N, D, gamma=gamma, tau=tau, **law)))

    rng = np.random.default_rng(seed)
    starts = [max_p / max_p.sum(), np.full(L, 1.0 / L)]
    starts += [rng.dirichlet(np.ones(L)) for _ in range(max(n_starts - 2, 0))]
    best_p, best_f = None, np.inf
    for s in starts:
        x0 = project_capped_simplex(s, max_p, lower)
        with single_threaded_blas():
            res = minimize(
                objective,
                x0,
                method="SLSQP",
                bounds=list(zip(np.full(L, lower), max_p, strict=True)),
                constraints=[{"type": "eq", "fun": lambda p: np.sum(p) - 1.0}],
                options={"ftol": 1e-12, "maxiter": 500},
            )
        p = project_capped_simplex(res.x, max_p, lower)
        f = objective(p)
        if np.isfinite(f) and f < best_f:
            best_p, best_f = p, f
    if best_p is None:
        raise CodescaleError("allocation: no start gave a finite predicted loss")
    return best_p


def allocate(
    N: float,
    D: float,
    languages: Sequence[str],
    params: Mapping[str, Mapping[str, float]],
    available: Mapping[str, float],
    cap: float = 4.0,
    gamma: float = 0.0,
    tau: np.ndarray | None = None,
    seed: int = 0,
) -> dict:
    """allocation.json content: optimised vs uniform vs natural proportions and their losses."""
    languages = list(languages)
    missing = [k for k in languages if k not in params]
    if missing:
        raise CodescaleError(f"allocation: no per-language law for {missing}")
    if N <= 0 or not np.isfinite(N):
        raise CodescaleError(f"model size N must be a positive number, got {N!r}")
    law = {k: np.array([params[lang][k] for lang in languages]) for k in PARAMS}
    avail = np.array([available[lang] for lang in languages], dtype=float)
    max_p = caps(D, avail, cap)
    L = len(languages)
    tau = np.zeros((L, L)) if tau is None else np.asarray(tau, dtype=float)
    opt = optimise(N, D, law, max_p, gamma, tau, seed=seed)
    uni = np.full(L, 1.0 / L)
    nat = avail / avail.sum()

    def mean_loss(p: np.ndarray) -> float:
        return float(np.mean(language_losses(p, N, D, gamma=gamma, tau=tau, **law)))

    def per_lang(p: np.ndarray) -> dict[str, float]:
        vals = language_losses(p, N, D, gamma=gamma, tau=tau, **law)
        return dict(zip(languages, vals.tolist(), strict=True))

    losses = {"optimised": mean_loss(opt), "uniform": mean_loss(uni), "natural": mean_loss(nat)}
    as_dict = lambda p: dict(zip(languages, [float(x) for x in p], strict=True))  # noqa: E731
    return {
        "languages": languages,
        "N": float(N),
        "D": float(D),
        "proportions": as_dict(opt),
        "tokens": as_dict(opt * D),
        "uniform": as_dict(uni),
        "natural": as_dict(nat),
        "predicted_loss": losses,
        "per_language_loss": {
            "optimised": per_lang(opt),
            "uniform": per_lang(uni),
            "natural": per_lang(nat),
        },
        "predicted_gain_vs_uniform": losses["uniform"] - losses["optimised"],
        "predicted_gain_vs_natural": losses["natural"] - losses["optimised"],
        "caps": as_dict(max_p),
        "uniform_feasible": bool(np.all(uni <= max_p + 1e-12)),
        "repetition_cap": float(cap),
        "available": as_dict(avail),
        "gamma": float(gamma),
        "tau": tau.tolist(),
    }
