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
    res = results("config/config.yaml", noise)
    for param in ("E", "alpha", "beta", "tau", "gamma"):
        coverage = np.mean([r["covered"][param] for r in res])
        assert coverage >= 0.85, (param, coverage)


@pytest.mark.slow
def test_advice_is_taken_where_the_gain_exceeds_the_noise_and_captures_it():
    """1% noise on the default design: the true optimum gains 0.046 nats/token over uniform,
    about 4x the noise of a mean over 7 languages; most draws are advised and reach >= 80% of it."""
    res = results("config/config.yaml", 0.01)
    advised = [r for r in res if r["status"] == "optimised"]
    assert len(advised) >= 0.6 * len(res)
    share = [r["true_gain"] / r["optimum_gain"] for r in advised]
    assert np.mean(np.array(share) >= 0.8) >= 0.9, np.round(share, 2)


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
