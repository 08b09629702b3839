"""The allocation optimiser: on the simplex, within the repetition caps and the trust region,
better than uniform under the law; advice only when the law's draws and held-out check agree."""

from __future__ import annotations

import json

import numpy as np
import pytest

from codescale.cli import main
from codescale.errors import CodescaleError
from codescale.laws import allocation_optimiser as allocation
from codescale.model.presets import PRESETS, n_params

LANGS = ["python", "java", "go"]
# python has most to gain from data (large B, slow saturation), go saturates fast
PARAMS = {
    "python": {"E": 0.55, "A": 300.0, "alpha": 0.40, "B": 5000.0, "beta": 0.45},
    "java": {"E": 0.40, "A": 200.0, "alpha": 0.45, "B": 900.0, "beta": 0.45},
    "go": {"E": 0.35, "A": 150.0, "alpha": 0.35, "B": 300.0, "beta": 0.45},
}
N, D = 1e6, 1e8


def test_projection_lands_on_the_capped_simplex():
    upper = np.array([0.2, 0.5, 1.0])
    for v in (np.array([3.0, -1.0, 0.2]), np.array([0.1, 0.1, 0.1]), np.zeros(3)):
        p = allocation.project_capped_simplex(v, upper)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(p >= 0) and np.all(p <= upper + 1e-12)
    # exact: the nearest point (checked against a brute-force bisection on mu)
    rng = np.random.default_rng(0)
    for _ in range(50):
        v, lower = rng.normal(size=4), np.full(4, 0.05)
        up = np.array([0.6, 0.3, 1.0, 0.2])
        p = allocation.project_capped_simplex(v, up, lower)
        lo, hi = -10.0, 10.0
        for _ in range(200):
            mu = (lo + hi) / 2
            lo, hi = (mu, hi) if np.clip(v - mu, lower, up).sum() > 1 else (lo, mu)
        np.testing.assert_allclose(p, np.clip(v - lo, lower, up), atol=1e-9)
    batch = allocation.project_capped_simplex(np.array([[3.0, -1.0, 0.2], [0.0, 0.0, 0.0]]), upper)
    assert batch.shape == (2, 3) and np.allclose(batch.sum(axis=1), 1.0)


def test_optimum_on_simplex_respects_caps_and_beats_uniform():
    available = {"python": 5e6, "java": 1e8, "go": 1e8}  # python capped at 4 * 5e6 / 1e8 = 0.2
    out = allocation.allocate(N, D, LANGS, PARAMS, available, cap=4.0)
    p = np.array([out["law_optimum"][k] for k in LANGS])
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(p >= 0)
    assert out["caps"]["python"] == pytest.approx(0.2)
    assert p[0] <= 0.2 + 1e-12
    assert p[0] == pytest.approx(0.2, abs=1e-6)  # python wants more than its cap
    assert out["tokens"]["python"] <= 4.0 * available["python"] * (1 + 1e-9)  # the advice too
    assert out["uniform_feasible"] is False
    assert out["predicted_loss"]["optimised"] <= out["predicted_loss"]["natural"] + 1e-12


def test_uncapped_optimum_beats_uniform_and_favours_the_data_hungry_language():
    available = dict.fromkeys(LANGS, 1e9)
    out = allocation.allocate(N, D, LANGS, PARAMS, available, cap=4.0)
    p = out["law_optimum"]
    assert sum(p.values()) == pytest.approx(1.0, abs=1e-9)
    assert p["python"] > 1 / 3 > p["go"]
    assert out["predicted_gain_vs_uniform"] > 1e-3
    assert out["predicted_gain_vs_uniform"] == pytest.approx(
        out["predicted_loss"]["uniform"] - out["predicted_loss"]["optimised"]
    )
    # the optimum is a true local minimum: small feasible moves do not improve it
    law = {k: np.array([PARAMS[g][k] for g in LANGS]) for k in allocation.PARAMS}
    best = np.mean(allocation.language_losses(np.array(list(p.values())), N, D, **law))
    assert best == pytest.approx(out["predicted_loss"]["optimised"])
    floor = allocation.DEFAULT_MIN_SHARE_FACTOR / 3
    for i in range(3):
        for j in range(3):
            q = np.array(list(p.values()))
            if i != j and q[j] - 1e-3 >= floor:
                q[i] += 1e-3
                q[j] -= 1e-3
                worse = np.mean(allocation.language_losses(q, N, D, **law))
                assert worse >= best - 1e-12


