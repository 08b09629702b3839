"""codescale figures: every figure and table from a synthetic study generated from known laws.

The collected table and fit JSONs below are test data built from exact laws, so the tables can be
checked cell by cell against them, and the per-direction fit must recover the exponents it was
generated with.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from statistics import mean
from typing import Any

import polars as pl
import pytest

from codescale import LANGUAGES
from codescale.cli import main
from codescale.report import reference

LANGS3 = ["python", "java", "go"]
SIZES = {"t1": 1e5, "t2": 4e5, "t3": 1.6e6}
BUDGETS = {"1M": 1e6, "2M": 2e6, "4M": 4e6}
LAWS = {
    "python": {"E": 1.2, "A": 40.0, "alpha": 0.35, "B": 900.0, "beta": 0.45},
    "java": {"E": 0.9, "A": 30.0, "alpha": 0.30, "B": 700.0, "beta": 0.40},
    "go": {"E": 1.0, "A": 50.0, "alpha": 0.40, "B": 500.0, "beta": 0.42},
}
DIR_LAW = {"A": 20.0, "alpha": 0.3, "B": 300.0, "beta": 0.4, "L_inf": 0.5}
FIGURE_STEMS = [
    "fig1_overview",
    "fig2_per_language",
    "fig3_translation_unseen",
    "fig4_translation_directions",
    "fig5_allocation",
    "fig6_uniform_vs_optimised",
    "table1_synergy",
]
TABLE_STEMS = [
    "table1_synergy",
    "table2_translation_directions",
    "table2_translation_laws",
    "table3_multipl_e",
    "fits_per_language",
    "allocation_measured",
]


def law(p: dict[str, float], n: float, d: float) -> float:
    return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]


def dir_loss(src: str, tgt: str, fmt: str, n: float, d: float) -> float:
    """Exact per-direction law; pairing helps (x0.8), more on seen (Python) directions."""
    base = DIR_LAW["L_inf"] + DIR_LAW["A"] * n ** -DIR_LAW["alpha"] + DIR_LAW["B"] * d**-0.4
    base *= 1 + 0.05 * LANGS3.index(src) + 0.02 * LANGS3.index(tgt)
    if fmt == "shuffled":
        return base
    return base * (0.7 if "python" in (src, tgt) else 0.85)


def synergy_gain(target: str, aux: str) -> float:
    return 0.0 if target == aux else 0.01 * (LANGS3.index(aux) + 1) - 0.015


def row(run: str, study: str, size: str, d: str, metric: str, value: float, **kw: Any) -> dict:
    """One long-format row with every column of docs/ARCHITECTURE.md's collected table."""
    base: dict[str, Any] = {
        "run": run,
        "study": study,
        "size": size,
        "N": int(SIZES[size]),  # Int64 in codescale.evaluate.collect's schema
        "N_total": int(SIZES[size] * 1.5),
        "D": int(BUDGETS[d]),
        "pair_format": None,
        "parallel_share": 0.0,
        "seed": 0,
        "target": None,
        "auxiliary": None,
        **{f"p_{lang}": 0.0 for lang in LANGUAGES},
        "metric": metric,
        "lang": None,
        "src_lang": None,
        "tgt_lang": None,
        "seen": None,
        "value": float(value),
    }
    base.update(kw)
    return base


