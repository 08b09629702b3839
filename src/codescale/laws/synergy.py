"""The cross-language synergy matrix (paper Table 1) and a Data-Mixing-Law fit of mixtures.

Synergy runs are named synergy/A+B/... (one run per unordered pair, see synergy_cells); the
diagonal A+A (the target's data
repeated twice) is the self-repetition baseline. The matrix entry (i, j) is the validation loss on
target i of the run TARGET=i, AUX=j (rows target, columns auxiliary; seeds averaged). The paper's
convention, used for every number it reports:
    gain[i][j] = loss[i][i] - loss[i][j]          (> 0: auxiliary j helps target i)
    relative_gain[i][j] = gain[i][j] / loss[i][i]
If the table holds synergy runs at several (N, D), the configuration with the most matrix cells is
used (ties: largest N, then largest D); the chosen N and D are reported.

Parametric part, a Data Mixing Law (Ye et al. 2024) per target language i:
    L_i(r) = c_i + k_i * exp(sum_j t_ij r_j)
with r the mixture proportions (p_* columns) of every synergy and allocation run at the chosen
(N, D), and L_i the val_loss on language i of that run (also runs that do not contain i, when the
table has them). Because sum_j r_j = 1, adding a constant to every t_ij is absorbed by k_i: we fix
the gauge t_ii = 0, leaving c_i, k_i and t_ij (j != i). A target is fitted only when every one of
these parameters is locally identifiable (full-rank Jacobian at a generic point). With only the
pairwise runs' losses on their own target, row i has L points for L + 1 parameters: nothing is
identifiable (c_i trades against k_i and every t_ij); the reason is recorded instead.

`codescale fit` writes results/fits/synergy.json:

    {"languages": [...], "N": float, "D": float,
     "convention": str,
     "baseline": {lang: loss or null},
     "loss": LxL, "gain": LxL, "relative_gain": LxL,  # rows target, cols aux; null = no run
     "parametric": {"form": str, "gauge": "t_ii = 0", "units": {c, k, t}, "huber_delta",
                    "bootstrap": int,
                    "targets": {lang: {"c", "k", "t": {lang: t_ij}, "ci": {c, k, t_<lang>:
                                       [lo, hi]}, "units", "n_points", "rmse", "sigma_log",
                                       "converged", "status", "at_bounds",
                                       "bootstrap_converged"}
                              or {"error": str, "identifiable": [param names], "n_points"}}}
                   or {"error": str}}

The Data Mixing Law is a law of the engine (DataMixingLaw): the same Huber-on-log-residuals fit,
multistart, parametric bootstrap (percentile intervals), units and honest convergence flag as
the per-language and mixture laws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from codescale import LANGUAGES
from codescale.errors import CodescaleError
from codescale.laws import engine
from codescale.laws.engine import ParamSpec
from codescale.laws.fitting import DEFAULT_HUBER_DELTA

CONVENTION = "gain = L(Li+Li) - L(Li+Lj) (> 0 helps); relative_gain = gain / L(Li+Li)"
FORM = "L_i(r) = c_i + k_i * exp(sum_j t_ij r_j)"
P_COLUMNS = tuple(f"p_{lang}" for lang in LANGUAGES)


def synergy_cells(table, languages: Sequence[str] | None = None):
    """Mean val_loss per (target, auxiliary) cell at the chosen (N, D) config.

    A run mixing L_a and L_b (D tokens each; named synergy/a+b) fills two cells: (a, b) from its
    loss on L_a and (b, a) from its loss on L_b. A run a+a (the self-repetition baseline) fills
    (a, a). So the paper's 7x7 table needs 7 + 21 runs.
    """
    import polars as pl

    sub = table.filter(
        (pl.col("study") == "synergy")
        & (pl.col("metric") == "val_loss")
        & pl.col("auxiliary").is_not_null()
        & ((pl.col("lang") == pl.col("target")) | (pl.col("lang") == pl.col("auxiliary")))
    ).with_columns(
        pl.col("lang").alias("cell_target"),
        pl.when(pl.col("lang") == pl.col("target"))
        .then(pl.col("auxiliary"))
        .otherwise(pl.col("target"))
        .alias("cell_aux"),
    )
    if languages is not None:
        sub = sub.filter(pl.col("cell_target").is_in(list(languages)))
        sub = sub.filter(pl.col("cell_aux").is_in(list(languages)))
    if sub.height == 0:
        raise CodescaleError(
            "no synergy runs in the table (study == 'synergy', metric == 'val_loss' on the "
            "target or auxiliary language)"
        )
    configs = (
        sub.group_by(["N", "D"])
        .agg(pl.struct(["cell_target", "cell_aux"]).n_unique().alias("cells"))
        .sort(["cells", "N", "D"], descending=True)
    )
    N, D = float(configs["N"][0]), float(configs["D"][0])
    cells = (
        sub.filter((pl.col("N") == N) & (pl.col("D") == D))
        .group_by(["cell_target", "cell_aux"])
        .agg(pl.col("value").mean())
    )
    rows = cells.iter_rows(named=True)
    return N, D, {(r["cell_target"], r["cell_aux"]): float(r["value"]) for r in rows}


def synergy_matrix(table, languages: Sequence[str] | None = None) -> dict:
    """Loss, gain and relative-gain matrices (without the parametric fit)."""
    N, D, cells = synergy_cells(table, languages)
    present = {t for t, _ in cells} | {a for _, a in cells}
    langs = [lang for lang in (languages or LANGUAGES) if lang in present]
    unknown = present - set(LANGUAGES)
    if unknown:
        raise CodescaleError(f"unknown languages in synergy runs: {sorted(unknown)}")
    loss = [[cells.get((t, a)) for a in langs] for t in langs]
    baseline = {t: cells.get((t, t)) for t in langs}
    gain, rel = [], []
    for t, row in zip(langs, loss, strict=True):
        b = baseline[t]
        gain.append([None if b is None or v is None else b - v for v in row])
        rel.append([None if b is None or v is None else (b - v) / b for v in row])
    return {
        "languages": langs,
        "N": N,
        "D": D,
        "convention": CONVENTION,
        "baseline": baseline,
        "loss": loss,
        "gain": gain,
        "relative_gain": rel,
    }


def mixture_rows(table, N: float, D: float, languages: Sequence[str]):
    """Runs of the synergy and allocation studies at (N, D): proportions and val_loss per language.

    Returns (R, losses) with R an (n_runs, L) array of proportions over `languages` (null counts as
    0; renormalised to sum 1; runs with no weight on `languages` dropped) and losses
    {lang: array of val_loss per run, NaN where not evaluated}.
    """
    import polars as pl

    sub = table.filter(
        pl.col("study").is_in(["synergy", "allocation"])
        & (pl.col("metric") == "val_loss")
        & (pl.col("N") == N)
        & (pl.col("D") == D)
    )
    cols = [f"p_{lang}" for lang in languages]
    missing = [c for c in cols if c not in sub.columns]
    if missing:
        raise CodescaleError(f"the table lacks the proportion columns {missing}")
    wide = (
        sub.group_by(["run", "lang"])
        .agg(pl.col("value").mean(), *[pl.col(c).first() for c in cols])
        .sort(["run", "lang"])
    )
    runs = sorted(set(wide["run"].to_list()))
    R = np.full((len(runs), len(languages)), np.nan)
    losses = {lang: np.full(len(runs), np.nan) for lang in languages}
    pos = {r: i for i, r in enumerate(runs)}
    for row in wide.iter_rows(named=True):
        i = pos[row["run"]]
        R[i] = [0.0 if row[c] is None else row[c] for c in cols]  # null: not in the mixture
        if row["lang"] in losses:
            losses[row["lang"]][i] = row["value"]
    ok = np.all(np.isfinite(R), axis=1) & (R.sum(axis=1) > 0)
    R = R[ok] / R[ok].sum(axis=1, keepdims=True)
    return R, {k: v[ok] for k, v in losses.items()}


def _dml(R: np.ndarray, c: float, k: float, t: np.ndarray) -> np.ndarray:
    return c + k * np.exp(R @ t)


def identifiable(R: np.ndarray, target: int) -> tuple[list[int], int]:
    """Indices (into [c, k, t_j for j != target]) that are locally identifiable from mixtures R.

    A parameter is identifiable when its unit vector lies in the row space of the Jacobian at a
    generic parameter point (the null-space directions are the combinations the data cannot see).
    The rank does not depend on the parameterisation (DataMixingLaw fits log c, log k: same rank
    for c, k > 0).
    """
    L = R.shape[1]
    others = [j for j in range(L) if j != target]
    t = np.zeros(L)
    t[others] = 0.37 * (np.arange(len(others)) + 1) / L - 0.1  # generic, not special
    e = np.exp(R @ t)
    J = np.column_stack([np.ones(len(R)), e, *(R[:, j] * e for j in others)])
    n_par = J.shape[1]
    _, s, vt = np.linalg.svd(J, full_matrices=True)
    rank = int(np.sum(s > 1e-9 * max(s.max(), 1.0))) if s.size else 0
    null = vt[rank:]
    if null.shape[0] == 0:
        return list(range(n_par)), rank
    return [p for p in range(n_par) if np.linalg.norm(null[:, p]) < 1e-6], rank


T_BOUNDS = (-10.0, 10.0)  # t_ij: proportions are in [0, 1], so |t| = 10 is a factor e^10
DML_UNITS = {
    "c": "nats/token",
    "k": "nats/token",
    "t": "log-loss change per unit share of language j (gauge t_ii = 0)",
}
N_STARTS = 4


@dataclass
class DataMixingLaw:
    """The Data Mixing Law of one target i as a law of the engine (codescale.laws.engine), in the
    lmfit Model style: parameters with bounds and units (`specs`), a start grid (`grid`), a
    vectorised prediction with its Jacobian (`model`), and the fit (`fit`).

        log L_i(r) = logaddexp(log c, log k + sum_{j != i} t_ij r_j)      (= log(c + k e^{t.r}))

    Fitted like every law of codescale: Huber (delta 1e-3) on log residuals, Levenberg-Marquardt
    from the best grid starts, a parametric bootstrap with a multistart per draw, a parameter
    within 1% of its bound width of a bound flagged (never "converged"). c and k are fitted on
    the log scale (both positive: c is the loss at infinitely good mixing, k the reducible part);
    a fit that wants c -> 0 ends at log c's lower bound and is flagged.
    R: (n, L) mixture proportions (rows sum 1); y: (n,) losses on the target (nats/token).
    """

    R: np.ndarray
    y: np.ndarray
    target: int
    languages: Sequence[str]

    @property
    def others(self) -> list[int]:
        return [j for j in range(len(self.languages)) if j != self.target]

    @property
    def names(self) -> list[str]:
        return ["c", "k", *(f"t_{self.languages[j]}" for j in self.others)]

    def specs(self) -> list[ParamSpec]:
        lo, hi = float(np.log(self.y.min())), float(np.log(self.y.max()))
        return [
            ParamSpec("c", lo - 10.0, lo, "log nats/token"),
            ParamSpec("k", lo - 15.0, hi + 5.0, "log nats/token"),
            *(ParamSpec(n, *T_BOUNDS, DML_UNITS["t"]) for n in self.names[2:]),
        ]

    def model(self, R: np.ndarray | None = None) -> engine.Model:
        Q = (self.R if R is None else np.atleast_2d(R))[:, self.others]  # (n, J)

        def f(theta: np.ndarray, jac: bool = True):
            theta = np.atleast_2d(theta)
            lc, lk = theta[:, :1], theta[:, 1:2]
            u = lk + theta[:, 2:] @ Q.T  # (K, n)
            val = np.logaddexp(lc, u)
            if not jac:
                return val, None
            wc = np.exp(lc - val)
            wk = np.exp(u - val)
            out = np.empty((*val.shape, 2 + Q.shape[1]))
            out[..., 0], out[..., 1] = wc, wk
            out[..., 2:] = wk[:, :, None] * Q[None, :, :]
            return val, out

        return f

    def grid(self) -> np.ndarray:
        lo, span = float(self.y.min()), max(float(np.ptp(self.y)), 1e-3 * float(self.y.min()))
        g = {
            "c": np.log(lo * np.array([0.01, 0.3, 0.6, 0.9])),
            "k": np.log(np.array([span, 0.3 * lo, lo])),
            **{n: [-1.0, 0.0, 1.0] if len(self.others) <= 3 else [0.0] for n in self.names[2:]},
        }
        return engine.grid_points(g, self.names)

    def raw(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Internal (K, P) -> c, k (nats/token) and t_j (K,)."""
        theta = np.atleast_2d(theta)
        out = {"c": np.exp(theta[:, 0]), "k": np.exp(theta[:, 1])}
        for m, n in enumerate(self.names[2:]):
            out[n] = theta[:, 2 + m]
        return out

    def fit(self, n_bootstrap: int, rng: np.random.Generator, delta: float) -> dict:
        """Full-data multistart fit, parametric bootstrap, flags: the synergy.json entry."""
        f = self.model()
        logy = np.log(self.y)
        ones = np.ones(logy.size)
        specs = self.specs()
        starts = engine.best_starts(f, logy, self.grid(), ones, delta, N_STARTS)
        full = engine.multistart(f, logy, starts, specs, ones, delta)
        theta = full.theta[0]
        pred, _ = f(full.theta)
        resid = pred[0] - logy
        raw = {k: float(v[0]) for k, v in self.raw(full.theta).items()}
        flagged = [sp.name for sp, b in zip(specs, full.at_bounds[0], strict=True) if b]
        converged = bool(full.converged[0])
        status = (
            "converged"
            if converged
            else (
                f"flagged: within 1% of a bound: {', '.join(flagged)}"
                if flagged
                else "flagged: optimiser did not meet its tolerance"
            )
        )
        dof = logy.size - len(specs)
        ci: dict[str, list] = {n: [None, None] for n in self.names}
        sigma = None
        boot_conv = None
        if dof <= 0:
            converged = False
            status = (
                f"flagged: {logy.size} points for {len(specs)} parameters: no residual degrees of "
                "freedom, no intervals"
            )
        elif n_bootstrap > 0:
            sigma = float(np.sqrt(np.sum(resid**2) / dof))
            y_b = pred[0][None, :] + sigma * rng.standard_normal((n_bootstrap, logy.size))
            b_starts = np.repeat(
                np.concatenate([theta[None, :], starts[:1]])[None], n_bootstrap, axis=0
            )
            boot = engine.multistart(f, y_b, b_starts, specs, ones, delta, max_iter=80)
            draws = self.raw(boot.theta)
            ci = {n: engine.percentile_interval(draws[n]) for n in self.names}
            boot_conv = float(np.mean(boot.converged))
        langs = self.languages
        return {
            "c": raw["c"],
            "k": raw["k"],
            "t": {
                lang: (0.0 if j == self.target else raw[f"t_{lang}"])
                for j, lang in enumerate(langs)
            },  # fmt: skip
            "ci": ci,
            "units": DML_UNITS,
            "n_points": int(logy.size),
            "rmse": float(np.sqrt(np.mean((np.exp(pred[0]) - self.y) ** 2))),
            "sigma_log": sigma,
            "converged": converged,
            "status": status,
            "at_bounds": flagged,
            "bootstrap_converged": boot_conv,
        }


