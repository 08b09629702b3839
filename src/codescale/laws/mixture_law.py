"""The proportion-dependent law with a fitted transfer matrix: ONE model, fitted, bootstrapped,
checked out of sample and optimised by `codescale allocate` (paper Eqs. 6-7, written as we fit it).

The law actually fitted (the paper's Eqs. 6-7 are ambiguous: the exponent mixes with p, which is
not unit-invariant, and tau is "derived from Table 1"; issue 15 points 1, 2 and 5):

    L_i(N, D, p) = E_i + A_i N^-alpha_i + B_i (D s_i(p))^-beta_i         nats/token on language i
    s_i(p)      = p_i + sum_{j != i} tau_ij p_j                           (effective share of i)

N: non-embedding parameters; D: training tokens of the run (all languages); p: the run's
proportions over the fitted languages (sum 1). tau_ij: the transfer matrix, in tokens of language
i per token of language j ("one token of j is worth tau_ij tokens of i"; 0: no transfer, < 0:
interference). With p = e_i the law is language i's Chinchilla law L(N, D) (paper Eq. 1), so the
mono study, the synergy pairs and the allocation runs are points of the same law. The mixture's
loss, which the allocation minimises, is the plain mean over the allocated languages of L_i.
`gamma` is reported as a summary only: the mean of the identified off-diagonal tau_ij.

Fitting: the law separates by target language i (L_i depends on E_i, A_i, alpha_i, B_i, beta_i
and row i of tau only), so each language is one block fitted on every run evaluated on i whose
mixture contains i (mono runs of i, synergy pairs with i, allocation runs): Huber (delta 1e-3) on
log residuals, Levenberg-Marquardt from the best grid starts (codescale.laws.engine), in the
normalised parameterisation of codescale.laws.chinchilla (unit-invariant: the same data in other
units give the same exponents and tau). tau_ij is fitted only for partners j that share a run
with i; others are null ("not identifiable"). Uncertainty: a parametric bootstrap (every run's
log loss redrawn at the pooled, dof-corrected residual scale; see bootstrap_block for why not a
run bootstrap) with a multistart per draw (the full-data optimum plus the best grid start); draw b
of every block together is one joint draw of the law, which the allocation optimises. Checks:
leave-one-run-out over the multilingual runs (batched as zero weights, grid starts only), and the
held-out check the allocation relies on: refit without every mixture of 3+ languages, predict it.
Check against Table 1: the law-implied synergy gain L_i(i+i) - L_i(i+j) at the synergy runs'
(N, D) against the measured one (Spearman rho), reported, not used to fit.

`codescale fit` writes results/fits/mixture_law.json:

    {"law", "units": {param: unit}, "languages": [...], "huber_delta", "bootstrap",
     "params": {lang: {"E", "A", "alpha", "B", "beta"}}, "ci": {lang: {param: [lo, hi]}},
     "tau": LxL (null: not identifiable; diagonal 1), "tau_ci": LxL of [lo, hi] or null,
     "gamma": float or null, "gamma_ci": [lo, hi] (bias-corrected), "gamma_bias": float or null,
     "interval_method": str,
     "converged": bool, "blocks": {lang: {"n_points", "converged", "at_bounds", "status",
                                          "partners", "bootstrap_converged"}},
     "n_points": int, "r2_log": float or null,
     "points": [{"run", "N", "D", "p": {lang: p}, "observed", "predicted", "evaluated",
                 "complete"}],                 # multilingual runs, mean over their languages
     "validation": {"method": "leave-one-run-out", "rel_error_mean", "rel_error_max",
                    "spearman_rho", "n", "runs": {run: rel_error}} or {"error"},
     "heldout_check": {"method", "rel_error_mean", "n", "runs": {run: rel_error}} or {"error"},
     "synergy_check": {"spearman_rho", "n", "N", "D"} or {"error"},
     "samples": {lang: {"E": [...], ..., "tau": {partner: [...]}}}}   # bootstrap draws (joint)
  or {"error": str}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from codescale.errors import CodescaleError
from codescale.laws import chinchilla, engine
from codescale.laws.engine import ParamSpec
from codescale.laws.fitting import DEFAULT_HUBER_DELTA, r_squared, spearman_rho

LAW = (
    "L_i(N, D, p) = E_i + A_i N^-alpha_i + B_i (D s_i(p))^-beta_i, "
    "s_i(p) = p_i + sum_{j != i} tau_ij p_j; mixture loss = mean_i L_i"
)
UNITS = {
    **chinchilla.UNITS,  # each language's own law
    "tau": "tokens of language i per token of language j",
    "gamma": "tokens/token (mean identified tau_ij, i != j)",
    "N": "non-embedding parameters",
    "D": "training tokens",
}
PARAMS = chinchilla.PARAMS
S_FLOOR = 1e-4  # effective share floor: D s_i stays positive under interference
TAU_BOUNDS = (-0.9, 4.0)
EXP_BOUNDS = (0.005, 3.0)
N_STARTS = 6
BOOT_STARTS = 2  # per resample: the full-data optimum and the best grid point
BOOT_ITER = 80  # resamples that are still crawling along a flat valley stop here, unconverged
INTERVAL_METHOD = (
    "95% parametric-bootstrap intervals: percentile intervals of the draws for E, A, alpha, B, "
    "beta and tau_ij; for gamma (an average of many tau_ij, whose bias then dominates its "
    "spread) the bias-corrected normal interval 2 gamma - mean(draws) +- 1.96 sd(draws)"
)
LOSS_DEFINITION = "mean over the languages with p_k > 0 of the run's val_loss on language k"


@dataclass
class Block:
    """The data of one target language: every run evaluated on it whose mixture contains it."""

    lang: str
    runs: list[str]
    run_idx: np.ndarray  # (n,) index into the global run list
    N: np.ndarray
    D: np.ndarray
    own: np.ndarray  # (n,) p_i
    Q: np.ndarray  # (n, J) proportions of the partners
    partners: list[str]
    logL: np.ndarray  # (n,) the observed log losses
    Y: np.ndarray | None = None  # (R, n) data sets fitted at once (synthetic studies); None: logL
    N0: float = field(init=False)
    D0: float = field(init=False)

    def __post_init__(self) -> None:
        self.N0 = float(np.exp(np.mean(np.log(self.N))))
        self.D0 = float(np.exp(np.mean(np.log(self.D))))
        if self.Y is None:
            self.Y = self.logL[None, :]

    def specs(self) -> list[ParamSpec]:
        lo, hi = float(self.Y.min()), float(self.Y.max())
        return [
            ParamSpec("e", lo - 10.0, hi, "log nats/token"),
            ParamSpec("a", lo - 15.0, hi + 5.0, "log nats/token at N0"),
            ParamSpec("alpha", *EXP_BOUNDS, UNITS["alpha"]),
            ParamSpec("b", lo - 15.0, hi + 5.0, "log nats/token at D0"),
            ParamSpec("beta", *EXP_BOUNDS, UNITS["beta"]),
            *(ParamSpec(f"tau_{j}", *TAU_BOUNDS, UNITS["tau"]) for j in self.partners),
        ]

    def model(self, N=None, D=None, own=None, Q=None) -> engine.Model:
        """f(theta) = log L_i at the block's points (or at given points): values and Jacobian."""
        N = self.N if N is None else np.asarray(N, dtype=float)
        D = self.D if D is None else np.asarray(D, dtype=float)
        own = self.own if own is None else np.asarray(own, dtype=float)
        Q = self.Q if Q is None else np.asarray(Q, dtype=float)
        x = np.log(N / self.N0)
        yd = np.log(D / self.D0)

        J = Q.shape[1]

        def f(theta: np.ndarray, jac: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
            theta = np.atleast_2d(theta)
            e, a, al, b, be = (theta[:, k, None] for k in range(5))
            s = (
                own[None, :] + theta[:, 5:] @ Q.T
                if J
                else np.broadcast_to(own, (len(theta), own.size))
            )
            ok = s > S_FLOOR
            ls = np.log(np.where(ok, s, S_FLOOR))
            t1 = a - al * x
            z = yd + ls
            t2 = b - be * z
            val = np.logaddexp(np.logaddexp(t1, t2), e)
            if not jac:
                return val, None
            w1, w2, w3 = np.exp(t1 - val), np.exp(t2 - val), np.exp(e - val)
            out = np.empty((*val.shape, 5 + J))
            out[..., 0], out[..., 1], out[..., 2] = w3, w1, -x * w1
            out[..., 3], out[..., 4] = w2, -z * w2
            if J:
                dz = np.where(ok, -be * w2 / np.where(ok, s, 1.0), 0.0)
                out[..., 5:] = dz[:, :, None] * Q[None, :, :]
            return val, out

        return f

    def grid(self) -> np.ndarray:
        L = np.exp(self.logL)
        lo, span = float(L.min()), max(float(np.ptp(L)), 0.05 * float(L.min()))
        exps = [0.05, 0.2, 0.4, 0.7, 1.0, 1.5, 2.5]
        g = {
            "e": np.log(lo * np.array([0.05, 0.3, 0.6, 0.85, 0.97])),
            "a": np.log(span * np.array([0.02, 0.1, 0.3, 1.0, 3.0])),
            "alpha": exps,
            "b": np.log(span * np.array([0.02, 0.1, 0.3, 1.0, 3.0])),
            "beta": exps,
        }
        names = [s.name for s in self.specs()]
        return engine.grid_points(g, names)

    def raw(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Internal (K, P) -> raw E, A, alpha, B, beta (K,) and tau_j (K,)."""
        theta = np.atleast_2d(theta)
        out = {
            "E": np.exp(theta[:, 0]),
            "A": np.exp(theta[:, 1] + theta[:, 2] * np.log(self.N0)),
            "alpha": theta[:, 2],
            "B": np.exp(theta[:, 3] + theta[:, 4] * np.log(self.D0)),
            "beta": theta[:, 4],
        }
        for k, j in enumerate(self.partners):
            out[f"tau_{j}"] = theta[:, 5 + k]
        return out


def language_loss(raw: Mapping[str, float], tau_row: Mapping[str, float], lang: str, N, D, p):
    """L_i at (N, D, p) from raw parameters; p maps language -> share (missing = 0)."""
    s = p.get(lang, 0.0) + sum(t * p.get(j, 0.0) for j, t in tau_row.items() if t is not None)
    s = max(s, S_FLOOR)
    return raw["E"] + raw["A"] * N ** (-raw["alpha"]) + raw["B"] * (D * s) ** (-raw["beta"])


def mixture_losses(params, tau, languages, N, D, P) -> np.ndarray:
    """Per-language losses (K, L) for rows of proportions P (K, L), vectorised.

    params: {lang: {E, A, alpha, B, beta}} (floats or (K,) arrays); tau: LxL (null -> 0).
    """
    P = np.atleast_2d(np.asarray(P, dtype=float))
    T = np.array([[0.0 if v is None else float(v) for v in row] for row in tau], dtype=float)
    np.fill_diagonal(T, 1.0)
    S = np.maximum(P @ T.T, S_FLOOR)
    out = np.empty_like(S)
    for i, lang in enumerate(languages):
        q = params[lang]
        out[:, i] = (
            q["E"] + q["A"] * float(N) ** (-q["alpha"]) + q["B"] * (D * S[:, i]) ** (-q["beta"])
        )
    return out


# --------------------------------------------------------------------------------------- data


def collect_runs(table, languages: Sequence[str]) -> tuple[list[dict], dict[str, str]]:
    """Runs usable by the law: run, study, N, D, p over `languages`, {lang: val_loss}.

    Skipped (reason recorded): runs of other studies, runs with weight on a language outside
    `languages`. A non-finite or non-positive loss is an error naming the run and the language.
    """
    import polars as pl

    from codescale import LANGUAGES

    sub = table.filter(
        pl.col("study").is_in(["mono", "synergy", "allocation"]) & (pl.col("metric") == "val_loss")
    )
    pcols = [f"p_{lang}" for lang in LANGUAGES if f"p_{lang}" in table.columns]
    runs, skipped = [], {}
    for (run,), rows in sub.group_by(["run"], maintain_order=True):
        first = rows.row(0, named=True)
        p_all = {c[2:]: float(first[c] or 0.0) for c in pcols}
        if first["study"] == "mono" and sum(p_all.values()) <= 0 and first.get("target"):
            p_all[first["target"]] = 1.0
        total = sum(p_all.values())
        if total <= 0:
            skipped[run] = "no proportions"
            continue
        outside = [k for k, v in p_all.items() if v > 0 and k not in languages]
        if outside:
            skipped[run] = f"mixes languages without a fit: {outside}"
            continue
        p = {lang: p_all.get(lang, 0.0) / total for lang in languages}
        losses = {}
        for lang in languages:
            if p[lang] <= 0:
                continue
            vals = rows.filter(pl.col("lang") == lang)["value"]
            if vals.len() == 0 or vals.null_count() == vals.len():
                continue
            v = float(vals.drop_nulls().mean())
            if not (np.isfinite(v) and v > 0):
                raise CodescaleError(
                    f"run {run}: val_loss on {lang} is {v!r}, not a finite positive number "
                    "(fix or remove that run's evaluation)"
                )
            losses[lang] = v
        if not losses:
            skipped[run] = "not evaluated on any language of its mixture"
            continue
        runs.append(
            {"run": run, "study": first["study"], "N": float(first["N"]),
             "D": float(first["D"]), "p": p, "losses": losses}
        )  # fmt: skip
    return runs, skipped


def build_block(lang: str, runs: Sequence[dict], languages: Sequence[str]) -> Block:
    """The block of `lang`; raises CodescaleError naming the language when it cannot be fitted."""
    obs = [(k, r) for k, r in enumerate(runs) if lang in r["losses"]]
    if not obs:
        raise CodescaleError(f"{lang}: no run evaluated on {lang} contains {lang}")
    partners = [j for j in languages if j != lang and any(r["p"][j] > 0 for _, r in obs)]
    N = np.array([r["N"] for _, r in obs])
    D = np.array([r["D"] for _, r in obs])
    own = np.array([r["p"][lang] for _, r in obs])
    Q = np.array([[r["p"][j] for j in partners] for _, r in obs]).reshape(len(obs), len(partners))
    L = np.array([r["losses"][lang] for _, r in obs])
    pure = own >= 1 - 1e-9
    names = [r["run"] for _, r in obs]
    distinct = np.unique(np.column_stack([N[pure], D[pure]]), axis=0).shape[0] if pure.any() else 0
    if distinct < len(PARAMS):
        pure_runs = ", ".join(n for n, m in zip(names, pure, strict=True) if m) or "none"
        raise CodescaleError(
            f"{lang}: {distinct} distinct (N, D) points of single-language runs cannot determine "
            f"the {len(PARAMS)} parameters of L(N, D) (runs: {pure_runs}); need at least "
            f"{len(PARAMS)}"
        )
    if np.unique(N[pure]).size < 2 or np.unique(D[pure]).size < 2:
        raise CodescaleError(
            f"{lang}: single-language runs need at least 2 distinct N and 2 distinct D, got "
            f"{np.unique(N[pure]).size} N and {np.unique(D[pure]).size} D"
        )
    if np.ptp(L[pure]) == 0:
        raise CodescaleError(f"{lang}: all single-language losses are equal ({L[0]:g})")
    return Block(lang, names, np.array([k for k, _ in obs]), N, D, own, Q, partners, np.log(L))


# ------------------------------------------------------------------------------------ fitting


@dataclass
class BlockFit:
    block: Block
    full: engine.BatchFit  # 1 row
    boot: engine.BatchFit | None  # B rows (draw b of every block: one joint draw of the law)
    starts: np.ndarray  # the best grid starts (S, P)
    sigma: float | None = None  # log-loss noise scale the bootstrap used

    @property
    def theta(self) -> np.ndarray:
        return self.full.theta[0]


def fit_block(block: Block, delta: float) -> BlockFit:
    """Full-data multistart fit of each data set of the block from its best grid starts."""
    f = block.model()
    ones = np.ones(block.logL.size)
    starts = engine.best_starts(f, block.Y, block.grid(), ones, delta, N_STARTS)  # (R, S, P)
    full = engine.multistart(f, block.Y, starts, block.specs(), ones, delta)
    return BlockFit(block, full, None, starts)


def bootstrap_block(bf: BlockFit, sigma: np.ndarray, n_bootstrap: int, rng, delta: float) -> None:
    """Parametric bootstrap: refit y* = fitted + sigma * standard normal, from BOOT_STARTS starts
    (the full-data optimum and the best grid points). Draw b of data set r is row r * B + b.

    Why not resample runs: in the paper's designs single runs identify parameters (each synergy
    pair is the only run that fixes tau_ij; 9 mono runs fix 5 parameters), so about 37% of run
    resamples lose such a run, the parameter becomes unidentified and stays at its start: flat
    directions got zero-width intervals (issue 15, point 4). Redrawing the noise of every run at
    the pooled residual scale keeps the design and gives every parameter its real uncertainty.
    """
    block = bf.block
    f = block.model()
    R, n = block.Y.shape
    fitted, _ = f(bf.full.theta)  # (R, n)
    eps = rng.standard_normal((R, n_bootstrap, n))
    y = (fitted[:, None, :] + np.asarray(sigma)[:, None, None] * eps).reshape(R * n_bootstrap, n)
    starts = np.concatenate([bf.full.theta[:, None, :], bf.starts[:, : BOOT_STARTS - 1]], axis=1)
    starts = np.repeat(starts, n_bootstrap, axis=0)  # (R * B, S, P)
    bf.boot = engine.multistart(f, y, starts, block.specs(), np.ones(n), delta, max_iter=BOOT_ITER)
    bf.sigma = np.asarray(sigma)


def pooled_sigma(fits: Mapping[str, BlockFit]) -> np.ndarray:
    """(R,) residual scale of log L over all blocks, per data set, corrected for the fitted
    parameters (residual degrees of freedom)."""
    ss, dof = 0.0, 0
    for bf in fits.values():
        pred, _ = bf.block.model()(bf.full.theta)
        ss = ss + np.sum((pred - bf.block.Y) ** 2, axis=1)
        dof += bf.block.logL.size - len(bf.block.specs())
    if dof <= 0:
        raise CodescaleError(
            f"mixture law: {-dof} more parameters than observations over all languages: "
            "no residual degrees of freedom to estimate the noise"
        )
    return np.sqrt(ss / dof)


@dataclass
class TransferLaw:
    """The fitted law: per-language parameters, tau, and joint bootstrap draws."""

    languages: list[str]
    params: dict[str, dict[str, float]]
    tau: list[list[float | None]]
    samples: dict[str, dict[str, np.ndarray]]  # lang -> {E..beta: (B,), tau_j: (B,)}
    n_bootstrap: int

    def sample(self, b: int) -> tuple[dict[str, dict[str, float]], list[list[float | None]]]:
        """Bootstrap draw b as (params, tau)."""
        params = {k: {p: float(self.samples[k][p][b]) for p in PARAMS} for k in self.languages}
        tau = [
            [
                1.0 if i == j else (
                    float(self.samples[li][f"tau_{lj}"][b])
                    if f"tau_{lj}" in self.samples[li] else None
                )
                for j, lj in enumerate(self.languages)
            ]
            for i, li in enumerate(self.languages)
        ]  # fmt: skip
        return params, tau

    @classmethod
    def from_json(cls, doc: Mapping) -> TransferLaw:
        langs = list(doc["languages"])
        samples = {}
        for lang in langs:
            s = doc.get("samples", {}).get(lang, {})
            samples[lang] = {p: np.asarray(s.get(p, []), dtype=float) for p in PARAMS}
            for j, v in (s.get("tau") or {}).items():
                samples[lang][f"tau_{j}"] = np.asarray(v, dtype=float)
        n = min((len(samples[k]["E"]) for k in langs), default=0)
        return cls(langs, doc["params"], doc["tau"], samples, n)


def fit_law(
    runs: Sequence[dict],
    languages: Sequence[str],
    n_bootstrap: int,
    seed: int,
    delta: float = DEFAULT_HUBER_DELTA,
    datasets: Sequence[Sequence[dict]] | None = None,
) -> tuple[dict[str, BlockFit], dict[str, str]]:
    """Fit every language's block and bootstrap them; unfittable languages come with the reason.

    `datasets`: R further copies of `runs` with other losses (same runs, same order), fitted in
    the same batch (synthetic studies); data set 0 is then datasets[0] and `runs` gives the design.
    """
    fits, errors = {}, {}
    for lang in languages:
        try:
            block = build_block(lang, runs, languages)
        except CodescaleError as err:
            errors[lang] = str(err)
            continue
        if datasets is not None:
            block.Y = np.log([[ds[k]["losses"][lang] for k in block.run_idx] for ds in datasets])
        fits[lang] = fit_block(block, delta)
    if fits and n_bootstrap > 0:
        sigma = pooled_sigma(fits)
        rng = np.random.default_rng(seed)
        for lang in languages:
            if lang in fits:
                bootstrap_block(fits[lang], sigma, n_bootstrap, rng, delta)
    return fits, errors


def law_from_fits(
    fits: Mapping[str, BlockFit], languages: Sequence[str], r: int = 0
) -> TransferLaw:
    """The law of data set r (0 unless several were fitted at once)."""
    langs = [k for k in languages if k in fits]
    params, samples = {}, {}
    for k in langs:
        raw = fits[k].block.raw(fits[k].full.theta[r])
        params[k] = {p: float(raw[p][0]) for p in PARAMS}
        boot = fits[k].boot
        if boot is None:
            samples[k] = {}
        else:
            B = len(boot.theta) // len(fits[k].full.theta)
            samples[k] = fits[k].block.raw(boot.theta[r * B : (r + 1) * B])
    tau: list[list[float | None]] = []
    for i in langs:
        raw = fits[i].block.raw(fits[i].full.theta[r])
        tau.append(
            [1.0 if i == j else (float(raw[f"tau_{j}"][0]) if f"tau_{j}" in raw else None)
             for j in langs]
        )  # fmt: skip
    n = min((len(s.get("E", [])) for s in samples.values()), default=0)
    return TransferLaw(langs, params, tau, samples, n)


def leave_one_out(fits: Mapping[str, BlockFit], runs: Sequence[dict], delta: float) -> dict:
    """Refit each block without each multilingual run (zero weight) and predict that run."""
    multi = [k for k, r in enumerate(runs) if sum(v > 0 for v in r["p"].values()) >= 2]
    multi = [k for k in multi if any(lang in fits for lang in runs[k]["losses"])]
    if not multi:
        return {"error": "no multilingual runs to hold out"}
    W = np.ones((len(multi), len(runs)))
    W[np.arange(len(multi)), multi] = 0.0
    pred: dict[tuple[int, str], float] = {}
    for lang, bf in fits.items():
        block = bf.block
        w = W[:, block.run_idx]
        # grid starts only (tau = 0): starting from the full-data optimum would leak the run
        start = engine.best_starts(
            block.model(), block.logL, block.grid(), np.ones(block.logL.size), delta, 2
        )
        refit = engine.multistart(
            block.model(), block.logL, start, block.specs(), w, delta, max_iter=BOOT_ITER
        )
        vals, _ = block.model()(refit.theta)
        for row, k in enumerate(multi):
            hit = np.flatnonzero(block.run_idx == k)
            if hit.size:
                pred[(k, lang)] = float(np.exp(vals[row, hit[0]]))
    rel, per_run, obs_all, pred_all = [], {}, [], []
    for k in multi:
        r = runs[k]
        langs = [lang for lang in r["losses"] if (k, lang) in pred]
        if not langs:
            continue
        o = float(np.mean([r["losses"][lang] for lang in langs]))
        p = float(np.mean([pred[(k, lang)] for lang in langs]))
        per_run[r["run"]] = (p - o) / o
        rel.append(abs(p - o) / o)
        obs_all.append(o)
        pred_all.append(p)
    if not rel:
        return {"error": "no held-out run could be predicted"}
    return {
        "method": "leave-one-run-out",
        "rel_error_mean": float(np.mean(rel)),
        "rel_error_max": float(np.max(rel)),
        "spearman_rho": spearman_rho(pred_all, obs_all),
        "n": len(rel),
        "runs": per_run,
    }


def heldout_mixtures(
    fits: Mapping[str, BlockFit], runs: Sequence[dict], delta: float
) -> list[dict]:
    """The allocation's check: refit without every run mixing 3+ languages, predict those runs.

    Those are the mixtures the allocation extrapolates to (the pairs alone fix each tau_ij; a
    3+-language mixture tests that transfers add up). rel_error per run: (predicted - observed) /
    observed of the mean loss over its evaluated languages. One result per data set.
    """
    held = [k for k, r in enumerate(runs) if sum(v > 0 for v in r["p"].values()) >= 3]
    held = [k for k in held if any(lang in fits for lang in runs[k]["losses"])]
    R = next(iter(fits.values())).block.Y.shape[0] if fits else 1
    if not held:
        return [{"error": "no run mixes 3 or more languages"}] * R
    w_all = np.ones(len(runs))
    w_all[held] = 0.0
    pred = {}  # (run, lang) -> (R,) predicted loss
    obs = {}
    for lang, bf in fits.items():
        block = bf.block
        w = w_all[block.run_idx]
        f = block.model()
        start = engine.best_starts(f, block.Y, block.grid(), w, delta, 3)
        refit = engine.multistart(f, block.Y, start, block.specs(), w, delta)
        vals, _ = f(refit.theta)
        for k in held:
            hit = np.flatnonzero(block.run_idx == k)
            if hit.size:
                pred[(k, lang)] = np.exp(vals[:, hit[0]])
                obs[(k, lang)] = np.exp(block.Y[:, hit[0]])
    out = []
    for r in range(R):
        per_run = {}
        for k in held:
            langs = [lang for lang in runs[k]["losses"] if (k, lang) in pred]
            o = float(np.mean([obs[(k, lang)][r] for lang in langs]))
            p = float(np.mean([pred[(k, lang)][r] for lang in langs]))
            per_run[runs[k]["run"]] = (p - o) / o
        rel = np.abs(list(per_run.values()))
        out.append({
            "method": "refit without the runs mixing 3+ languages, predict them",
            "rel_error_mean": float(rel.mean()),
            "n": int(rel.size),
            "runs": per_run,
        })  # fmt: skip
    return out


def synergy_check(law: TransferLaw, synergy: Mapping | None) -> dict:
    """Law-implied Table 1 gains vs the measured ones (Spearman rho over the off-diagonal cells)."""
    if not synergy or "gain" not in synergy or "error" in synergy:
        return {"error": "no measured synergy matrix"}
    pos = {k: i for i, k in enumerate(synergy["languages"])}
    N, D = float(synergy["N"]), float(synergy["D"])
    implied, measured = [], []
    for i, li in enumerate(law.languages):
        for j, lj in enumerate(law.languages):
            if i == j or li not in pos or lj not in pos:
                continue
            m = synergy["gain"][pos[li]][pos[lj]]
            t = law.tau[i][j]
            if m is None or t is None:
                continue
            row = {lk: law.tau[i][k] for k, lk in enumerate(law.languages) if k != i}
            base = language_loss(law.params[li], row, li, N, D, {li: 1.0})
            mix = language_loss(law.params[li], row, li, N, D, {li: 0.5, lj: 0.5})
            implied.append(base - mix)
            measured.append(m)
    if len(implied) < 3:
        return {"error": f"{len(implied)} comparable cells (need 3)"}
    return {"spearman_rho": spearman_rho(implied, measured), "n": len(implied), "N": N, "D": D}


def analyse(
    table,
    languages: Sequence[str],
    n_bootstrap: int = 200,
    seed: int = 0,
    delta: float = DEFAULT_HUBER_DELTA,
    synergy: Mapping | None = None,
) -> dict:
    """mixture_law.json content. Raises CodescaleError when no language can be fitted."""
    runs, skipped = collect_runs(table, languages)
    if not any(sum(v > 0 for v in r["p"].values()) >= 2 for r in runs):
        raise CodescaleError("mixture law: no synergy or allocation runs (multilingual mixtures)")
    fits, errors = fit_law(runs, languages, n_bootstrap, seed, delta)
    if not fits:
        raise CodescaleError(f"mixture law: no language could be fitted: {errors}")
    law = law_from_fits(fits, languages)
    return document(law, fits, errors, runs, skipped, delta, n_bootstrap, synergy)


def intervals(law: TransferLaw, level: float = 0.95) -> dict:
    """The reported intervals of a law from its joint bootstrap draws: {"ci": {lang: {param:
    [lo, hi]}}, "tau_ci": LxL, "gamma", "gamma_ci", "gamma_bias"} (INTERVAL_METHOD; why gamma's
    interval is bias-corrected: engine.bias_corrected_interval). codescale fit reports these and
    the synthetic-truth coverage (synthetic.trials) scores exactly these.

    gamma = mean of the identified off-diagonal tau_ij; its draws are the same mean per joint draw.
    gamma_bias = mean(draws) - gamma, the bootstrap's estimate of the estimator's bias (tau_ij is
    right-skewed where the synergy runs barely inform it).
    """
    langs = law.languages
    ci, tau_ci = {}, []
    cells = []
    for i, li in enumerate(langs):
        raw_s = law.samples[li]
        ci[li] = {p: engine.percentile_interval(raw_s.get(p, []), level) for p in PARAMS}
        row = []
        for j, lj in enumerate(langs):
            if i == j or law.tau[i][j] is None:
                row.append(None)
                continue
            cells.append((li, lj, law.tau[i][j]))
            row.append(engine.percentile_interval(raw_s.get(f"tau_{lj}", []), level))
        tau_ci.append(row)
    gamma = float(np.mean([t for _, _, t in cells])) if cells else None
    sampled = all(f"tau_{b}" in law.samples[a] for a, b, _ in cells)
    draws = (
        np.mean([np.asarray(law.samples[a][f"tau_{b}"][: law.n_bootstrap]) for a, b, _ in cells],
                axis=0)
        if cells and sampled and law.n_bootstrap else np.array([])
    )  # fmt: skip
    finite = draws[np.isfinite(draws)] if draws.size else draws
    return {
        "ci": ci,
        "tau_ci": tau_ci,
        "gamma": gamma,
        "gamma_ci": (engine.bias_corrected_interval(draws, gamma, level) if gamma is not None
                     else [None, None]),
        "gamma_bias": (float(finite.mean() - gamma) if gamma is not None and finite.size
                       else None),
    }  # fmt: skip


def document(law, fits, errors, runs, skipped, delta, n_bootstrap, synergy) -> dict:
    langs = law.languages
    iv = intervals(law)
    blocks, samples = {}, {}
    for li in langs:
        bf = fits[li]
        raw_s = law.samples[li]
        specs = bf.block.specs()
        flagged = [s.name for s, f in zip(specs, bf.full.at_bounds[0], strict=True) if f]
        conv = bool(bf.full.converged[0])
        blocks[li] = {
            "n_points": int(bf.block.logL.size),
            "partners": bf.block.partners,
            "converged": conv,
            "at_bounds": flagged,
            "status": "converged"
            if conv
            else (
                f"flagged: within 1% of a bound: {', '.join(flagged)}"
                if flagged
                else "flagged: optimiser did not meet its tolerance"
            ),
            "bootstrap_converged": (None if bf.boot is None else float(np.mean(bf.boot.converged))),
        }
        samples[li] = {p: np.asarray(raw_s.get(p, [])).tolist() for p in PARAMS}
        samples[li]["tau"] = {
            j: np.asarray(raw_s[f"tau_{j}"]).tolist()
            for j in bf.block.partners
            if f"tau_{j}" in raw_s
        }
    points = []
    for r in runs:
        if sum(v > 0 for v in r["p"].values()) < 2:
            continue
        evaluated = [k for k in r["losses"] if k in law.params]
        if not evaluated:
            continue
        P = np.array([[r["p"][k] for k in langs]])
        pred = mixture_losses(law.params, law.tau, langs, r["N"], r["D"], P)[0]
        points.append({
            "run": r["run"], "N": r["N"], "D": r["D"], "p": r["p"],
            "observed": float(np.mean([r["losses"][k] for k in evaluated])),
            "predicted": float(np.mean([pred[langs.index(k)] for k in evaluated])),
            "evaluated": evaluated,
            "complete": len(evaluated) == sum(v > 0 for v in r["p"].values()),
        })  # fmt: skip
    obs = np.log([q["observed"] for q in points]) if points else np.array([])
    prd = np.log([q["predicted"] for q in points]) if points else np.array([])
    return {
        "law": LAW,
        "units": UNITS,
        "languages": langs,
        "huber_delta": delta,
        "bootstrap": n_bootstrap,
        "params": law.params,
        "ci": iv["ci"],
        "tau": law.tau,
        "tau_ci": iv["tau_ci"],
        "gamma": iv["gamma"],
        "gamma_ci": iv["gamma_ci"],
        "gamma_bias": iv["gamma_bias"],
        "gamma_definition": "mean of the identified off-diagonal tau_ij (a summary, not fitted)",
        "interval_method": INTERVAL_METHOD,
        "converged": all(b["converged"] for b in blocks.values()),
        "blocks": blocks,
        "errors": errors,
        "skipped_runs": skipped,
        "n_points": len(points),
        "r2_log": r_squared(obs, prd) if len(points) else None,
        "points": points,
        "validation": leave_one_out(fits, runs, delta),
        "heldout_check": heldout_mixtures(fits, runs, delta)[0],
        "synergy_check": synergy_check(law, synergy),
        "loss_definition": LOSS_DEFINITION,
        "samples": samples,
    }
