"""Per-language and translation laws: known parameters are recovered, bad input is refused."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from codescale import LANGUAGES
from codescale.cli import main
from codescale.errors import CodescaleError
from codescale.laws import chinchilla, translation
from codescale.laws.fitting import huber

TRUE = {"E": 0.5, "A": 400.0, "alpha": 0.45, "B": 2000.0, "beta": 0.55}
SCHEMA = {
    "run": pl.String, "study": pl.String, "size": pl.String, "N": pl.Float64,
    "N_total": pl.Float64, "D": pl.Float64, "pair_format": pl.String,
    "parallel_share": pl.Float64, "seed": pl.Int64, "target": pl.String,
    "auxiliary": pl.String, **{f"p_{k}": pl.Float64 for k in LANGUAGES},
    "metric": pl.String, "lang": pl.String, "src_lang": pl.String, "tgt_lang": pl.String,
    "seen": pl.Boolean, "value": pl.Float64,
}  # fmt: skip


def tidy(rows: list[dict]) -> pl.DataFrame:
    """A collected table (ARCHITECTURE.md format) from partial rows."""
    return pl.DataFrame([{k: r.get(k) for k in SCHEMA} for r in rows], schema=SCHEMA)


def grid(n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    N, D = np.meshgrid(np.geomspace(1e5, 1e7, n), np.geomspace(1e6, 1e8, n))
    return N.ravel(), D.ravel()


def test_noise_free_recovery_within_one_percent():
    N, D = grid()
    L = chinchilla.chinchilla_loss(N, D, **TRUE)
    fit = chinchilla.fit_chinchilla(N, D, L)
    assert fit.outcome.converged, fit.outcome.report
    for k, v in TRUE.items():
        assert fit.params[k] == pytest.approx(v, rel=0.01), k
    np.testing.assert_allclose(fit.predict(N, D), L, rtol=1e-6)


def test_noisy_truth_inside_bootstrap_intervals():
    N, D = grid()
    rng = np.random.default_rng(1)
    L = chinchilla.chinchilla_loss(N, D, **TRUE) * np.exp(rng.normal(0, 0.01, N.size))
    out = chinchilla.analyse(N, D, L, n_bootstrap=30, seed=0)
    assert set(out["params"]) == set(TRUE) == set(out["ci"])
    for k, v in TRUE.items():
        lo, hi = out["ci"][k]
        assert lo <= v <= hi, (k, lo, v, hi)
        assert lo <= out["params"][k] <= hi
    assert out["converged"] is True and out["nfev"] > 0
    assert out["r2_log"] > 0.99
    assert sorted(float(k) for k in out["r2_by_N"]) == pytest.approx(np.unique(N))
    assert all(r2 > 0.95 for r2 in out["r2_by_N"].values())
    ext = out["extrapolation"]
    assert ext["heldout_N"] == pytest.approx(1e7) and ext["n_heldout"] == 5
    assert abs(ext["rel_error"]) < 0.05
    assert ext["rel_error"] == pytest.approx((ext["predicted"] - ext["observed"]) / ext["observed"])
    assert out["n_points"] == 25 and len(out["points"]) == 25


def test_huber_resists_an_outlier():
    N, D = grid()
    L = chinchilla.chinchilla_loss(N, D, **TRUE)
    L[7] *= 1.3  # one broken run
    fit = chinchilla.fit_chinchilla(N, D, L)
    assert fit.params["alpha"] == pytest.approx(TRUE["alpha"], rel=0.02)
    assert fit.params["beta"] == pytest.approx(TRUE["beta"], rel=0.02)
    assert huber(np.array([0.5]), 1e-3)[0] == pytest.approx(1e-3 * (0.5 - 0.5e-3))


def test_fewer_points_than_parameters_is_a_clear_error():
    N, D = grid()
    L = chinchilla.chinchilla_loss(N, D, **TRUE)
    with pytest.raises(
        CodescaleError, match=r"4 distinct \(N, D\) points cannot determine the 5 parameters"
    ):
        chinchilla.fit_chinchilla(N[:4], D[:4], L[:4], where="python")
    with pytest.raises(CodescaleError, match="4 distinct"):  # repeated seeds add no equation
        chinchilla.fit_chinchilla(np.tile(N[:4], 3), np.tile(D[:4], 3), np.tile(L[:4], 3))


def test_constant_losses_are_a_clear_error():
    N, D = grid()
    with pytest.raises(CodescaleError, match=r"all 25 losses are equal.*\(go\)"):
        chinchilla.analyse(N, D, np.full(N.size, 1.7), n_bootstrap=0, where="go")


def test_non_positive_and_single_size_are_errors():
    N, D = grid()
    L = chinchilla.chinchilla_loss(N, D, **TRUE)
    bad = L.copy()
    bad[3] = -1
    with pytest.raises(CodescaleError, match="loss must be a finite positive"):
        chinchilla.fit_chinchilla(N, D, bad)
    with pytest.raises(CodescaleError, match="2 distinct model sizes"):
        chinchilla.fit_chinchilla(np.full(N.size, 1e6), D, L)


def mono_rows(lang: str, params: dict, n: int = 4) -> list[dict]:
    N, D = grid(n)
    L = chinchilla.chinchilla_loss(N, D, **params)
    return [
        {"run": f"mono/{lang}/s{i}", "study": "mono", "N": a, "D": b, "target": lang,
         f"p_{lang}": 1.0, "metric": "val_loss", "lang": lang, "value": v}
        for i, (a, b, v) in enumerate(zip(N, D, L, strict=True))
    ]  # fmt: skip


def pairing_rows(fmt: str, laws: dict[str, dict]) -> list[dict]:
    """Pairing runs whose seen/unseen mean translation losses follow `laws` (with per-direction
    rows, two seen and two unseen directions that average to the law's value)."""
    rows = []
    N, D = grid(4)
    for i, (a, b) in enumerate(zip(N, D, strict=True)):
        run = f"pairing/{fmt}/s{i}"
        for seen, key in ((True, "seen"), (False, "unseen")):
            v = chinchilla.chinchilla_loss(a, b, **laws[key])
            pairs = (
                [("python", "java"), ("java", "python")]
                if seen
                else [("go", "rust"), ("rust", "go")]
            )
            for (s, t), eps in zip(pairs, (-0.01, 0.01), strict=True):
                rows.append({"run": run, "study": "pairing", "N": a, "D": b, "pair_format": fmt,
                             "metric": "translation_loss", "src_lang": s, "tgt_lang": t,
                             "seen": seen, "value": float(v) + eps})  # fmt: skip
    return rows


SEEN = {"E": 0.10, "A": 50.0, "alpha": 0.5, "B": 300.0, "beta": 0.45}
UNSEEN = {"E": 0.05, "A": 30.0, "alpha": 0.4, "B": 900.0, "beta": 0.5}


def test_translation_laws_pool_paired_formats_and_report_missing_ones():
    table = tidy(pairing_rows("direct", {"seen": SEEN, "unseen": UNSEEN})
                 + pairing_rows("prompt", {"seen": SEEN, "unseen": UNSEEN}))  # fmt: skip
    out = translation.analyse(table, n_bootstrap=0)
    seen = out["paired_seen"]
    assert seen["formats"] == ["direct", "prompt"] and seen["n_points"] == 32
    assert seen["params"]["L_inf"] == pytest.approx(SEEN["E"], rel=0.01)
    assert seen["params"]["alpha"] == pytest.approx(SEEN["alpha"], rel=0.01)
    assert out["paired_unseen"]["params"]["beta"] == pytest.approx(UNSEEN["beta"], rel=0.01)
    assert out["by_format"]["direct"]["unseen"]["n_points"] == 16
    assert "no pairing runs of format shuffled" in out["shuffled"]["error"]


def test_fit_cli_writes_every_law_and_records_missing_studies(tmp_path):
    other = {"E": 0.3, "A": 90.0, "alpha": 0.35, "B": 900.0, "beta": 0.5}
    rows = mono_rows("python", TRUE) + mono_rows("go", other) + mono_rows("rust", other, n=2)
    # One synergy run per unordered pair (as codescale.study makes them), scored on both
    # languages: python+go helps python by 0.02 and hurts go by 0.01.
    gains = {("python", "go"): {"python": 0.02, "go": -0.01}}
    for t, a in (("python", "python"), ("python", "go"), ("go", "go")):
        p = {"p_python": 0.0, "p_go": 0.0}
        p[f"p_{t}"] += 0.5
        p[f"p_{a}"] += 0.5
        for lang, law in (("python", TRUE), ("go", other)):
            base = float(chinchilla.chinchilla_loss(1e6, 1e7, **law))
            rows.append({"run": f"synergy/{t}+{a}/x", "study": "synergy", "N": 1e6, "D": 1e7,
                         "target": t, "auxiliary": a, **p, "metric": "val_loss", "lang": lang,
                         "value": base - gains.get((t, a), {}).get(lang, 0.0)})  # fmt: skip
    path = tmp_path / "runs.parquet"
    tidy(rows).write_parquet(path)
    out = tmp_path / "fits"
    argv = ["fit", "--table", str(path), "--out-dir", str(out), "--bootstrap", "3", "--seed", "1",
            "--huber-delta", "1e-3", "--languages", "python", "go", "rust"]  # fmt: skip
    assert main(argv) == 0
    per = json.loads((out / "per_language.json").read_text())
    assert list(per["languages"]) == ["python", "go", "rust"]
    assert per["languages"]["go"]["params"]["alpha"] == pytest.approx(0.35, rel=0.01)
    assert per["languages"]["python"]["ci"]["E"][0] is not None
    assert "4 distinct (N, D) points cannot" in per["languages"]["rust"]["error"]
    syn = json.loads((out / "synergy.json").read_text())
    assert syn["languages"] == ["python", "go"]
    np.testing.assert_allclose(syn["gain"], [[0.0, 0.02], [-0.01, 0.0]], atol=1e-12)
    assert "error" in json.loads((out / "translation.json").read_text())["shuffled"]
    mix = json.loads((out / "mixture_law.json").read_text())
    # one law: python's and go's mono runs and the pair; the pair helps python, hurts go, so
    # go's tokens are worth more to python than python's to go (tau is a fitted parameter now)
    assert mix["languages"] == ["python", "go"] and mix["n_points"] == 1
    assert mix["tau"][0][1] > mix["tau"][1][0] and mix["tau"][0][0] == 1.0
    assert mix["blocks"]["python"]["partners"] == ["go"]
    # no 3-language mixture: the allocation's held-out check is said to be impossible
    assert "no run mixes 3 or more languages" in mix["heldout_check"]["error"]


def test_fit_cli_bad_input_exits_2(tmp_path, capsys):
    assert main(["fit", "--table", str(tmp_path / "nope.parquet"), "--out-dir", str(tmp_path)]) == 2
    assert "table not found" in capsys.readouterr().err
    path = tmp_path / "t.parquet"
    tidy([]).write_parquet(path)
    assert main(["fit", "--table", str(path), "--out-dir", str(tmp_path),
                 "--languages", "cobol"]) == 2  # fmt: skip
    assert "unknown --languages" in capsys.readouterr().err


def test_compute_optimal_frontier_is_the_numeric_optimum():
    from scipy.optimize import minimize_scalar

    for C in chinchilla.FRONTIER_C:
        f = chinchilla.frontier(TRUE, C)
        res = minimize_scalar(
            lambda ln, C=C: chinchilla.chinchilla_loss(np.exp(ln), C / 6 / np.exp(ln), **TRUE),
            bounds=(0, 50), method="bounded", options={"xatol": 1e-10},
        )  # fmt: skip
        assert f["N"] == pytest.approx(np.exp(res.x), rel=1e-4)
        assert f["N"] * f["D"] * 6 == pytest.approx(C)
        assert f["tokens_per_param"] == pytest.approx(f["D"] / f["N"])


def test_analyse_reports_frontier_extrapolation_status_and_units():
    N, D = grid()
    rng = np.random.default_rng(4)
    L = chinchilla.chinchilla_loss(N, D, **TRUE) * np.exp(rng.normal(0, 0.01, N.size))
    out = chinchilla.analyse(N, D, L, n_bootstrap=20, seed=0)
    assert out["status"] == "converged" and out["at_bounds"] == []
    assert out["units"]["A"].startswith("nats/token x (non-embedding parameters)")
    row = out["frontier"][2]
    assert row["C"] == 1e20 and row["N_ci"][0] < row["N"] < row["N_ci"][1]
    ext = out["extrapolation"]  # 5 sizes: fit on the 3 smallest, predict the largest
    assert ext["heldout_N"] == N.max() and ext["fit_N_max"] == np.unique(N)[2]
    assert ext["n_heldout"] == 5 and abs(ext["rel_error"]) < 0.1  # 30x beyond the fitted N
    assert ext["by_D"]["heldout_D"] == D.max() and ext["by_D"]["fit_D_max"] == np.unique(D)[2]


def test_exactly_determined_fit_is_flagged_without_intervals():
    N = np.array([1e5, 1e5, 1e6, 1e6, 3e6])
    D = np.array([1e6, 1e7, 1e6, 1e7, 3e6])
    L = chinchilla.chinchilla_loss(N, D, **TRUE)
    out = chinchilla.analyse(N, D, L, n_bootstrap=10)
    assert out["converged"] is False and "no residual degrees of freedom" in out["status"]
    assert out["ci"]["alpha"] == [None, None]


def test_a_nan_loss_names_the_run_and_the_fit_cli_records_it(tmp_path):
    rows = mono_rows("go", TRUE)
    rows[3] = {**rows[3], "value": float("nan")}
    with pytest.raises(CodescaleError, match=r"go: val_loss is not a finite .* mono/go/s3"):
        chinchilla.mono_points(tidy(rows), "go")
    path = tmp_path / "runs.parquet"
    tidy(rows).write_parquet(path)
    argv = ["fit", "--table", str(path), "--out-dir", str(tmp_path), "--bootstrap", "0",
            "--languages", "go"]  # fmt: skip
    assert main(argv) == 0
    per = json.loads((tmp_path / "per_language.json").read_text())
    assert "mono/go/s3" in per["languages"]["go"]["error"]
