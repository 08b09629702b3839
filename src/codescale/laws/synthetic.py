"""Synthetic studies whose true law is known: the test bed of the law engine and the allocation.

A truth is the transfer law of codescale.laws.mixture_law (per-language Chinchilla laws plus a
transfer matrix tau). `design(config)` reads a study design from a config file (the sizes and
token counts of studies.per_language, .synergy and .allocation, N from codescale.model.presets);
`draw(truth, design, noise, rng)` returns runs in the form mixture_law.collect_runs produces, each
loss multiplied by exp(noise * standard normal) (noise 0.01 = 1% relative noise).

Truth parameters are set relative to the design (so that they mean the same thing on the tiny
default grid and on the paper's grid): at the geometric-mean N0, D0 of the per-language grid the
model term A N0^-alpha and the data term B D0^-beta are fixed fractions of the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from codescale import LANGUAGES
from codescale.model.presets import n_params


@dataclass(frozen=True)
class Design:
    languages: list[str]
    mono: list[tuple[float, float]]  # (N, D)
    synergy: tuple[float, float]  # (N, d): pairs train on d tokens of each language
    allocation: tuple[float, float]  # (N, D)


def design(config_path: str | Path) -> Design:
    """The per-language, synergy and allocation grids of a config file (YAML)."""
    cfg = yaml.safe_load(Path(config_path).read_text())
    studies = cfg["studies"]
    langs = list(cfg.get("languages") or LANGUAGES)
    mono = studies["per_language"]
    grid = [(float(n_params(s)), float(t)) for s in mono["sizes"] for t in mono["tokens"]]
    syn, alloc = studies["synergy"], studies["allocation"]
    return Design(
        langs,
        grid,
        (float(n_params(syn["size"])), float(syn["tokens"])),
        (float(n_params(alloc["size"])), float(alloc["tokens"])),
    )


@dataclass(frozen=True)
class Truth:
    languages: list[str]
    params: dict[str, dict[str, float]]
    tau: list[list[float]]  # diagonal 1


def make_truth(
    des: Design, rng: np.random.Generator, synergy: bool = True, same_laws: bool = False
) -> Truth:
    """Per-language laws with varied data hunger, and a transfer matrix (zero if not synergy).

    same_laws: every language gets the first language's law; with synergy=False the true optimum
    is then exactly uniform (symmetric convex problem): nothing to gain, by construction.
    """
    N0 = float(np.exp(np.mean(np.log([n for n, _ in des.mono]))))
    D0 = float(np.exp(np.mean(np.log([d for _, d in des.mono]))))
    params = {}
    for lang in des.languages:
        E = rng.uniform(0.8, 1.6)
        alpha, beta = rng.uniform(0.3, 0.6), rng.uniform(0.25, 0.5)
        a0, b0 = rng.uniform(0.3, 0.8), rng.uniform(0.4, 1.6)  # terms at (N0, D0), nats
        params[lang] = {"E": E, "A": a0 * N0**alpha, "alpha": alpha, "B": b0 * D0**beta,
                        "beta": beta}  # fmt: skip
    if same_laws:
        first = params[des.languages[0]]
        params = {lang: dict(first) for lang in des.languages}
    L = len(des.languages)
    tau = np.clip(rng.normal(0.25, 0.2, (L, L)), -0.2, 0.9) if synergy else np.zeros((L, L))
    np.fill_diagonal(tau, 1.0)
    return Truth(list(des.languages), params, tau.tolist())


def true_loss(truth: Truth, lang: str, N: float, D: float, p: dict[str, float]) -> float:
    i = truth.languages.index(lang)
    s = sum(truth.tau[i][j] * p.get(k, 0.0) for j, k in enumerate(truth.languages))
    q = truth.params[lang]
    return q["E"] + q["A"] * N ** -q["alpha"] + q["B"] * (D * max(s, 1e-4)) ** -q["beta"]


def true_mean_loss(truth: Truth, N: float, D: float, P: np.ndarray) -> np.ndarray:
    """Mean over languages of L_i for rows of proportions P (K, L)."""
    P = np.atleast_2d(P)
    S = np.maximum(P @ np.asarray(truth.tau).T, 1e-4)
    out = np.zeros(len(P))
    for i, lang in enumerate(truth.languages):
        q = truth.params[lang]
        out += q["E"] + q["A"] * N ** -q["alpha"] + q["B"] * (D * S[:, i]) ** -q["beta"]
    return out / len(truth.languages)


def gain_noise(truth: Truth, des: Design, noise: float) -> float:
    """The noise of a measured gain, nats/token: the standard deviation of mean L(uniform run) -
    mean L(other run) when each run's loss on each of the L languages carries independent relative
    noise `noise` (as in `draw`): noise x mean L(uniform) x sqrt(2 / L).

    Why this is "the noise" of issue 15's criterion ("reaches >= 80% of the true optimum's gain
    where that gain exceeds the noise"): a gain below 2 of these cannot be confirmed even by
    training the advised and the uniform mixture once each and comparing them (one-sided 97.7%);
    no fitted law can be expected to resolve it from a study whose runs carry that noise.
    """
    N, D = des.allocation
    L = len(des.languages)
    mean_uniform = float(true_mean_loss(truth, N, D, np.full(L, 1.0 / L))[0])
    return noise * mean_uniform * float(np.sqrt(2.0 / L))


def draw(truth: Truth, des: Design, noise: float, rng: np.random.Generator) -> list[dict]:
    """Runs of the design (mono, synergy pairs and diagonal, uniform allocation), noisy losses."""
    langs = des.languages
    runs = []

    def add(run: str, study: str, N: float, D: float, p: dict[str, float]) -> None:
        p = {k: p.get(k, 0.0) for k in langs}
        losses = {
            k: true_loss(truth, k, N, D, p) * float(np.exp(noise * rng.standard_normal()))
            for k in langs
            if p[k] > 0
        }
        runs.append({"run": run, "study": study, "N": N, "D": D, "p": p, "losses": losses})

    for lang in langs:
        for N, D in des.mono:
            add(f"mono/{lang}/{N:g}/{D:g}", "mono", N, D, {lang: 1.0})
    N, d = des.synergy
    for i, a in enumerate(langs):
        for b in langs[i:]:
            p = {a: 1.0} if a == b else {a: 0.5, b: 0.5}
            add(f"synergy/{a}+{b}", "synergy", N, 2 * d, p)
    N, D = des.allocation
    add("allocation/uniform", "allocation", N, D, dict.fromkeys(langs, 1.0 / len(langs)))
    return runs


def trials(
    truth: Truth,
    des: Design,
    noise: float,
    n_draws: int,
    seed: int = 0,
    n_bootstrap: int = 40,
) -> list[dict]:
    """n_draws synthetic studies end to end, fitted in one batch: draw, fit, bootstrap, held-out
    check, allocate; each scored against the truth.

    Per draw: status and reason of the advice, predicted gain and its interval, the held-out error,
    true_gain (mean true loss of uniform minus that of the advised mixture; >= 0: no worse),
    law_gain (the same for the law's optimum p*), optimum_gain (for the true optimum over the same
    feasible set: the allocation's default trust region), gain_noise (see `gain_noise`), and
    covered: {param: fraction of languages (tau: of cells) whose 95% interval holds the truth}.
    """
    from codescale.laws import allocation_optimiser as allocation
    from codescale.laws import mixture_law

    rng = np.random.default_rng(seed)
    draws = [draw(truth, des, noise, rng) for _ in range(n_draws)]
    langs = des.languages
    fits, errors = mixture_law.fit_law(draws[0], langs, n_bootstrap, seed, datasets=draws)
    if errors:
        raise ValueError(f"synthetic study could not be fitted: {errors}")
    heldout = mixture_law.heldout_mixtures(fits, draws[0], 1e-3)
    N, D = des.allocation
    true_law, T = allocation._arrays([truth.params], langs, [truth.tau])
    ones = np.ones(len(langs))
    best = allocation.optimise_batch(
        N, D, true_law, T, ones, allocation.min_shares(ones, allocation.DEFAULT_MIN_SHARE_FACTOR)
    )[0]
    uni = np.full(len(langs), 1.0 / len(langs))
    sigma_gain = gain_noise(truth, des, noise)
    out = []
    for r in range(n_draws):
        law = mixture_law.law_from_fits(fits, langs, r)
        samples = [law.sample(b) for b in range(law.n_bootstrap)]
        alloc = allocation.allocate(N, D, langs, law.params, dict.fromkeys(langs, 1e30), 4.0,
                                    law.tau, samples, heldout[r])  # fmt: skip
        adv = np.array([alloc["proportions"][k] for k in langs])
        opt = np.array([alloc["law_optimum"][k] for k in langs])
        f = true_mean_loss(truth, N, D, np.vstack([uni, adv, opt, best]))
        iv = mixture_law.intervals(law)  # the intervals `codescale fit` reports
        inside = lambda v, ci: ci[0] is not None and ci[0] <= v <= ci[1]  # noqa: E731
        covered = {
            p: float(np.mean([inside(truth.params[k][p], iv["ci"][k][p]) for k in langs]))
            for p in mixture_law.PARAMS
        }
        tau_hits = [
            inside(truth.tau[i][j], iv["tau_ci"][i][j])
            for i in range(len(langs))
            for j in range(len(langs))
            if i != j and iv["tau_ci"][i][j] is not None
        ]
        covered["tau"] = float(np.mean(tau_hits))
        off = ~np.eye(len(langs), dtype=bool)
        covered["gamma"] = float(inside(float(np.asarray(truth.tau)[off].mean()), iv["gamma_ci"]))
        out.append({
            "status": alloc["advice"]["status"],
            "reason": alloc["advice"]["reason"],
            "gain_ci": alloc["advice"]["gain_ci"],
            "predicted_gain": alloc["advice"]["gain"],
            "heldout_rel_error": heldout[r].get("rel_error_mean"),
            "true_gain": float(f[0] - f[1]),
            "law_gain": float(f[0] - f[2]),
            "optimum_gain": float(f[0] - f[3]),
            "gain_noise": sigma_gain,
            "covered": covered,
        })  # fmt: skip
    return out
