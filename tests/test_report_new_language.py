"""A new language is one catalog entry (issue 14): the report draws it without paper numbers.

The catalog gets an 8th language (C++, which the paper has no numbers for), and every figure and
table function of the report registry runs on a synthetic study that measured it. The report
must not fail, must show our C++ values with blank paper cells, and must keep the paper's values
of its seven languages exactly as paper_reference.yaml has them. The paper's numbers themselves
(codescale.report.reference) are the paper's languages only, still validated key by key.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from matplotlib import pyplot as plt
from test_figures import BUDGETS, SIZES
from test_figures import LAWS as LAWS3

from codescale import catalog
from codescale.catalog import FIT_FILES, Language
from codescale.errors import CodescaleError
from codescale.io import write_json
from codescale.report import inputs, reference, registry

NEW = Language("cpp", "C++", (".cpp", ".cc", ".hpp"), ("c++",), "#882255", "*", None, None)
LANGS = ["python", "java", "go", "cpp"]  # three of the paper's and the new one
LAWS = {**LAWS3, "cpp": {"E": 0.8, "A": 35.0, "alpha": 0.33, "B": 600.0, "beta": 0.43}}
PASS1 = {"python": (0.12, 50), "cpp": (0.08, 50)}  # executed: pass@1, tasks


def law(p: dict[str, float], n: float, d: float) -> float:
    return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]


def dir_loss(src: str, tgt: str, fmt: str, n: float, d: float) -> float:
    base = 0.5 + 20.0 * n**-0.3 + 300.0 * d**-0.4
    base *= 1 + 0.05 * LANGS.index(src) + 0.02 * LANGS.index(tgt)
    return base if fmt == "shuffled" else base * (0.7 if "python" in (src, tgt) else 0.85)


def synergy_gain(target: str, aux: str) -> float:
    return 0.0 if target == aux else 0.01 * (LANGS.index(aux) + 1) - 0.015


@pytest.fixture
def new_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalog with C++ appended, as its `Language` entry would make it: catalog.LANGUAGES
    and every loaded codescale module's copy of it (`from codescale import LANGUAGES`), as a
    real edit would; the per-language dicts are shared objects, so their new entries reach every
    module that imported them."""
    registry.items()  # every report module loaded, so its bindings are seen below
    seven = catalog.LANGUAGES
    eight = (*seven, NEW.key)
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == "codescale" and getattr(module, "LANGUAGES", None) is seven:
            monkeypatch.setattr(module, "LANGUAGES", eight)
    monkeypatch.setattr(catalog, "CATALOG", (*catalog.CATALOG, NEW))
    monkeypatch.setitem(catalog.BY_KEY, NEW.key, NEW)
    monkeypatch.setitem(catalog.LANGUAGE_NAMES, NEW.key, NEW.name)
    monkeypatch.setitem(catalog.LANGUAGE_COLORS, NEW.key, NEW.color)
    monkeypatch.setitem(catalog.LANGUAGE_MARKERS, NEW.key, NEW.marker)