def test_trust_region_keeps_every_language_at_half_its_uniform_share():
    # go gains nothing from data: unconstrained, its share would go to 0
    params = {**PARAMS, "go": {**PARAMS["go"], "B": 1e-6}}
    out = allocation.allocate(N, D, LANGS, params, dict.fromkeys(LANGS, 1e9))
    assert out["law_optimum"]["go"] == pytest.approx(0.5 / 3, abs=1e-9)
    assert out["min_shares"]["go"] == pytest.approx(0.5 / 3)
    free = allocation.allocate(N, D, LANGS, params, dict.fromkeys(LANGS, 1e9), min_share_factor=0)
    assert free["law_optimum"]["go"] < 1e-3


def test_transfer_shifts_data_towards_the_sources_that_help():
    available = dict.fromkeys(LANGS, 1e9)
    # one token of python is worth 0.8 tokens of java (row: target java, column: source python)
    tau = [[1.0, 0.0, 0.0], [0.8, 1.0, 0.0], [0.0, 0.0, 1.0]]
    plain = allocation.allocate(N, D, LANGS, PARAMS, available)
    boosted = allocation.allocate(N, D, LANGS, PARAMS, available, tau=tau)
    assert boosted["predicted_loss"]["optimised"] < plain["predicted_loss"]["optimised"]
    # java now learns from python's tokens: its own share drops to the trust region's floor
    assert plain["law_optimum"]["java"] > 0.19
    assert boosted["law_optimum"]["java"] == pytest.approx(0.5 / 3)
    assert boosted["law_optimum"]["python"] > plain["law_optimum"]["python"]