def build_table(langs: list[str]) -> list[dict]:
    rows: list[dict] = []
    for lang in langs:
        for size, n in SIZES.items():
            for d, dv in BUDGETS.items():
                run = f"mono/{lang}/{size}_d{d}"
                p = {f"p_{lang}": 1.0}
                for other in langs:
                    v = law(LAWS[lang], n, dv) + (0 if other == lang else 0.5)
                    rows.append(row(run, "mono", size, d, "val_loss", v, lang=other, **p))
                    rows.append(row(run, "mono", size, d, "bpb", v / 2.5, lang=other, **p))
                rows.append(row(run, "mono", size, d, "train_loss", law(LAWS[lang], n, dv), **p))
    if len(langs) < 3:
        return rows
    for t in langs:
        for a in langs:
            run = f"synergy/{t}+{a}/t2_d2M"
            base = law(LAWS[t], SIZES["t2"], BUDGETS["2M"])
            v = base - synergy_gain(t, a)
            kw = {"target": t, "auxiliary": a, f"p_{t}": 0.5}
            kw[f"p_{a}"] = kw.get(f"p_{a}", 0) + 0.5
            rows.append(row(run, "synergy", "t2", "2M", "val_loss", v, lang=t, **kw))
    for fmt in ("shuffled", "direct"):
        for size, n in SIZES.items():
            for d, dv in BUDGETS.items():
                run = f"pairing/{fmt}/{size}_d{d}"
                kw = {"pair_format": fmt, "parallel_share": 0.0 if fmt == "shuffled" else 0.3}
                dirs = {}
                for s in langs:
                    for t in langs:
                        if s != t:
                            seen = "python" in (s, t)
                            dirs[(s, t)] = dir_loss(s, t, fmt, n, dv)
                            rows.append(
                                row(
                                    run,
                                    "pairing",
                                    size,
                                    d,
                                    "translation_loss",
                                    dirs[(s, t)],
                                    src_lang=s,
                                    tgt_lang=t,
                                    seen=seen,
                                    **kw,
                                )
                            )
                unseen = [v for (s, t), v in dirs.items() if "python" not in (s, t)]
                seen_v = [v for (s, t), v in dirs.items() if "python" in (s, t)]
                mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
                for metric, v in (
                    ("translation_loss_unseen_mean", mean(unseen)),
                    ("translation_loss_seen_mean", mean(seen_v)),
                    ("translation_loss_nonpython_mean", mean(unseen)),
                ):
                    rows.append(row(run, "pairing", size, d, metric, v, **kw))
                for lang in langs:
                    x_all = mean([v for (s, _), v in dirs.items() if s == lang])
                    all_x = mean([v for (_, t), v in dirs.items() if t == lang])
                    rows.append(
                        row(
                            run,
                            "pairing",
                            size,
                            d,
                            "translation_loss_x_to_all",
                            x_all,
                            lang=lang,
                            **kw,
                        )
                    )
                    rows.append(
                        row(
                            run,
                            "pairing",
                            size,
                            d,
                            "translation_loss_all_to_x",
                            all_x,
                            lang=lang,
                            **kw,
                        )
                    )
    for kind, shift in (("uniform", 0.0), ("optimised", -0.03)):
        for seed, noise in ((0, 0.0), (1, 0.01)):  # two seeds of each (studies.allocation.seeds)
            run = f"allocation/{kind}/t2_d4M" + ("_s1" if seed else "")
            for lang in langs:
                v = law(LAWS[lang], SIZES["t2"], BUDGETS["4M"]) + shift + noise
                rows.append(row(run, "allocation", "t2", "4M", "val_loss", v, lang=lang, seed=seed))
    return rows