def collected_table() -> pl.DataFrame:
    """The collected long table of a study of LANGS: mono grid, pairing (shuffled and direct,
    every direction), allocation (two seeds), and executed pass@1 of two languages."""
    langs = catalog.LANGUAGES
    schema: dict[str, Any] = {
        "run": pl.String, "study": pl.String, "size": pl.String, "N": pl.Int64,
        "D": pl.Int64, "pair_format": pl.String, "seed": pl.Int64, "target": pl.String,
        "auxiliary": pl.String, **{f"p_{lang}": pl.Float64 for lang in langs},
        "metric": pl.String, "lang": pl.String, "src_lang": pl.String, "tgt_lang": pl.String,
        "seen": pl.Boolean, "value": pl.Float64,
    }  # fmt: skip
    rows: list[dict[str, Any]] = []

    def add(run: str, study: str, size: str, d: str, metric: str, value: float, **kw: Any) -> None:
        base = dict.fromkeys(schema)
        base.update(run=run, study=study, size=size, N=int(SIZES[size]), D=int(BUDGETS[d]))
        base.update({f"p_{lang}": 0.0 for lang in langs}, seed=0, metric=metric, value=value)
        base.update(kw)
        rows.append(base)

    for lang in LANGS:
        for size, n in SIZES.items():
            for d, dv in BUDGETS.items():
                own = {"lang": lang, "target": lang, f"p_{lang}": 1.0}
                add(f"mono/{lang}/{size}_d{d}", "mono", size, d, "val_loss",
                    law(LAWS[lang], n, dv), **own)  # fmt: skip
    for fmt in ("shuffled", "direct"):
        for size, n in SIZES.items():
            for d, dv in BUDGETS.items():
                run = f"pairing/{fmt}/{size}_d{d}"
                for s in LANGS:
                    for t in LANGS:
                        if s != t:
                            add(run, "pairing", size, d, "translation_loss",
                                dir_loss(s, t, fmt, n, dv), pair_format=fmt, src_lang=s,
                                tgt_lang=t, seen="python" in (s, t))  # fmt: skip
    for kind, shift in (("uniform", 0.0), ("optimised", -0.03)):
        for seed, noise in ((0, 0.0), (1, 0.01)):
            run = f"allocation/{kind}/t2_d4M" + ("_s1" if seed else "")
            for lang in LANGS:
                v = law(LAWS[lang], SIZES["t2"], BUDGETS["4M"]) + shift + noise
                add(run, "allocation", "t2", "4M", "val_loss", v, lang=lang, seed=seed)
    for lang, (p1, n_tasks) in PASS1.items():
        run = "pairing/shuffled/t3_d4M"
        add(run, "pairing", "t3", "4M", "pass_at_k", p1, pair_format="shuffled", lang=lang,
            src_lang="k=1")  # fmt: skip
        add(run, "pairing", "t3", "4M", "execute_tasks", float(n_tasks), pair_format="shuffled",
            lang=lang)  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def fit_files() -> dict[str, dict[str, Any]]:
    """Every results/fits/*.json of the study, with C++ in each language-indexed one."""
    per = {"law": "chinchilla", "languages": {}}
    for lang in LANGS:
        per["languages"][lang] = {
            "params": LAWS[lang],
            "ci": {k: [v * 0.9, v * 1.1] for k, v in LAWS[lang].items()},
            "r2_log": 0.999,
            "extrapolation": {"rel_error": 0.012},
            "converged": True,
            "n_points": len(SIZES) * len(BUDGETS),
            "frontier": [{"C": 1e20, "tokens_per_param": 20.0 + LANGS.index(lang),
                          "tokens_per_param_ci": [15.0, 25.0]}],
        }  # fmt: skip
    base = {t: law(LAWS[t], SIZES["t2"], BUDGETS["2M"]) for t in LANGS}
    props = {"python": 0.3, "java": 0.25, "go": 0.2, "cpp": 0.25}
    return {
        "per_language": per,
        "synergy": {
            "languages": LANGS,
            "baseline": base,
            "loss": [[base[t] - synergy_gain(t, a) for a in LANGS] for t in LANGS],
            "gain": [[synergy_gain(t, a) for a in LANGS] for t in LANGS],
            "relative_gain": [[synergy_gain(t, a) / base[t] for a in LANGS] for t in LANGS],
        },
        "translation": {
            "shuffled": {
                "params": {"L_inf": 0.5, "A": 20.0, "alpha": 0.3, "B": 300.0, "beta": 0.4}
            },
            "paired_seen": {"error": "too few points"},
            "paired_unseen": {"error": "too few points"},
        },
        "mixture_law": {
            "languages": LANGS,
            "law": "L_i = ...",
            "params": {k: dict(LAWS[k]) for k in LANGS},
            "tau": [[1.0 if i == j else 0.1 for j in LANGS] for i in LANGS],
        },
        "allocation": {
            "languages": LANGS,
            "N": 4e5,
            "D": 4e6,
            "proportions": props,
            "tokens": {k: v * 4e6 for k, v in props.items()},
            "uniform": dict.fromkeys(LANGS, 0.25),
            "predicted_loss": {"uniform": 1.0, "optimised": 0.98},
            "per_language_loss": {
                kind: {lang: law(LAWS[lang], 4e5, 4e6) + shift for lang in LANGS}
                for kind, shift in (("uniform", 0.01), ("optimised", -0.02))
            },
            "advice": {"status": "optimised", "reason": "held-out check passed"},
        },
    }


def paper_file() -> dict[str, Any]:
    """paper_reference.yaml as written, read here without codescale.report.reference."""
    text = resources.files("codescale.report").joinpath("paper_reference.yaml").read_text()
    return yaml.safe_load(text)