def fit_target(
    R: np.ndarray,
    y: np.ndarray,
    target: int,
    languages: Sequence[str],
    n_bootstrap: int = 0,
    seed: int = 0,
    delta: float = DEFAULT_HUBER_DELTA,
) -> dict:
    """Fit the Data Mixing Law for one target, or say why it cannot be fitted (never raises)."""
    ok = np.isfinite(y)
    R, y = R[ok], y[ok]
    others = [j for j in range(len(languages)) if j != target]
    names = ["c", "k", *(f"t_{languages[j]}" for j in others)]
    if len(y) == 0:
        return {"error": "no runs evaluated on this language", "identifiable": [], "n_points": 0}
    if np.any(y <= 0):
        return {"error": "a non-positive loss", "identifiable": [], "n_points": int(len(y))}
    # distinct mixtures only count once for identifiability
    uniq = np.unique(np.round(R, 12), axis=0)
    idx, rank = identifiable(uniq, target)
    if len(idx) < len(names):
        return {
            "error": (
                f"{len(uniq)} distinct mixtures give Jacobian rank {rank} for {len(names)} "
                f"parameters ({', '.join(names)}): not identifiable"
            ),
            "identifiable": [names[i] for i in idx],
            "n_points": int(len(y)),
        }
    law = DataMixingLaw(R, y, target, list(languages))
    return law.fit(n_bootstrap, np.random.default_rng([seed, target]), delta)