def law_draws(scale: float, n: int = 40, seed: int = 0):
    """Bootstrap-like draws of the law: B multiplied by exp(scale * normal) per language."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n):
        params = {k: {**v, "B": v["B"] * float(np.exp(scale * rng.normal()))}
                  for k, v in PARAMS.items()}  # fmt: skip
        draws.append((params, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    return draws


def test_advice_follows_the_law_only_when_draws_and_held_out_check_agree():
    available = dict.fromkeys(LANGS, 1e9)
    good = {"rel_error_mean": 1e-4, "n": 1}
    sure = allocation.allocate(N, D, LANGS, PARAMS, available, samples=law_draws(0.01),
                               heldout=good)  # fmt: skip
    adv = sure["advice"]
    assert adv["status"] == "optimised", adv["reason"]
    assert sure["proportions"] == sure["law_optimum"]
    assert 0 < adv["gain_ci"][0] < adv["gain_ci"][1] and adv["n_draws"] == 40
    lo, hi = adv["proportions_ci"]["python"]
    assert lo <= sure["law_optimum"]["python"] <= hi
    # the draws disagree wildly: the gain interval contains 0 -> keep uniform, say why
    unsure = allocation.allocate(N, D, LANGS, PARAMS, available, samples=law_draws(3.0),
                                 heldout=good)  # fmt: skip
    assert unsure["advice"]["status"] == "uniform"
    assert "not positive in 95% of the bootstrap draws" in unsure["advice"]["reason"]
    assert unsure["proportions"] == unsure["uniform"]
    # the law failed its held-out check
    bad = allocation.allocate(N, D, LANGS, PARAMS, available, samples=law_draws(0.01),
                              heldout={"rel_error_mean": 0.3, "n": 1})  # fmt: skip
    assert bad["advice"]["status"] == "uniform"
    assert "failed its held-out check: mean relative error 0.3" in bad["advice"]["reason"]
    # no draws at all: no interval, no advice
    none = allocation.allocate(N, D, LANGS, PARAMS, available, heldout=good)
    assert "no bootstrap draws" in none["advice"]["reason"]
    # caps forbid uniform: the reference is the feasible mixture nearest to uniform
    capped = allocation.allocate(N, D, LANGS, PARAMS, {**available, "python": 5e6},
                                 heldout=good)  # fmt: skip
    assert capped["advice"]["status"] == "uniform_capped"
    assert capped["proportions"]["python"] == pytest.approx(0.2)
    assert capped["proportions"]["java"] == pytest.approx(0.4)


def test_infeasible_caps_are_a_clear_error():
    with pytest.raises(CodescaleError, match="caps allow at most 0.03"):
        allocation.allocate(N, D, LANGS, PARAMS, dict.fromkeys(LANGS, 1e6), cap=1.0)
    with pytest.raises(CodescaleError, match="no per-language law"):
        allocation.allocate(N, D, ["rust"], PARAMS, {"rust": 1e9})


def test_allocate_cli(tmp_path):
    fits = tmp_path / "fits"
    fits.mkdir()
    per = {"law": "x", "languages": {k: {"params": v} for k, v in PARAMS.items()}}
    (fits / "per_language.json").write_text(json.dumps(per))
    (fits / "mixture_law.json").write_text(json.dumps({"error": "too few runs", "tau": None}))
    out = tmp_path / "allocation.json"
    argv = ["allocate", "--fits-dir", str(fits), "--size-N", "1e6", "--tokens", "1e8",
            "--available", "go=1e9", "python=5e6", "java=1e9", "--repetition-cap", "4",
            "--seed", "0", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["languages"] == LANGS  # canonical order
    assert sum(doc["proportions"].values()) == pytest.approx(1.0)
    assert doc["proportions"]["python"] <= doc["caps"]["python"] + 1e-12
    assert "too few runs" in doc["law_source"] and doc["tau"] is not None
    # per-language laws only: no draws, no held-out check -> the reference, with the reasons
    assert doc["advice"]["status"] == "uniform_capped"
    assert "no bootstrap draws" in doc["advice"]["reason"]
    for key in ("uniform", "natural", "predicted_loss", "predicted_gain_vs_uniform", "tokens",
                "law_optimum", "advice"):  # fmt: skip
        assert key in doc
    bad = [*argv[:-2], "--available", "python", "--out", str(out)]
    assert main(bad) == 2
    # the workflow's form: a size preset and token-shard metadata files
    shard = tmp_path / "train.json"
    shard.write_text(json.dumps({"n_tokens": 2e6, "lang": "go"}))
    size = next(iter(PRESETS))
    argv = ["allocate", "--fits-dir", str(fits), "--size", size, "--tokens", "1e6", "--vocab-size",
            "512", "--available", f"go={shard}", "java=1e9", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["N"] == n_params(size)
    assert doc["available"]["go"] == 2e6 and doc["caps"]["go"] == pytest.approx(1.0)


def test_fit_then_allocate_optimises_the_fitted_law_with_its_draws(tmp_path):
    """`codescale fit` writes the transfer law with its bootstrap draws and held-out check;
    `codescale allocate` optimises that very law (same parameters, same tau) and bootstraps it."""
    import polars as pl
    from test_laws_mixture import DESIGN, TRUTH, table_from  # tests/ is on sys.path (pytest)

    from codescale.laws import synthetic

    runs = synthetic.draw(TRUTH, DESIGN, 0.005, np.random.default_rng(2))
    table = table_from(runs)
    for col in ("pair_format", "auxiliary", "src_lang", "tgt_lang"):
        table = table.with_columns(pl.lit(None, dtype=pl.String).alias(col))
    table = table.with_columns(pl.lit(None, dtype=pl.Boolean).alias("seen"))
    path = tmp_path / "runs.parquet"
    table.write_parquet(path)
    fits = tmp_path / "fits"
    argv = ["fit", "--table", str(path), "--out-dir", str(fits), "--bootstrap", "20",
            "--languages", *LANGS]  # fmt: skip
    assert main(argv) == 0
    mix = json.loads((fits / "mixture_law.json").read_text())
    assert mix["languages"] == LANGS and len(mix["samples"]["go"]["E"]) == 20
    out = tmp_path / "allocation.json"
    argv = ["allocate", "--fits-dir", str(fits), "--size-N", "3e5", "--tokens", "9e7",
            "--available", *(f"{k}=1e12" for k in LANGS), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["law_source"].endswith("mixture_law.json")
    assert doc["tau"] == mix["tau"] and doc["advice"]["n_draws"] == 20
    assert doc["heldout_check"]["n"] == 1
    law = {k: np.array([mix["params"][g][k] for g in LANGS]) for k in allocation.PARAMS}
    p = np.array([doc["law_optimum"][k] for k in LANGS])
    want = np.mean(allocation.language_losses(p, 3e5, 9e7, **law, tau=mix["tau"]))
    assert doc["predicted_loss"]["optimised"] == pytest.approx(want, rel=1e-12)
    assert doc["advice"]["status"] in ("optimised", "uniform") and doc["advice"]["reason"]