def write_study(root: Path, langs: list[str], errors: bool = False) -> tuple[Path, Path]:
    """Write runs.parquet and the five fit JSONs (or {"error"} entries) under root."""
    table = root / "collect" / "runs.parquet"
    table.parent.mkdir(parents=True)
    pl.DataFrame(build_table(langs), infer_schema_length=None).write_parquet(table)
    fits = root / "fits"
    fits.mkdir()
    if errors:
        err = {"error": "too few runs"}
        per = {"law": "chinchilla", "languages": {lang: err for lang in langs}}
        objs = {
            "per_language.json": per,
            "synergy.json": err,
            "mixture_law.json": err,
            "allocation.json": err,
            "translation.json": {"shuffled": err, "paired_seen": err, "paired_unseen": err},
        }
    else:
        per = {"law": "chinchilla", "languages": {}}
        for lang in langs:
            pts = [[n, d, law(LAWS[lang], n, d)] for n in SIZES.values() for d in BUDGETS.values()]
            per["languages"][lang] = {
                "params": LAWS[lang],
                "ci": {k: [v * 0.9, v * 1.1] for k, v in LAWS[lang].items()},
                "r2_log": 0.999,
                "r2_by_N": {str(n): 0.99 for n in SIZES.values()},
                "extrapolation": {"held_out": "largest N", "rel_error": 0.012},
                "converged": True,
                "n_points": len(pts),
                "points": pts,
            }
        base = {t: law(LAWS[t], SIZES["t2"], BUDGETS["2M"]) for t in langs}
        gain = [[synergy_gain(t, a) for a in langs] for t in langs]
        synergy = {
            "languages": langs,
            "baseline": base,
            "loss": [[base[t] - synergy_gain(t, a) for a in langs] for t in langs],
            "gain": gain,
            "relative_gain": [[synergy_gain(t, a) / base[t] for a in langs] for t in langs],
            "parametric": {"error": "not enough sizes"},
        }
        tparams = {
            "params": {"L_inf": 0.5, "A": 20.0, "alpha": 0.3, "B": 300.0, "beta": 0.4},
            "ci": {"alpha": [0.25, 0.35]},
            "points": [],
        }
        props = {"python": 0.45, "java": 0.3, "go": 0.25}
        objs = {
            "per_language.json": per,
            "synergy.json": synergy,
            "translation.json": {
                "shuffled": tparams,
                "paired_seen": tparams,
                "paired_unseen": {"error": "too few points"},
            },
            "mixture_law.json": {
                "params": {},
                "tau": [],
                "validation": {"rel_error_mean": 0.02, "spearman_rho": 0.9, "n": 6},
            },
            "allocation.json": {
                "languages": langs,
                "N": 4e5,
                "D": 4e6,
                "proportions": props,
                "tokens": {k: v * 4e6 for k, v in props.items()},
                "uniform": dict.fromkeys(langs, 1 / 3),
                "natural": {"python": 0.5, "java": 0.35, "go": 0.15},
                "predicted_loss": {  # the mean of per_language_loss, as the optimiser reports
                    kind: sum(law(LAWS[lang], 4e5, 4e6) + shift for lang in langs) / len(langs)
                    for kind, shift in (("uniform", 0.01), ("optimised", -0.02), ("natural", 0.0))
                },
                "per_language_loss": {
                    kind: {lang: law(LAWS[lang], 4e5, 4e6) + shift for lang in langs}
                    for kind, shift in (("uniform", 0.01), ("optimised", -0.02))
                },
                "predicted_gain_vs_uniform": 0.04,
                "caps": {},
                "law_optimum": props,
                "advice": {
                    "status": "uniform",
                    "reason": "the law failed its held-out check",
                    "gain_ci": [-0.01, 0.05],
                    "proportions_ci": {k: [v - 0.05, v + 0.05] for k, v in props.items()},
                },
            },
        }
    for name, obj in objs.items():
        (fits / name).write_text(json.dumps(obj))
    return table, fits


