"""Synthetic truth (issue 15): studies generated from a known transfer law on the designs of
config/config.yaml and config/paper.yaml, 40 noise draws at 1% and 2%, fitted, bootstrapped and
allocated exactly as `codescale fit` + `codescale allocate` do (all draws in one batch).

Asserted: the advice is never worse than uniform under the TRUE law (>= 95% of draws), the
intervals cover the truth, the advice is taken where the data support it and then captures most
of the true optimum's gain, and a truth without transfer (uniform optimal) keeps uniform with a
gain interval that is not confidently positive and holds the law optimum's true (negative) gain.
Numbers: benchmarks/laws.py and benchmarks/RESULTS.md.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from codescale.laws import synthetic

ROOT = Path(__file__).resolve().parents[1]
N_DRAWS = 40
# bootstrap draws per fit: the paper's grid has 4x the runs per language (60 mono runs), so fewer
# draws keep its 80 fits within the test budget; coverage is asserted on the default grid
BOOTSTRAP = {"config/config.yaml": 20, "config/paper.yaml": 10}


@functools.cache
def results(config: str, noise: float, synergy: bool = True) -> list[dict]:
    des = synthetic.design(ROOT / config)
    rng = np.random.default_rng(7)
    truth = synthetic.make_truth(des, rng, synergy=synergy, same_laws=not synergy)
    return synthetic.trials(truth, des, noise, N_DRAWS, seed=1, n_bootstrap=BOOTSTRAP[config])


@pytest.mark.slow
@pytest.mark.parametrize("config", ["config/config.yaml", "config/paper.yaml"])
@pytest.mark.parametrize("noise", [0.01, 0.02])
def test_advice_is_no_worse_than_uniform_under_the_true_law(config, noise):
    res = results(config, noise)
    no_worse = np.mean([r["true_gain"] >= -1e-9 for r in res])
    assert no_worse >= 0.95, [(r["status"], r["true_gain"]) for r in res]
    for r in res:
        if r["status"] != "optimised":
            assert r["true_gain"] == 0.0 and r["reason"]  # uniform kept, and said why


@pytest.mark.slow
@pytest.mark.parametrize("noise", [0.01, 0.02])
def test_intervals_cover_the_truth_on_the_default_design(noise):
    """The intervals `codescale fit` reports (mixture_law.intervals) hold the truth in >= 85% of
    (draw, language or cell) cases for every parameter, tau and gamma (issue 15's target)."""
    res = results("config/config.yaml", noise)
    for param in ("E", "A", "alpha", "B", "beta", "tau", "gamma"):
        coverage = np.mean([r["covered"][param] for r in res])
        assert coverage >= 0.85, (param, coverage)


@pytest.mark.slow
@pytest.mark.parametrize("noise", [0.01, 0.02])
def test_gamma_interval_covers_the_truth_on_the_paper_design(noise):
    """The paper's grid: each tau_ij hangs on one synergy run whose data term is small at 128B
    tokens, so tau_ij's estimate is right-skewed (mean-biased) and gamma, the mean of 42, carried
    the bias: percentile coverage 0.25-0.70. The bias-corrected interval covers it in >= 85%
    (measured 0.90 at 2%, 0.95 at 1%, with these 10 bootstrap draws). The single parameters'
    percentile intervals need more than 10 draws (their 2.5/97.5 percentiles are then the extreme
    draws): benchmarks/RESULTS.md has them at 40 draws."""
    res = results("config/paper.yaml", noise)
    coverage = np.mean([r["covered"]["gamma"] for r in res])
    assert coverage >= 0.85, coverage


@pytest.mark.slow
@pytest.mark.parametrize("config", ["config/config.yaml", "config/paper.yaml"])
@pytest.mark.parametrize("noise", [0.01, 0.02])
def test_advice_reaches_80_percent_of_the_optimum_where_the_gain_exceeds_the_noise(config, noise):
    """Issue 15: "reaches >= 80% of the true optimum's gain where that gain exceeds the noise".
    The noise is that of a measured gain (synthetic.gain_noise: one run of each mixture); the
    gain exceeds it when it is >= 2 of them. There the share of the optimum's gain realised,
    averaged over ALL draws (a draw that keeps uniform realises 0), is >= 80%. The default design
    at 1% noise is such a case (gain 3.2 noise); the others (1.6, 1.4, 0.7) keep uniform in most
    draws (the gain's interval reaches 0); that the advice is no worse than uniform is the first
    test's."""
    res = results(config, noise)
    opt, sigma = res[0]["optimum_gain"], res[0]["gain_noise"]
    share = np.array([r["true_gain"] / opt for r in res])
    advised = np.array([r["status"] == "optimised" for r in res])
    if (config, noise) == ("config/config.yaml", 0.01):
        assert opt >= 2 * sigma, (opt, sigma)
    if opt >= 2 * sigma:
        assert share.mean() >= 0.8, np.round(share, 2)
    else:
        assert advised.mean() <= 0.5  # uniform kept where the gain is within the noise


@pytest.mark.slow
def test_no_transfer_truth_keeps_uniform_and_its_gain_interval_is_not_positive():
    """Seven identical laws and no transfer: uniform is the true optimum, so the law's optimum p*
    can only be worse; every apparent gain is the optimiser fitting noise (the winner's curse)."""
    res = results("config/config.yaml", 0.01, synergy=False)
    assert all(abs(r["optimum_gain"]) < 1e-9 for r in res)
    assert np.mean([r["status"] == "uniform" for r in res]) >= 0.9
    assert all(r["true_gain"] >= -1e-9 for r in res)
    # the corrected gain interval of p* is never confidently positive, and holds its true gain
    assert np.mean([r["gain_ci"][0] <= 0 for r in res]) >= 0.9
    covered = [r["gain_ci"][0] <= r["law_gain"] <= r["gain_ci"][1] for r in res]
    assert np.mean(covered) >= 0.85
