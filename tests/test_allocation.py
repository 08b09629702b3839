"""The allocation optimiser: on the simplex, within the repetition caps, better than uniform."""

from __future__ import annotations

import json

import numpy as np
import pytest

from codescale.cli import main
from codescale.errors import CodescaleError
from codescale.laws import allocation
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


def test_optimum_on_simplex_respects_caps_and_beats_uniform():
    available = {"python": 5e6, "java": 1e8, "go": 1e8}  # python capped at 4 * 5e6 / 1e8 = 0.2
    out = allocation.allocate(N, D, LANGS, PARAMS, available, cap=4.0)
    p = np.array([out["proportions"][k] for k in LANGS])
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(p >= 0)
    assert out["caps"]["python"] == pytest.approx(0.2)
    assert p[0] <= 0.2 + 1e-12
    assert p[0] == pytest.approx(0.2, abs=1e-6)  # python wants more than its cap
    assert out["tokens"]["python"] <= 4.0 * available["python"] * (1 + 1e-9)
    assert out["uniform_feasible"] is False
    assert out["predicted_loss"]["optimised"] <= out["predicted_loss"]["natural"] + 1e-12


def test_uncapped_optimum_beats_uniform_and_favours_the_data_hungry_language():
    available = dict.fromkeys(LANGS, 1e9)
    out = allocation.allocate(N, D, LANGS, PARAMS, available, cap=4.0)
    p = out["proportions"]
    assert sum(p.values()) == pytest.approx(1.0, abs=1e-9)
    assert p["python"] > 1 / 3 > p["go"]
    assert out["predicted_gain_vs_uniform"] > 1e-3
    assert out["predicted_gain_vs_uniform"] == pytest.approx(
        out["predicted_loss"]["uniform"] - out["predicted_loss"]["optimised"]
    )
    # the optimum is a true local minimum: small feasible moves do not improve it
    law = {k: np.array([PARAMS[g][k] for g in LANGS]) for k in allocation.PARAMS}
    best = np.mean(allocation.language_losses(np.array(list(p.values())), N, D, **law,
                                              gamma=0.0, tau=np.zeros((3, 3))))  # fmt: skip
    assert best == pytest.approx(out["predicted_loss"]["optimised"])
    for i in range(3):
        for j in range(3):
            if i != j:
                q = np.array(list(p.values()))
                q[i] += 1e-3
                q[j] -= 1e-3
                worse = np.mean(allocation.language_losses(q, N, D, **law, gamma=0.0,
                                                           tau=np.zeros((3, 3))))  # fmt: skip
                assert worse >= best - 1e-12


def test_synergy_boost_shifts_data_towards_helpful_pairs():
    available = dict.fromkeys(LANGS, 1e9)
    tau = np.array([[0.0, 0.3, 0.0], [0.3, 0.0, 0.0], [0.0, 0.0, 0.0]])
    plain = allocation.allocate(N, D, LANGS, PARAMS, available)
    boosted = allocation.allocate(N, D, LANGS, PARAMS, available, gamma=2.0, tau=tau)
    assert boosted["predicted_loss"]["optimised"] < plain["predicted_loss"]["optimised"]
    assert boosted["proportions"]["go"] < plain["proportions"]["go"]


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
    assert doc["gamma"] == 0.0 and "too few runs" in doc["synergy_source"]
    for key in ("uniform", "natural", "predicted_loss", "predicted_gain_vs_uniform", "tokens"):
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