def run_cli(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["codescale"])  # restored after the test
    return main(["figures", *argv])


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full run over the three-language study, shared by the checks below (keeps them fast)."""
    root = tmp_path_factory.mktemp("full")
    table, fits = write_study(root, LANGS3)
    mp = pytest.MonkeyPatch()
    try:
        rc = run_cli(
            mp,
            "--table",
            str(table),
            "--fits-dir",
            str(fits),
            "--out-dir",
            str(root / "figures"),
            "--tables-dir",
            str(root / "tables"),
        )
    finally:
        mp.undo()
    assert rc == 0
    return root


def test_every_figure_and_table_is_written(full: Path) -> None:
    for stem in FIGURE_STEMS:
        png, pdf = full / "figures" / f"{stem}.png", full / "figures" / f"{stem}.pdf"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000, stem
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000, stem
    for stem in TABLE_STEMS:
        assert len(read_csv(full / "tables" / f"{stem}.csv")) > 0, stem
        assert (full / "tables" / f"{stem}.md").read_text().startswith("# "), stem
    manifest = json.loads((full / "figures" / "manifest.json").read_text())
    listed = {Path(f).name for item in manifest["items"].values() for f in item["files"]}
    assert {f"{s}.png" for s in FIGURE_STEMS} <= listed
    assert {f"{s}.md" for s in TABLE_STEMS} <= listed
    assert not list(full.rglob("*.tmp")), "atomic writes left temporaries"


def test_synergy_table_equals_the_fit_and_carries_the_paper(full: Path) -> None:
    rows = {(r["target"], r["auxiliary"]): r for r in read_csv(full / "tables/table1_synergy.csv")}
    assert len(rows) == 49
    for t in LANGS3:
        for a in LANGS3:
            assert float(rows[(t, a)]["gain"]) == pytest.approx(synergy_gain(t, a), abs=1e-12)
    assert rows[("python", "rust")]["gain"] == ""  # not in our study: empty, never invented
    assert float(rows[("python", "java")]["paper_loss"]) == 0.7426
    assert float(rows[("java", "csharp")]["paper_relative_gain"]) == pytest.approx(
        (0.9034 - 0.7175) / 0.9034, abs=1e-6
    )
    md = (full / "tables/table1_synergy.md").read_text()
    assert "0.7426 (+1.35%)" in md  # paper python+java, relative gain as printed in Table 1


def test_fits_table_equals_the_fit_and_the_paper(full: Path) -> None:
    rows = {r["language"]: r for r in read_csv(full / "tables/fits_per_language.csv")}
    assert float(rows["java"]["alpha"]) == LAWS["java"]["alpha"]
    assert float(rows["go"]["beta_ci_hi"]) == pytest.approx(LAWS["go"]["beta"] * 1.1)
    assert float(rows["python"]["extrapolation_rel_error"]) == 0.012
    assert float(rows["python"]["paper_alpha_N"]) == 0.221
    assert float(rows["csharp"]["paper_L_inf"]) == 0.288
    assert rows["csharp"]["status"] == "absent" and rows["csharp"]["alpha"] == ""


def test_fits_markdown_shows_the_mixture_law_or_why_not(full: Path, tmp_path: Path) -> None:
    from codescale.report import per_language

    md = (full / "tables/fits_per_language.md").read_text()
    assert "### Proportion-dependent law (mixture_law.json)" in md
    mix = {
        "languages": ["python", "go"], "law": "L_i = ...", "units": {"tau": "tokens/token"},
        "params": {k: dict(LAWS[k]) for k in ("python", "go")},
        "ci": {k: {p: [v * 0.9, v * 1.1] for p, v in LAWS[k].items()} for k in ("python", "go")},
        "blocks": {"python": {"status": "converged", "n_points": 9},
                   "go": {"status": "flagged: within 1% of a bound: alpha", "n_points": 9}},
        "tau": [[1.0, 0.25], [None, 1.0]], "tau_ci": [[None, [0.1, 0.4]], [None, None]],
        "gamma": 0.25, "gamma_ci": [0.1, 0.4],
        "heldout_check": {"error": "no run mixes 3 or more languages"},
    }  # fmt: skip
    text = per_language.mixture_markdown(mix)
    assert "| Python | 1 | 0.25 [0.1, 0.4] |" in text and "| Go | — | 1 |" in text
    assert "flagged: within 1% of a bound: alpha" in text and "tau: tokens/token" in text
    assert "no run mixes 3 or more languages" in text
    failed = per_language.mixture_markdown({"error": "too few runs"})
    assert failed.endswith("Not fitted: too few runs")


def test_allocation_figure_states_the_advice_and_its_reason(full: Path) -> None:
    items = json.loads((full / "figures/manifest.json").read_text())["items"]
    assert "advice: uniform: the law failed its held-out check" in items["fig5"]["notes"]
    # these hand-written fits carry no frontier: Figure 1(d) says so instead of drawing nothing
    assert "no compute-optimal frontier in per_language.json" in items["fig1"]["notes"]


def test_allocation_table_measures_the_difference_against_seed_noise(full: Path) -> None:
    rows = read_csv(full / "tables/allocation_measured.csv")
    base = mean([law(LAWS[lang], SIZES["t2"], BUDGETS["4M"]) for lang in LANGS3])
    got = {(r["kind"], r["run"]): float(r["mean_val_loss"]) for r in rows}
    assert got == pytest.approx(
        {
            ("uniform", "allocation/uniform/t2_d4M"): base,
            ("uniform", "allocation/uniform/t2_d4M_s1"): base + 0.01,
            ("optimised", "allocation/optimised/t2_d4M"): base - 0.03,
            ("optimised", "allocation/optimised/t2_d4M_s1"): base - 0.02,
        }
    )
    md = (full / "tables/allocation_measured.md").read_text()
    # difference -0.03; pooled seed sd 0.00707, s.e. 0.00707 * sqrt(1/2 + 1/2); the fixture's law
    # advised uniform, so no optimised allocation is claimed whatever the runs measured
    assert "optimised - uniform = -0.0300 nats/token +- 0.0071 (1 s.e., 2 dof)" in md
    assert "no optimised allocation is claimed" in md


def test_allocation_verdicts_follow_the_noise() -> None:
    from codescale.report.allocation import allocation_comparison

    def measured(uniform: list[float], optimised: list[float]) -> dict:
        return {
            kind: [(f"allocation/{kind}/r_s{k}", {"python": v, "go": v}) for k, v in enumerate(vs)]
            for kind, vs in (("uniform", uniform), ("optimised", optimised))
        }

    advised = {"status": "optimised"}
    worse = allocation_comparison(measured([3.0, 3.01], [3.1, 3.11]), advised)
    assert worse["difference"] == pytest.approx(0.1) and worse["se"] == pytest.approx(0.00707, 1e-3)
    assert "WORSE than uniform" in worse["verdict"] and "not reliable" in worse["verdict"]
    better = allocation_comparison(measured([3.0, 3.01], [2.9, 2.91]), advised)
    assert "measured better than uniform" in better["verdict"]
    within = allocation_comparison(measured([3.0, 3.02], [3.0, 3.03]), advised)
    assert "no difference beyond 2 standard errors" in within["verdict"]
    one = allocation_comparison(measured([3.0], [2.9]), advised)
    assert one["se"] is None and "noise is unknown" in one["verdict"]
    # advice uniform: no optimised runs were trained; the uniform runs measure the advice
    only_uniform = {"uniform": measured([3.0, 3.02], [])["uniform"]}
    same = allocation_comparison(only_uniform, {"status": "uniform"})
    assert same["difference"] == 0.0 and same["se"] == pytest.approx(0.02 / 2**0.5 * 1.0, 1e-9)
    assert "were not trained" in same["verdict"] and "noise +- 0.0141" in same["verdict"]
    lacking = allocation_comparison(only_uniform, advised)
    assert lacking["difference"] is None and "not measured" in lacking["verdict"]


def test_direction_fits_recover_the_generating_law(full: Path) -> None:
    rows = {
        (r["src_lang"], r["tgt_lang"]): r
        for r in read_csv(full / "tables/table2_translation_directions.csv")
    }
    assert len(rows) == 42
    fitted = rows[("java", "go")]
    assert fitted["fit_status"] == "fitted" and fitted["seen"] == "False"
    assert float(fitted["alpha_N"]) == pytest.approx(DIR_LAW["alpha"], abs=0.03)
    assert float(fitted["alpha_D"]) == pytest.approx(0.4, abs=0.03)
    largest = dir_loss("java", "go", "shuffled", SIZES["t3"], BUDGETS["4M"])
    assert float(fitted["loss_largest_run"]) == pytest.approx(largest)
    assert float(rows[("python", "java")]["paper_A"]) == 0.71
    # our raw-count prefactor converted to N in billions, the paper's likely unit
    a_b = float(fitted["A"]) * 1e9 ** -float(fitted["alpha_N"])
    assert float(fitted["A_per_billion"]) == pytest.approx(a_b)
    assert rows[("rust", "csharp")]["fit_status"].startswith("no shuffled")
    laws = {r["law"]: r for r in read_csv(full / "tables/table2_translation_laws.csv")}
    assert float(laws["shuffled"]["alpha"]) == 0.3
    assert float(laws["shuffled"]["paper_alpha"]) == 0.3470
    assert laws["paired_unseen"]["status"] == "too few points"


def test_table3_is_the_paper_only_and_says_so(full: Path) -> None:
    rows = read_csv(full / "tables/table3_multipl_e.csv")
    sizes, paper = reference.multipl_e()
    assert len(rows) == len(paper) * len(sizes)
    assert {r["ours_shuffled_pass1"] for r in rows} == {"not measured (see README)"}
    first = next(r for r in rows if r["language"] == "python" and float(r["size_B"]) == 0.5)
    assert float(first["paper_shuffled_pass1"]) == 14.02
    assert "NOT MEASURED" in (full / "tables/table3_multipl_e.md").read_text()


def test_one_language_and_failed_fits_still_draw(tmp_path: Path, monkeypatch) -> None:
    table, fits = write_study(tmp_path, ["go"], errors=True)
    out, tabs = tmp_path / "figures", tmp_path / "tables"
    rc = run_cli(
        monkeypatch,
        "--table",
        str(table),
        "--fits-dir",
        str(fits),
        "--out-dir",
        str(out),
        "--tables-dir",
        str(tabs),
    )
    assert rc == 0
    for stem in FIGURE_STEMS:
        assert (out / f"{stem}.png").stat().st_size > 10_000, stem
    manifest = json.loads((out / "manifest.json").read_text())
    assert any("no pairing runs" in n for n in manifest["items"]["fig3"]["notes"])
    assert any("allocation error" in n for n in manifest["items"]["fig5"]["notes"])
    syn = read_csv(tabs / "table1_synergy.csv")
    assert all(r["gain"] == "" for r in syn) and syn[1]["paper_loss"] == "0.7426"


def test_only_selects_and_bad_input_is_a_one_line_error(tmp_path: Path, monkeypatch, capsys):
    table, fits = write_study(tmp_path, ["python"])
    out = tmp_path / "figures"
    args = ["--fits-dir", str(fits), "--out-dir", str(out), "--tables-dir", str(tmp_path / "t")]
    assert run_cli(monkeypatch, "--table", str(table), *args, "--only", "fig2") == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "fig2_per_language.pdf",
        "fig2_per_language.png",
        "manifest.json",
    ]
    bad = tmp_path / "bad.parquet"
    pl.DataFrame({"run": ["x"], "value": [1.0]}).write_parquet(bad)
    assert run_cli(monkeypatch, "--table", str(bad), *args) == 2
    err = capsys.readouterr().err
    assert "bad.parquet: missing columns" in err and "study" in err
    (fits / "synergy.json").write_text("{not json")
    assert run_cli(monkeypatch, "--table", str(table), *args, "--only", "table1") == 2
    assert "synergy.json: not valid JSON" in capsys.readouterr().err


def test_each_item_is_made_by_its_registered_functions_and_bad_ones_say_why(monkeypatch) -> None:
    """`--only ITEM` dispatches through one registry built from catalog.REPORT_ITEMS: each item's
    figure/tables function and the fit files it reads; a function registered for an item the
    catalog does not know, a second function for one item, or an unknown fit fails naming it."""
    from codescale.errors import CodescaleError
    from codescale.report import allocation, pairing, per_language, registry

    items = registry.items()
    assert items["fig1"].figure is per_language.fig1 and items["fig1"].tables is None
    assert items["fig1"].needs == {"per_language"} and items["fig3"].needs == set()
    assert items["fig6"].figure is allocation.fig6
    assert items["fig6"].tables is allocation.fig6_tables
    assert items["fig6"].needs == {"allocation", "mixture_law"}
    assert items["table2"].figure is None and items["table2"].tables is pairing.table2_tables
    assert items["fits"].needs == {"per_language", "mixture_law"}

    def fig7(df: Any, fits: Any) -> None:
        return None

    with pytest.raises(CodescaleError, match="'fig7' is not in catalog.REPORT_ITEMS"):
        registry.figure("fig7")(fig7)
    with pytest.raises(CodescaleError, match="'table2' has no catalog.FIGURE_STEMS entry"):
        registry.figure("table2")(fig7)
    with pytest.raises(CodescaleError, match=r"two figure functions, .*per_language\.fig1 and"):
        registry.figure("fig1")(fig7)
    with pytest.raises(CodescaleError, match=r"needs \['tokens'\], not keys of catalog.FIT_FILES"):
        registry.tables("fits", needs=("tokens",))(fig7)
    assert registry.items()["fig1"].figure is per_language.fig1  # nothing half-registered
    monkeypatch.setattr(registry, "REPORT_ITEMS", (*registry.REPORT_ITEMS, "fig7"))
    with pytest.raises(CodescaleError, match=r"report items \['fig7'\] .* no figure or tables"):
        registry.items()


def test_every_output_has_a_valid_report_caption() -> None:
    """Snakemake's report() needs one RST caption per figure/table; a docutils error would
    surface only when someone builds the report."""
    docutils_core = pytest.importorskip("docutils.core")
    captions = Path(__file__).resolve().parents[1] / "workflow" / "report"
    for stem in [*FIGURE_STEMS, *TABLE_STEMS, "workflow"]:
        text = (captions / f"{stem}.rst").read_text()
        assert "{{" not in text and "{%" not in text  # captions pass through Jinja2 first
        docutils_core.publish_doctree(text, settings_overrides={"halt_level": 2, "report_level": 5})
