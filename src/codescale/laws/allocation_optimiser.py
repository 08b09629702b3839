"""Token allocation across languages: optimise the fitted law itself, with its uncertainty, and give
advice only when the data support it (issue 15).

The law optimised is exactly the one `codescale fit` fitted (codescale.laws.mixture_law):

    L_i(p) = E_i + A_i N^-alpha_i + B_i (D s_i(p))^-beta_i,   s_i(p) = p_i + sum_{j != i} tau_ij p_j
    objective(p) = mean_i L_i(p)                               (nats/token, plain mean)

over the capped simplex: sum p = 1, p_i D <= cap * available_i (each language's data repeated at
most `cap` times), i.e. p_i <= max_p_i = min(1, cap * available_i / D), and p_i >= min_p_i =
min(min_share_factor / L, max_p_i): a trust region. Why: the studies fit the law at own shares of
1 (mono), 1/2 (pairs) and 1/L (uniform run); below that the effective data D s_i(p) is mostly
transfer, an extrapolation of tau that turned noise into advice (synthetic truth, 2% noise: the
unconstrained optimum was worse than uniform in most draws). Default factor 0.5. Each L_i is
convex in p (a convex decreasing power of a linear function), so the problem is convex; it is
solved by projected gradient descent with a backtracking step, for the full-data law and for every
bootstrap draw of the law at once (vectorised), from the projected uniform mixture.

Advice (`proportions`, what the optimised training run uses):
- the reference mixture is uniform (1/L), or, when the caps forbid it, the feasible mixture
  nearest to uniform ("uniform_capped");
- the law's optimum p* is ADVISED only when (1) the law passed its held-out check (mean relative
  error of the mixtures with 3+ languages predicted by a law fitted without them, at most
  `heldout_tolerance`), (2) the optimism-corrected gain of p* over the reference (below) is
  positive in at least 95% of the bootstrap draws (one-sided: gain_lower_5 > 0), and (3) that gain
  exceeds the law's held-out error on mixtures in nats/token (rel_error_mean x the reference's
  predicted loss): a law that mispredicts a held-out mixture by 0.03 nats cannot resolve a gain of
  0.02. Otherwise the reference is kept and `advice.reason` says why (all reasons are listed).
  Never confident wrong advice: every failure mode falls back.
The gain interval: an optimiser run on a noisy law always finds an apparent gain (the winner's
curse: on a no-synergy truth the apparent gain is as large as on a real one). The optimism is
estimated by the bootstrap: each draw's own optimum p_b has apparent gain G_app_b under draw b and
gain G_b under the full-data law (the bootstrap world's truth); optimism = median(G_app_b - G_b).
The reported interval is that of mean L(reference) - mean L(p*) under draw b minus draw b's own
optimism, so it carries the optimism's uncertainty too (`gain_corrected` is the point value minus
the median optimism). On a truth where uniform is optimal (no transfer, identical laws) it covered
the true (negative) gain of p* in 95% of draws and its lower end was <= 0 in all
(tests/test_laws_synthetic.py). The proportion intervals are those of the draws' own optima p_b.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from codescale.errors import CodescaleError

PARAMS = ("E", "A", "alpha", "B", "beta")
S_FLOOR = 1e-4
DEFAULT_HELDOUT_TOLERANCE = 0.05
DEFAULT_MIN_SHARE_FACTOR = 0.5  # no language below half its uniform share (trust region)
GAIN_QUANTILE = 5.0  # percent: the advice needs the gain's 5th percentile above 0


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


def project_capped_simplex(
    v: np.ndarray, upper: np.ndarray, lower: np.ndarray | float = 0.0
) -> np.ndarray:
    """Euclidean projection of rows of v onto {lower_i <= p_i <= upper_i, sum p = 1}, exactly.

    With q = p - lower the set is {0 <= q_i <= u_i = upper_i - lower_i, sum q = t = 1 - sum
    lower}; the projection is q = clip(v - lower - mu, 0, u) with mu the root of h(mu) = sum
    clip(v - lower - mu, 0, u) = t; h is piecewise linear and non-increasing with breakpoints
    v_i - lower_i - u_i and v_i - lower_i, so mu is found by linear interpolation on the segment
    where h crosses t (vectorised over rows). v: (L,) or (K, L); returns the same shape.
    Needs sum(lower) <= 1 <= sum(upper) (see check_caps).
    """
    v = np.asarray(v, dtype=float)
    single = v.ndim == 1
    lower = np.broadcast_to(np.asarray(lower, dtype=float), np.atleast_2d(v).shape)
    V = np.atleast_2d(v) - lower
    U = np.broadcast_to(np.asarray(upper, dtype=float), V.shape) - lower
    total = 1.0 - lower.sum(axis=1)
    bp = np.sort(np.concatenate([V - U, V], axis=1), axis=1)  # (K, 2L)
    h = np.clip(V[:, None, :] - bp[:, :, None], 0.0, U[:, None, :]).sum(axis=2)  # non-increasing
    j = np.clip((h >= total[:, None]).sum(axis=1) - 1, 0, bp.shape[1] - 2)
    rows = np.arange(len(V))
    b0, b1, h0, h1 = bp[rows, j], bp[rows, j + 1], h[rows, j], h[rows, j + 1]
    denom = h0 - h1
    safe = np.where(denom > 0, denom, 1.0)
    mu = np.where(denom > 0, b0 + (h0 - total) * (b1 - b0) / safe, b0)
    Q = np.clip(V - mu[:, None], 0.0, U)
    # remove the last rounding residue on the coordinate with most room
    resid = total - Q.sum(axis=1)
    room = np.where(resid[:, None] > 0, U - Q, Q)
    k = np.argmax(room, axis=1)
    Q[rows, k] += np.sign(resid) * np.minimum(np.abs(resid), room[rows, k])
    P = Q + lower
    return P[0] if single else P


def _arrays(params_list: Sequence[Mapping[str, Mapping[str, float]]], languages, taus):
    """Stack K laws: {E..beta: (K, L)} and T (K, L, L) with unit diagonal (null tau -> 0)."""
    law = {
        k: np.array([[float(p[lang][k]) for lang in languages] for p in params_list])
        for k in PARAMS
    }
    T = np.array(
        [[[0.0 if v is None else float(v) for v in row] for row in t] for t in taus], dtype=float
    )
    idx = np.arange(len(languages))
    T[:, idx, idx] = 1.0
    return law, T


def mean_losses(P: np.ndarray, N: float, D: float, law, T) -> tuple[np.ndarray, np.ndarray]:
    """(K,) mean over languages of L_i(p_k) under law k, and its gradient (K, L) in p."""
    S = np.einsum("kij,kj->ki", T, P)
    Sf = np.maximum(S, S_FLOOR)
    data = law["B"] * (D * Sf) ** (-law["beta"])
    Li = law["E"] + law["A"] * float(N) ** (-law["alpha"]) + data
    dS = np.where(S > S_FLOOR, -law["beta"] * data / Sf, 0.0)  # dL_i / ds_i
    grad = np.einsum("ki,kij->kj", dS, T) / P.shape[1]
    return Li.mean(axis=1), grad


def language_losses(p, N, D, E, A, alpha, B, beta, tau=None) -> np.ndarray:
    """L_i(p) for every language, one law (tau: LxL transfer matrix, None = no transfer)."""
    p = np.asarray(p, dtype=float)
    L = p.size
    T = np.zeros((L, L)) if tau is None else np.array(tau, dtype=float)
    np.fill_diagonal(T, 1.0)
    s = np.maximum(T @ p, S_FLOOR)
    return (
        np.asarray(E)
        + np.asarray(A) * float(N) ** (-np.asarray(alpha))
        + np.asarray(B) * (D * s) ** (-np.asarray(beta))
    )


def optimise_batch(
    N: float,
    D: float,
    law,
    T,
    max_p: np.ndarray,
    min_p: np.ndarray | float = 0.0,
    iters: int = 400,
) -> np.ndarray:
    """Minimise the mean loss for K laws at once over min_p <= p <= max_p, sum 1: projected
    gradient with a backtracking step, from the projected uniform mixture. Returns (K, L)."""
    K, L = law["E"].shape
    P = project_capped_simplex(np.full((K, L), 1.0 / L), max_p, min_p)
    f, g = mean_losses(P, N, D, law, T)
    step = np.full(K, 0.1) / np.maximum(np.abs(g).max(axis=1), 1e-12)
    for _ in range(iters):
        trial = project_capped_simplex(P - step[:, None] * g, max_p, min_p)
        ft, gt = mean_losses(trial, N, D, law, T)
        ok = ft <= f - 1e-4 * np.sum(g * (P - trial), axis=1)
        moved = np.max(np.abs(trial - P), axis=1)
        if np.all((ok & (moved < 1e-12)) | (step < 1e-14)):
            break  # a fixed point of the projected step (or no step left): optimal
        P = np.where(ok[:, None], trial, P)
        f = np.where(ok, ft, f)
        g = np.where(ok[:, None], gt, g)
        step = np.where(ok, step * 1.5, step * 0.4)
    return P


def min_shares(max_p: np.ndarray, factor: float) -> np.ndarray:
    """Lower bounds of the shares: factor / L (the trust region), or the cap where it is lower."""
    if not (0 <= factor <= 1):
        raise CodescaleError(f"min share factor must be in [0, 1], got {factor!r}")
    return np.minimum(factor / len(max_p), max_p)


def check_caps(max_p: np.ndarray) -> None:
    if max_p.sum() < 1 - 1e-12:
        raise CodescaleError(
            f"the capped data cannot fill D: the caps allow at most {max_p.sum():.4g} of D "
            "(raise --repetition-cap or provide more available tokens)"
        )


def allocate(
    N: float,
    D: float,
    languages: Sequence[str],
    params: Mapping[str, Mapping[str, float]],
    available: Mapping[str, float],
    cap: float = 4.0,
    tau: Sequence[Sequence[float | None]] | None = None,
    samples: Sequence[tuple[Mapping, Sequence]] | None = None,
    heldout: Mapping | None = None,
    heldout_tolerance: float = DEFAULT_HELDOUT_TOLERANCE,
    min_share_factor: float = DEFAULT_MIN_SHARE_FACTOR,
) -> dict:
    """allocation.json content (see codescale.laws.allocate for the layout).

    params/tau: the full-data law; samples: bootstrap draws [(params, tau), ...] of the same law;
    heldout: the law's held-out check ({"rel_error_mean", "n"} or {"error"}), None = not available.
    """
    languages = list(languages)
    missing = [k for k in languages if k not in params]
    if missing:
        raise CodescaleError(f"allocation: no per-language law for {missing}")
    if N <= 0 or not np.isfinite(N):
        raise CodescaleError(f"model size N must be a positive number, got {N!r}")
    L = len(languages)
    tau = [[None] * L for _ in range(L)] if tau is None else tau
    avail = np.array([available[lang] for lang in languages], dtype=float)
    max_p = caps(D, avail, cap)
    check_caps(max_p)
    min_p = min_shares(max_p, min_share_factor)
    law, T = _arrays([params], languages, [tau])
    opt = optimise_batch(N, D, law, T, max_p, min_p)[0]
    uni = np.full(L, 1.0 / L)
    uniform_feasible = bool(np.all(uni <= max_p + 1e-12))
    ref = uni if uniform_feasible else project_capped_simplex(uni, max_p)
    ref_name = "uniform" if uniform_feasible else "uniform_capped"
    nat = avail / avail.sum()

    def mean_loss(p: np.ndarray) -> float:
        return float(mean_losses(p[None, :], N, D, law, T)[0][0])

    def per_lang(p: np.ndarray) -> dict[str, float]:
        vals = language_losses(p, N, D, **{k: law[k][0] for k in PARAMS}, tau=T[0])
        return dict(zip(languages, vals.tolist(), strict=True))

    advice = _advice(N, D, languages, law, T, opt, ref, ref_name, (max_p, min_p), samples,
                     heldout, heldout_tolerance)  # fmt: skip
    advised = opt if advice["status"] == "optimised" else ref
    losses = {
        "optimised": mean_loss(opt),
        "uniform": mean_loss(uni),
        "natural": mean_loss(nat),
        "advised": mean_loss(advised),
    }
    as_dict = lambda p: dict(zip(languages, [float(x) for x in p], strict=True))  # noqa: E731
    return {
        "languages": languages,
        "N": float(N),
        "D": float(D),
        "proportions": as_dict(advised),
        "tokens": as_dict(advised * D),
        "law_optimum": as_dict(opt),
        "uniform": as_dict(uni),
        "natural": as_dict(nat),
        "advice": advice,
        "predicted_loss": losses,
        "per_language_loss": {
            "optimised": per_lang(opt),
            "uniform": per_lang(uni),
            "natural": per_lang(nat),
            "advised": per_lang(advised),
        },
        "predicted_gain_vs_uniform": losses["uniform"] - losses["optimised"],
        "predicted_gain_vs_natural": losses["natural"] - losses["optimised"],
        "caps": as_dict(max_p),
        "min_shares": as_dict(min_p),
        "min_share_factor": float(min_share_factor),
        "uniform_feasible": uniform_feasible,
        "repetition_cap": float(cap),
        "available": as_dict(avail),
        "tau": [[None if v is None else float(v) for v in row] for row in tau],
    }


def _advice(N, D, languages, law, T, opt, ref, ref_name, bounds, samples, heldout, tol) -> dict:
    """The advice block: status, reason, gain interval, proportion intervals."""
    max_p, min_p = bounds
    out: dict = {"reference": ref_name, "heldout_tolerance": tol, "n_draws": 0,
                 "gain_ci": [None, None], "gain_lower_5": None, "proportions_ci": None}  # fmt: skip
    gain = float(
        mean_losses(ref[None, :], N, D, law, T)[0][0]
        - mean_losses(opt[None, :], N, D, law, T)[0][0]
    )
    out["gain"] = gain
    reasons = []
    if samples:
        s_law, s_T = _arrays([p for p, _ in samples], languages, [t for _, t in samples])
        K = len(samples)
        f_ref, _ = mean_losses(np.repeat(ref[None, :], K, 0), N, D, s_law, s_T)
        f_opt, _ = mean_losses(np.repeat(opt[None, :], K, 0), N, D, s_law, s_T)
        P = optimise_batch(N, D, s_law, s_T, max_p, min_p)  # each draw's own optimum
        f_own, _ = mean_losses(P, N, D, s_law, s_T)
        # the same optima judged by the full-data law (the "truth" of the bootstrap world)
        full_ref = mean_losses(ref[None, :], N, D, law, T)[0][0]
        law_k = {k: np.repeat(v, K, 0) for k, v in law.items()}
        f_own_full, _ = mean_losses(P, N, D, law_k, np.repeat(T, K, 0))
        optimism = (f_ref - f_own) - (full_ref - f_own_full)
        ok = np.isfinite(f_ref - f_opt) & np.isfinite(optimism)
        o = float(np.median(optimism[ok])) if ok.any() else float("nan")
        # each draw's own optimism: the interval carries the optimism's uncertainty too
        g = (f_ref - f_opt)[ok] - optimism[ok]
        out["optimism"] = o
        out["gain_corrected"] = gain - o
        out["n_draws"] = int(g.size)
        if g.size:
            out["gain_ci"] = [float(np.percentile(g, 2.5)), float(np.percentile(g, 97.5))]
            out["gain_lower_5"] = float(np.percentile(g, GAIN_QUANTILE))
        out["proportions_ci"] = {
            lang: [float(np.percentile(P[:, i], 2.5)), float(np.percentile(P[:, i], 97.5))]
            for i, lang in enumerate(languages)
        }
        if not g.size or out["gain_lower_5"] <= 0:
            lo, hi = out["gain_ci"]
            reasons.append(
                "the gain over the reference, corrected for the optimiser's optimism, is not "
                f"positive in 95% of the bootstrap draws (95% interval [{lo:.3g}, {hi:.3g}] "
                "nats/token): the data do not show that any mixture beats it"
            )
    else:
        reasons.append("no bootstrap draws of the law: the gain has no interval")
    if heldout is None or "error" in heldout:
        why = "not available" if heldout is None else heldout["error"]
        reasons.append(f"no held-out check of the law on mixtures of 3+ languages ({why})")
    elif not heldout["rel_error_mean"] <= tol:
        reasons.append(
            "the law failed its held-out check: mean relative error "
            f"{heldout['rel_error_mean']:.3g}"
            f" on {heldout['n']} held-out mixture(s) exceeds {tol:g}"
        )
    else:
        ref_loss = float(mean_losses(ref[None, :], N, D, law, T)[0][0])
        out["heldout_error"] = float(heldout["rel_error_mean"]) * ref_loss
        corrected = out.get("gain_corrected", gain)
        if not corrected > out["heldout_error"]:
            reasons.append(
                f"the predicted gain ({corrected:.3g} nats/token, optimism-corrected) does not "
                f"exceed the law's held-out error on mixtures ({out['heldout_error']:.3g} "
                "nats/token): the law cannot resolve a difference that small"
            )
    out["status"] = ref_name if reasons else "optimised"
    out["reason"] = (
        "; ".join(reasons)
        if reasons
        else (
            "held-out check passed and the gain is positive in at least 95% of the bootstrap draws"
        )
    )
    return out
