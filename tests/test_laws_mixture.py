"""The proportion-dependent law with a fitted transfer matrix (codescale.laws.mixture_law): one
model, recovered from known truth, unit-invariant, honest about bounds and degenerate studies."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from codescale import LANGUAGES
from codescale.errors import CodescaleError
from codescale.laws import chinchilla, engine, mixture_law, synthetic

LANGS = ["python", "java", "go"]
TRUTH = synthetic.Truth(
    LANGS,
    {
        "python": {"E": 0.9, "A": 300.0, "alpha": 0.40, "B": 900.0, "beta": 0.45},
        "java": {"E": 0.7, "A": 200.0, "alpha": 0.45, "B": 600.0, "beta": 0.50},
        "go": {"E": 0.6, "A": 150.0, "alpha": 0.35, "B": 500.0, "beta": 0.40},
    },
    [[1.0, 0.30, 0.05], [0.20, 1.0, -0.10], [0.00, 0.40, 1.0]],
)
DESIGN = synthetic.Design(
    LANGS,
    [(n, d) for n in (1e5, 3e5, 1e6) for d in (1e7, 3e7, 1e8)],
    (3e5, 3e7),
    (3e5, 9e7),
)


def noise_free_runs(truth=TRUTH, design=DESIGN) -> list[dict]:
    return synthetic.draw(truth, design, 0.0, np.random.default_rng(0))


def table_from(runs: list[dict]) -> pl.DataFrame:
    """A collected table (tidy: one row per run and evaluated language) from synthetic runs."""
    rows = []
    for r in runs:
        for lang, loss in r["losses"].items():
            rows.append({"run": r["run"], "study": r["study"], "N": r["N"], "D": r["D"],
                         "target": lang if r["study"] == "mono" else None,
                         **{f"p_{k}": 0.0 for k in LANGUAGES},
                         **{f"p_{k}": float(v) for k, v in r["p"].items()},
                         "metric": "val_loss", "lang": lang, "value": float(loss)})  # fmt: skip
    return pl.DataFrame(rows)


def test_single_language_mixture_is_the_chinchilla_law():
    p = TRUTH.params["java"]
    P = np.array([[0.0, 1.0, 0.0]])
    got = mixture_law.mixture_losses(TRUTH.params, TRUTH.tau, LANGS, 3e5, 2e7, P)[0, 1]
    assert got == pytest.approx(float(chinchilla.chinchilla_loss(3e5, 2e7, **p)), rel=1e-12)
    # a pair: java's effective data is D (p_java + tau_java,python p_python)
    P = np.array([[0.5, 0.5, 0.0]])
    got = mixture_law.mixture_losses(TRUTH.params, TRUTH.tau, LANGS, 3e5, 2e7, P)[0, 1]
    want = chinchilla.chinchilla_loss(3e5, 2e7 * (0.5 + 0.2 * 0.5), **p)
    assert got == pytest.approx(float(want), rel=1e-12)


def test_noise_free_truth_is_recovered_with_its_transfer_matrix():
    runs = noise_free_runs()
    fits, errors = mixture_law.fit_law(runs, LANGS, 0, 0)
    assert errors == {}
    law = mixture_law.law_from_fits(fits, LANGS)
    for lang in LANGS:
        assert fits[lang].full.converged[0], lang
        for k, v in TRUTH.params[lang].items():
            assert law.params[lang][k] == pytest.approx(v, rel=0.01), (lang, k)
    tau = np.array(law.tau, dtype=float)
    np.testing.assert_allclose(tau, TRUTH.tau, atol=0.01)


def test_fit_is_unit_invariant():
    """Counts in billions instead of raw: same exponents and tau, A and B convert (issue 15.5)."""
    rng = np.random.default_rng(3)
    runs = synthetic.draw(TRUTH, DESIGN, 0.01, rng)
    scaled = [{**r, "N": r["N"] / 1e9, "D": r["D"] / 1e9} for r in runs]
    a = mixture_law.law_from_fits(mixture_law.fit_law(runs, LANGS, 0, 0)[0], LANGS)
    b = mixture_law.law_from_fits(mixture_law.fit_law(scaled, LANGS, 0, 0)[0], LANGS)
    for lang in LANGS:
        pa, pb = a.params[lang], b.params[lang]
        assert pb["alpha"] == pytest.approx(pa["alpha"], rel=1e-6)
        assert pb["beta"] == pytest.approx(pa["beta"], rel=1e-6)
        assert pb["E"] == pytest.approx(pa["E"], rel=1e-6)
        assert pb["A"] == pytest.approx(pa["A"] * 1e-9 ** pa["alpha"], rel=1e-5)
        assert pb["B"] == pytest.approx(pa["B"] * 1e-9 ** pa["beta"], rel=1e-5)
    np.testing.assert_allclose(np.array(a.tau, float), np.array(b.tau, float), atol=1e-6)


def test_analyse_reports_units_intervals_and_checks():
    rng = np.random.default_rng(5)
    runs = synthetic.draw(TRUTH, DESIGN, 0.01, rng)
    doc = mixture_law.analyse(table_from(runs), LANGS, n_bootstrap=30, seed=0)
    assert doc["languages"] == LANGS and doc["units"]["tau"].startswith("tokens of language i")
    for lang in LANGS:
        for k in mixture_law.PARAMS:
            lo, hi = doc["ci"][lang][k]
            assert lo < hi, (lang, k)
        assert (
            doc["blocks"][lang]["status"] in ("converged",)
            or "flagged" in doc["blocks"][lang]["status"]
        )
        assert len(doc["samples"][lang]["E"]) == 30
    assert doc["tau"][0][0] == 1.0 and doc["tau_ci"][0][0] is None
    lo, hi = doc["tau_ci"][0][1]
    assert lo < doc["tau"][0][1] < hi
    assert doc["gamma"] == pytest.approx(
        np.mean([doc["tau"][i][j] for i in range(3) for j in range(3) if i != j])
    )
    held = doc["heldout_check"]
    assert held["n"] == 1 and held["rel_error_mean"] < 0.05  # the 3-language run, predicted
    val = doc["validation"]
    assert val["method"] == "leave-one-run-out" and val["n"] == 4  # 3 pairs + the allocation run
    assert doc["n_points"] == len([r for r in runs if sum(v > 0 for v in r["p"].values()) >= 2])
    law = mixture_law.TransferLaw.from_json(doc)
    params, tau = law.sample(3)
    assert set(params) == set(LANGS) and tau[1][1] == 1.0


def test_a_parameter_at_its_bound_is_flagged_not_converged():
    """Losses that do not depend on N: the model term runs to its lower bound (issue 15.3)."""
    flat = synthetic.Truth(
        LANGS,
        {k: {**v, "A": 1e-30} for k, v in TRUTH.params.items()},
        TRUTH.tau,
    )
    runs = noise_free_runs(flat)
    fits, _ = mixture_law.fit_law(runs, LANGS, 0, 0)
    doc = mixture_law.document(
        mixture_law.law_from_fits(fits, LANGS), fits, {}, runs, {}, 1e-3, 0, None
    )
    block = doc["blocks"]["python"]
    assert block["converged"] is False and doc["converged"] is False
    # the model term vanishes either way: its size or its exponent runs to a bound
    assert set(block["at_bounds"]) & {"a", "alpha"} and block["status"].startswith("flagged")


def test_engine_flags_within_one_percent_of_a_bound():
    specs = [engine.ParamSpec("x", 0.0, 10.0, "u"), engine.ParamSpec("y", -1.0, 1.0, "u")]
    flags = engine.near_bounds(np.array([[9.95, 0.0], [5.0, -0.985], [0.2, 0.5]]), specs)
    assert flags.tolist() == [[True, False], [False, True], [False, False]]


def test_degenerate_studies_name_the_language_and_the_run():
    runs = noise_free_runs()
    few = [
        r for r in runs if not (r["study"] == "mono" and "go" in r["run"] and "1e+08" in r["run"])
    ]
    few = [
        r for r in few if not (r["study"] == "mono" and "go" in r["run"] and "3e+07" in r["run"])
    ]
    _, errors = mixture_law.fit_law(few, LANGS, 0, 0)
    assert "go: 4 distinct (N, D) points" in errors["go"] and "mono/go/" in errors["go"]
    one_size = [r for r in runs if r["study"] != "mono" or r["N"] == 1e5 or "go" not in r["run"]]
    _, errors = mixture_law.fit_law(one_size, LANGS, 0, 0)
    assert "go:" in errors["go"] and "distinct" in errors["go"]
    equal = [{**r, "losses": dict.fromkeys(r["losses"], 2.0)} for r in runs]
    _, errors = mixture_law.fit_law(equal, LANGS, 0, 0)
    assert "all single-language losses are equal" in errors["python"]
    table = table_from(runs)
    bad = table.with_columns(
        pl.when((pl.col("run") == "synergy/python+java") & (pl.col("lang") == "java"))
        .then(float("nan"))
        .otherwise(pl.col("value"))
        .alias("value")
    )
    with pytest.raises(CodescaleError, match=r"run synergy/python\+java: val_loss on java is nan"):
        mixture_law.analyse(bad, LANGS, n_bootstrap=0)
    with pytest.raises(CodescaleError, match="no synergy or allocation runs"):
        mixture_law.analyse(table.filter(pl.col("study") == "mono"), LANGS, n_bootstrap=0)


def test_bias_corrected_interval_reflects_the_bootstrap_bias_by_hand():
    """gamma's interval: draws [1, 2, 3, 4] of an estimate 2 (bootstrap bias +0.5) -> centre
    2 - 0.5 = 1.5, half-width 1.96 x sd (ddof 1, 1.2910) = 2.5303; too few draws: nulls."""
    lo, hi = engine.bias_corrected_interval([1.0, 2.0, 3.0, 4.0, np.nan], 2.0)
    assert (lo + hi) / 2 == pytest.approx(1.5)
    assert (hi - lo) / 2 == pytest.approx(1.959964 * np.std([1, 2, 3, 4], ddof=1), rel=1e-6)
    assert engine.bias_corrected_interval([1.0], 2.0) == [None, None]
    assert engine.bias_corrected_interval([1.0, 2.0], None) == [None, None]