def parametric(
    table,
    N: float,
    D: float,
    languages: Sequence[str],
    n_bootstrap: int = 0,
    seed: int = 0,
    delta: float = DEFAULT_HUBER_DELTA,
) -> dict:
    """The Data Mixing Law per target from every mixture at (N, D); reasons where not fittable."""
    try:
        R, losses = mixture_rows(table, N, D, languages)
    except CodescaleError as err:
        return {"error": str(err)}
    if len(R) == 0:
        return {"error": f"no synergy/allocation runs with proportions at N={N:g}, D={D:g}"}
    targets = {
        lang: fit_target(R, losses[lang], i, languages, n_bootstrap, seed, delta)
        for i, lang in enumerate(languages)
    }
    return {"form": FORM, "gauge": "t_ii = 0", "units": DML_UNITS, "huber_delta": delta,
            "bootstrap": n_bootstrap, "targets": targets}  # fmt: skip


def analyse(
    table,
    languages: Sequence[str] | None = None,
    n_bootstrap: int = 0,
    seed: int = 0,
    delta: float = DEFAULT_HUBER_DELTA,
) -> dict:
    """synergy.json content; raises CodescaleError only when there are no synergy runs at all."""
    out = synergy_matrix(table, languages)
    out["parametric"] = parametric(
        table, out["N"], out["D"], out["languages"], n_bootstrap, seed, delta
    )
    return out