@pytest.fixture
def report(new_catalog: None, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Every registered figure and table function of the report, run on the study with C++
    (through the report's own loaders): {"tables": stem -> Table, "figures": item -> (fig,
    notes)}."""
    table = tmp_path / "runs.parquet"
    collected_table().write_parquet(table)
    fits_dir = tmp_path / "fits"
    fits_dir.mkdir()
    for key, obj in fit_files().items():
        write_json(fits_dir / FIT_FILES[key], obj)
    items = registry.items()
    needs = set().union(*(item.needs for item in items.values()))
    df, fits = inputs.load_inputs(table, fits_dir, needs)
    out: dict[str, Any] = {"tables": {}, "figures": {}}
    for name, item in items.items():
        if item.figure is not None:
            out["figures"][name] = item.figure(df, fits)
        if item.tables is not None:
            for t in item.tables(df, fits):
                out["tables"][t.stem] = t
    yield out
    plt.close("all")


def test_every_report_item_runs_with_a_language_the_paper_has_not(report: dict) -> None:
    assert set(report["figures"]) == {
        item for item, entry in registry.items().items() if entry.figure is not None
    }
    assert {
        "fits_per_language",
        "table1_synergy",
        "table2_translation_directions",
        "table2_translation_laws",
        "table3_multipl_e",
        "allocation_measured",
    } <= set(report["tables"])


def test_fits_table_has_our_cpp_fit_and_blank_paper_cells(report: dict) -> None:
    paper = paper_file()["per_language_law"]
    table = report["tables"]["fits_per_language"]
    rows = {r["language"]: r for r in table.rows}
    assert list(rows) == [*paper, "cpp"]  # the paper's order, the new language after
    cpp = rows["cpp"]
    assert cpp["status"] == "fitted" and cpp["alpha"] == LAWS["cpp"]["alpha"]
    assert cpp["E"] == LAWS["cpp"]["E"] and cpp["tokens_per_param_C1e20"] == 23.0
    assert cpp["paper_alpha_N"] is None and cpp["paper_alpha_D"] is None
    assert cpp["paper_L_inf"] is None
    for lang, ref in paper.items():  # the paper's seven, exactly as transcribed
        got = (rows[lang]["paper_alpha_N"], rows[lang]["paper_alpha_D"], rows[lang]["paper_L_inf"])
        assert got == (ref["alpha_N"], ref["alpha_D"], ref["L_inf"]), lang
    assert "| C++ | fitted | 0.33 [0.297, 0.363] / — |" in table.markdown


def test_table1_has_our_cpp_synergy_and_the_papers_seven(report: dict) -> None:
    paper = paper_file()["synergy_val_loss"]
    cols = paper["columns"]
    table = report["tables"]["table1_synergy"]
    rows = {(r["target"], r["auxiliary"]): r for r in table.rows}
    assert len(rows) == 8 * 8
    for t in LANGS:
        for a in LANGS:
            assert rows[(t, a)]["gain"] == pytest.approx(synergy_gain(t, a), abs=1e-12)
    for other in cols:
        for key in ((other, "cpp"), ("cpp", other)):
            assert rows[key]["paper_loss"] is None and rows[key]["paper_gain"] is None
            assert rows[key]["paper_relative_gain"] is None
    assert rows[("cpp", "cpp")]["paper_loss"] is None
    for t in cols:
        for a, v in zip(cols, paper[t], strict=True):
            assert rows[(t, a)]["paper_loss"] == v, (t, a)
            base = paper[t][cols.index(t)]
            assert rows[(t, a)]["paper_relative_gain"] == round((base - v) / base, 6), (t, a)
    ours_md, paper_md = table.markdown.split("## Paper (Table 1)")
    assert "| C++ |" in ours_md and "C++" not in paper_md
    assert "0.7426 (+1.35%)" in paper_md


def test_table2_fits_cpp_directions_with_blank_paper_cells(report: dict) -> None:
    paper = paper_file()["translation_directions_baseline"]
    cols = paper["columns"]
    table = report["tables"]["table2_translation_directions"]
    rows = {(r["src_lang"], r["tgt_lang"]): r for r in table.rows}
    assert len(rows) == 8 * 7
    cpp_go = rows[("cpp", "go")]
    assert cpp_go["fit_status"] == "fitted" and cpp_go["n_runs"] == 9
    assert cpp_go["alpha_N"] == pytest.approx(0.3, abs=0.03)
    assert cpp_go["loss_largest_run"] == pytest.approx(
        dir_loss("cpp", "go", "shuffled", SIZES["t3"], BUDGETS["4M"])
    )
    assert rows[("python", "cpp")]["seen"] is True and rows[("cpp", "go")]["seen"] is False
    for key, row in rows.items():
        if "cpp" in key:
            assert [row[f"paper_{p}"] for p in ("A", "B", "alpha_N", "alpha_D")] == [None] * 4
    for src in cols:
        for tgt, cell in zip(cols, paper[src], strict=True):
            if cell is not None:
                row = rows[(src, tgt)]
                got = [row[f"paper_{p}"] for p in ("A", "B", "alpha_N", "alpha_D")]
                assert got == cell, (src, tgt)


def test_table3_shows_our_cpp_pass1_and_the_papers_rows(report: dict) -> None:
    paper = paper_file()["multipl_e_pass1"]
    rows = report["tables"]["table3_multipl_e"].rows
    cpp = [r for r in rows if r["language"] == "cpp"]
    assert [r["source"] for r in cpp] == ["ours"]  # measured; the paper has no C++ row
    assert cpp[0]["shuffled_pass1"].startswith("8.0 [") and "(n=50)" in cpp[0]["shuffled_pass1"]
    py_paper = [r["shuffled_pass1"] for r in rows if r["language"] == "python"
                and r["source"] == "paper"]  # fmt: skip
    assert py_paper == [f"{s:.2f}" for s, _ in paper["python"]]
    assert [r["language"] for r in rows].index("cpp") > [r["language"] for r in rows].index("rust")


def test_figures_draw_cpp_as_ours_only(report: dict) -> None:
    fig1, _ = report["figures"]["fig1"]
    _, ax_ours, ax_paper, _ = fig1.axes[:4]
    labels = [t.get_text() for t in ax_ours.get_yticklabels()]
    paper = paper_file()["per_language_law"]
    by_l_inf = sorted(paper, key=lambda lang: paper[lang]["L_inf"])
    assert labels == [catalog.LANGUAGE_NAMES[lang] for lang in by_l_inf] + ["C++"]
    assert len(ax_paper.patches) == len(paper)  # no paper bar for C++
    assert any("not in the paper" in t.get_text() for t in ax_paper.texts)
    fig2, _ = report["figures"]["fig2"]
    titles = {ax.get_title().split()[0]: ax for ax in fig2.axes if ax.get_title()}
    text = "\n".join(t.get_text() for t in titles["C++"].texts)
    assert "ours  0.330" in text and "paper" not in text
    assert "paper 0.221" in "\n".join(t.get_text() for t in titles["Python"].texts)
    fig_t1, _ = report["figures"]["table1"]
    ours_ax, paper_ax = fig_t1.axes[0], fig_t1.axes[2]  # the colour bars come between
    assert "C++" in [t.get_text() for t in ours_ax.get_xticklabels()]
    assert "C++" not in [t.get_text() for t in paper_ax.get_xticklabels()]


def test_the_report_reads_the_language_list_from_the_catalog_only() -> None:
    """One binding to patch, one place to add a language: the figure families and the paper's
    numbers hold no copy of the language list of their own (inputs.ordered's copy only orders:
    a name it does not know goes last)."""
    from codescale.report import pairing, per_language, synergy, table3

    for module in (reference, per_language, synergy, pairing, table3):
        assert not hasattr(module, "LANGUAGES"), module.__name__


def test_reference_returns_the_papers_languages_only(new_catalog: None) -> None:
    langs = paper_file()["languages"]
    assert reference.paper_languages() == langs
    assert list(reference.per_language_law()) == langs
    assert list(reference.synergy_loss()) == langs
    assert {s for s, _ in reference.translation_directions()} == set(langs)
    assert "cpp" not in reference.multipl_e()[1]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["per_language_law"]["rust"].pop("L_inf"), "per_language_law.rust incomplete"),
        (lambda d: d["per_language_law"].pop("go"), "per_language_law.go incomplete"),
        (lambda d: d["synergy_val_loss"]["go"].pop(), "synergy_val_loss.go malformed"),
        (lambda d: d["synergy_val_loss"].pop("java"), "synergy_val_loss.java malformed"),
        (lambda d: d["synergy_val_loss"].pop("columns"), "synergy_val_loss.columns must be"),
        (
            lambda d: d["translation_directions_baseline"]["java"][2].pop(),
            r"translation_directions_baseline\.java\.go must be",
        ),
        (
            lambda d: d["translation_directions_baseline"].pop("rust"),
            "translation_directions_baseline.rust malformed",
        ),
        (lambda d: d["multipl_e_pass1"]["java"].pop(), "multipl_e_pass1.java malformed"),
    ],
)
def test_a_malformed_paper_entry_fails_naming_its_key(
    new_catalog: None, monkeypatch: pytest.MonkeyPatch, edit: Any, message: str
) -> None:
    data = paper_file()
    edit(data)
    monkeypatch.setattr(reference, "load", lambda: data)
    accessors = (
        reference.per_language_law,
        reference.synergy_loss,
        reference.translation_directions,
        reference.multipl_e,
    )
    with pytest.raises(CodescaleError, match=message):
        for accessor in accessors:
            accessor()
