"""The proportion-dependent law (Eqs. 6-7): gamma is recovered and validated out of sample."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from codescale import LANGUAGES
from codescale.errors import CodescaleError
from codescale.laws import mixture_law

LANGS = ["python", "java", "go"]
PER_LANG = {
    "python": {"E": 0.55, "A": 300.0, "alpha": 0.40, "B": 900.0, "beta": 0.45},
    "java": {"E": 0.40, "A": 200.0, "alpha": 0.45, "B": 600.0, "beta": 0.50},
    "go": {"E": 0.35, "A": 150.0, "alpha": 0.35, "B": 500.0, "beta": 0.40},
}
REL_GAIN = [[0.0, 0.08, -0.03], [0.12, 0.0, 0.05], [0.02, 0.10, 0.0]]
TRUE = {"A": 120.0, "B": 700.0, "gamma": 3.0}


def exponents():
    aN = np.array([PER_LANG[k]["alpha"] for k in LANGS])
    aD = np.array([PER_LANG[k]["beta"] for k in LANGS])
    Li = np.array([PER_LANG[k]["E"] for k in LANGS])
    return aN, aD, Li


def design():
    """Pairs, singles and three-way mixtures at 2 sizes x 2 token counts."""
    mixes = [np.eye(3)[i] for i in range(3)]
    mixes += [np.array(m) for m in ([0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5], [0.2, 0.3, 0.5])]
    rows = [(n, d, m) for n in (1e5, 1e7) for d in (1e6, 1e8) for m in mixes]
    N = np.array([r[0] for r in rows])
    D = np.array([r[1] for r in rows])
    P = np.array([r[2] for r in rows])
    return N, D, P


def synthetic():
    N, D, P = design()
    tau = mixture_law.tau_from_relative_gain(REL_GAIN)
    L = mixture_law.mixture_loss(N, D, P, TRUE["A"], TRUE["B"], TRUE["gamma"], *exponents(), tau)
    return N, D, P, L, tau


def test_synergy_sum_only_counts_distinct_pairs():
    tau = np.array([[5.0, 1.0], [3.0, 7.0]])  # the diagonal must not count
    assert mixture_law.synergy_sum(np.array([0.5, 0.5]), tau)[0] == pytest.approx(0.25 * 4)
    assert mixture_law.synergy_sum(np.array([1.0, 0.0]), tau)[0] == 0.0


def test_gamma_recovered_from_synthetic_mixtures():
    N, D, P, L, tau = synthetic()
    fit = mixture_law.fit_mixture_law(N, D, P, L, *exponents(), tau)
    assert fit.outcome.success and not fit.gamma_fixed
    assert fit.gamma == pytest.approx(TRUE["gamma"], rel=0.01)
    a_fit, b_fit = fit.A, fit.B
    assert a_fit == pytest.approx(TRUE["A"], rel=0.01)
    assert b_fit == pytest.approx(TRUE["B"], rel=0.01)


def test_no_synergy_signal_fixes_gamma():
    N, D, P, _, _ = synthetic()
    zero = np.zeros((3, 3))
    L = mixture_law.mixture_loss(N, D, P, 120.0, 700.0, 0.0, *exponents(), zero)
    fit = mixture_law.fit_mixture_law(N, D, P, L, *exponents(), zero)
    assert fit.gamma_fixed and fit.gamma == 0.0
    a_fit = fit.A
    assert a_fit == pytest.approx(120.0, rel=0.01)
    with pytest.raises(CodescaleError, match="cannot determine"):
        mixture_law.fit_mixture_law(N[:1], D[:1], P[:1], L[:1], *exponents(), zero)


def table_from(N, D, P, L) -> pl.DataFrame:
    """Synergy/allocation runs whose every evaluated language has the law's mixture loss."""
    rows = []
    for i, (n, d, p, loss) in enumerate(zip(N, D, P, L, strict=True)):
        study = "synergy" if np.count_nonzero(p) <= 2 else "allocation"
        for lang in LANGS:
            rows.append({"run": f"{study}/r{i}", "study": study, "N": n, "D": d,
                         **{f"p_{k}": 0.0 for k in LANGUAGES},
                         **{f"p_{k}": float(v) for k, v in zip(LANGS, p, strict=True)},
                         "metric": "val_loss", "lang": lang, "value": float(loss)})  # fmt: skip
    # a mixture with a language that has no per-language law is skipped
    rows.append({**rows[-1], "run": "allocation/other", "p_rust": 0.5})
    return pl.DataFrame(rows)


def test_analyse_validates_out_of_sample():
    N, D, P, L, _ = synthetic()
    per_language = {k: {"params": v} for k, v in PER_LANG.items()}
    per_language["rust"] = {"error": "not enough runs"}
    syn = {"languages": LANGS, "relative_gain": REL_GAIN}
    out = mixture_law.analyse(table_from(N, D, P, L), per_language, syn)
    assert out["languages"] == LANGS
    assert out["n_points"] == len(L)
    assert out["params"]["gamma"] == pytest.approx(TRUE["gamma"], rel=0.01)
    assert out["params"]["alpha_N"] == {k: PER_LANG[k]["alpha"] for k in LANGS}
    assert out["tau"][1][0] == pytest.approx(0.12) and out["tau"][0][0] == 0.0
    val = out["validation"]
    assert val["n"] == len(L)
    assert val["rel_error_mean"] < 1e-3
    assert val["spearman_rho"] > 0.99
    assert out["points"][0]["predicted"] == pytest.approx(out["points"][0]["observed"], rel=1e-4)
