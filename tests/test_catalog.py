"""codescale.catalog: the study's vocabulary in one place, and everything else agrees with it.

The config schema's enums, the parallel-data and registry source lists, the modules that used to
hold their own copies (readers, plot style, parallel-data readers, study, fitter, figures) and the
rules' figure/table/fit names (workflow/rules/common.smk) are all checked against the catalog, so
adding a language or a figure in one place and forgetting another fails here, by name.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

import codescale
from codescale import catalog
from codescale.catalog import CATALOG, Language
from codescale.config import load_schema

REPO = Path(__file__).resolve().parents[1]
COMMON_SMK = REPO / "workflow" / "rules" / "common.smk"
OPTIONAL = {"humaneval_x", "mbxp_file"}  # the only attributes a language may lack (None)


def enums(node: Any, where: str = "") -> list[tuple[str, list]]:
    """Every `enum` of a JSON-schema document, with its path (for the failure message)."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            found.append((where, node["enum"]))
        for key, sub in node.items():
            found += enums(sub, f"{where}.{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            found += enums(sub, f"{where}[{i}]")
    return found


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_schema()


# --- the schema --------------------------------------------------------------------------------


def test_schema_language_enum_is_the_catalog_in_order(schema) -> None:
    assert schema["$defs"]["lang"]["enum"] == list(catalog.LANGUAGES)
    # No other enum lists languages by itself (it would drift): any enum naming one is the same.
    for where, values in enums(schema):
        if set(values) & set(catalog.LANGUAGES):
            assert values == list(catalog.LANGUAGES), where


def test_schema_study_and_pair_format_enums_are_the_catalog(schema) -> None:
    study_enums = [(w, v) for w, v in enums(schema) if set(v) & set(catalog.STUDIES)]
    format_enums = [(w, v) for w, v in enums(schema) if set(v) & set(catalog.PAIR_FORMATS)]
    assert len(study_enums) >= 2 and len(format_enums) >= 1  # evaluate/execute studies, formats
    for where, values in study_enums:
        assert values == list(catalog.STUDIES), where
    for where, values in format_enums:
        assert values == list(catalog.PAIR_FORMATS), where
    studies = schema["properties"]["studies"]["properties"]
    assert set(studies) == set(catalog.STUDY_CONFIG_KEYS.values())
    assert studies["pairing"]["properties"]["formats"]["default"] == list(catalog.PAIR_FORMATS)


# --- the entries -------------------------------------------------------------------------------


def test_the_paper_s_seven_languages_in_the_paper_s_order() -> None:
    assert catalog.LANGUAGES == (
        "python", "java", "javascript", "typescript", "csharp", "go", "rust",
    )  # fmt: skip
    assert codescale.LANGUAGES is catalog.LANGUAGES
    assert codescale.LANGUAGE_NAMES is catalog.LANGUAGE_NAMES


@pytest.mark.parametrize("lang", CATALOG, ids=lambda lang: lang.key)
def test_every_language_has_every_attribute(lang: Language) -> None:
    for f in dataclasses.fields(Language):
        value = getattr(lang, f.name)
        if f.name in OPTIONAL and value is None:
            continue
        assert value is not None and value != "", f"{lang.key}: {f.name} is empty"
    # The key names paths, shard prefixes, the <|lang:KEY|> token and the p_KEY column.
    assert re.fullmatch(r"[a-z][a-z0-9_]*", lang.key), lang.key
    assert lang.extensions and all(re.fullmatch(r"\.[a-z0-9]+", e) for e in lang.extensions)
    assert all(a == a.lower() and a not in (lang.key, lang.name.lower()) for a in lang.aliases)
    assert re.fullmatch(r"#[0-9A-F]{6}", lang.color), lang.color
    from matplotlib.markers import MarkerStyle

    MarkerStyle(lang.marker)  # raises for an unknown marker


def test_no_two_languages_share_a_key_extension_alias_colour_or_marker() -> None:
    """The derived dicts would silently keep the last of two equal keys: count them instead."""
    keys = [lang.key for lang in CATALOG]
    assert len(set(keys)) == len(keys)
    assert len(catalog.EXTENSION_LANGUAGE) == sum(len(lang.extensions) for lang in CATALOG)
    per_language = [{lang.key, lang.name.lower(), *lang.aliases} for lang in CATALOG]
    assert len(catalog.SHARD_LANGUAGE_NAMES) == sum(len(names) for names in per_language)
    assert len(set(catalog.LANGUAGE_COLORS.values())) == len(CATALOG)
    assert len(set(catalog.LANGUAGE_MARKERS.values())) == len(CATALOG)


def test_derived_tables_agree_with_the_entries() -> None:
    for lang in CATALOG:
        assert catalog.BY_KEY[lang.key] is lang
        assert catalog.LANGUAGE_NAMES[lang.key] == lang.name
        assert catalog.LANGUAGE_COLORS[lang.key] == lang.color
        assert catalog.LANGUAGE_MARKERS[lang.key] == lang.marker
        for ext in lang.extensions:
            assert catalog.EXTENSION_LANGUAGE[ext] == lang.key
        for value in (lang.key, lang.name.lower(), *lang.aliases):
            assert catalog.SHARD_LANGUAGE_NAMES[value] == lang.key
        assert catalog.HUMANEVAL_X_FILES.get(lang.key) == lang.humaneval_x
        assert catalog.MBXP_FILES.get(lang.key) == lang.mbxp_file
    assert list(catalog.LANGUAGE_NAMES) == list(catalog.LANGUAGES)
    # Spot values that data sets use (The Stack's "C#", StarCoderData's "c-sharp", HumanEval-X's js)
    assert catalog.SHARD_LANGUAGE_NAMES["c#"] == catalog.SHARD_LANGUAGE_NAMES["c-sharp"] == "csharp"
    assert catalog.HUMANEVAL_X_FILES == {
        "python": "python", "java": "java", "javascript": "js", "go": "go", "rust": "rust",
    }  # fmt: skip
    assert set(catalog.MBXP_FILES) == {"python", "java", "javascript", "typescript", "csharp"}


# --- data sources --------------------------------------------------------------------------------


def test_every_parallel_file_the_catalog_names_is_a_pinned_source() -> None:
    doc = yaml.safe_load((REPO / "src/codescale/pairs/sources.yaml").read_text())
    pinned = {name: {f["name"] for f in doc[name]["files"]} for name in ("humaneval-x", "mbxp")}
    for lang, stem in catalog.HUMANEVAL_X_FILES.items():
        assert f"humaneval_{stem}.jsonl.gz" in pinned["humaneval-x"], lang
    for lang, name in catalog.MBXP_FILES.items():
        assert name in pinned["mbxp"], lang


def test_registry_sources_name_catalog_languages_and_cover_every_one() -> None:
    doc = yaml.safe_load((REPO / "src/codescale/data/registry_sources.yaml").read_text())
    langs = [source["lang"] for source in doc["sources"]]
    assert set(langs) <= set(catalog.LANGUAGES), set(langs) - set(catalog.LANGUAGES)
    assert set(langs) == set(catalog.LANGUAGES)  # the default corpus has every language


# --- the modules that used to hold copies --------------------------------------------------------


def test_modules_use_the_catalog_s_tables_not_copies() -> None:
    from codescale import study
    from codescale.data import readers
    from codescale.laws import fit as fit_run
    from codescale.pairs import sources
    from codescale.report import figures, inputs, style

    assert readers.EXTENSION_LANGUAGE is catalog.EXTENSION_LANGUAGE
    assert readers.SHARD_LANGUAGE_NAMES is catalog.SHARD_LANGUAGE_NAMES
    assert style.LANGUAGE_COLORS is catalog.LANGUAGE_COLORS
    assert style.LANGUAGE_MARKERS is catalog.LANGUAGE_MARKERS
    assert sources.HUMANEVAL_X_FILES is catalog.HUMANEVAL_X_FILES
    assert sources.MBXP_FILES is catalog.MBXP_FILES
    assert study.STUDIES is catalog.STUDIES and study.PAIR_FORMATS is catalog.PAIR_FORMATS
    assert inputs.FIT_FILES is catalog.FIT_FILES
    assert fit_run.FIT_FILES is catalog.FIT_FILES
    assert list(catalog.REPORT_ITEMS) == figures.ITEMS
    assert set(style.FORMAT_COLORS) == set(catalog.PAIR_FORMATS)
    assert set(catalog.ALLOCATION_STRATEGIES) <= set(style.ALLOCATION_COLORS)


def test_study_expansion_names_runs_with_catalog_studies_and_strategies() -> None:
    from codescale import study

    config = {
        "languages": ["python", "go"],
        "studies": {
            "per_language": {"sizes": ["t1"], "tokens": [1000]},
            "synergy": {"size": "t1", "tokens": 1000},
            "pairing": {"sizes": ["t1"], "tokens": [1000], "formats": ["direct"],
                        "parallel_share": 0.2},
            "allocation": {"size": "t1", "tokens": 1000},
        },
    }  # fmt: skip
    runs = study.expand(config)
    assert {run.study for run in runs} == set(catalog.STUDIES)
    assert all(run.name.split("/")[0] == run.study for run in runs)
    assert [r.strategy for r in runs if r.study == "allocation"] == list(
        catalog.ALLOCATION_STRATEGIES
    )


def test_the_fitter_writes_the_catalog_s_fit_files() -> None:
    from codescale.evaluate.collect import SCHEMA
    from codescale.laws import fit as fit_run

    docs = fit_run.fit_all(pl.DataFrame([], schema=SCHEMA), ["python"], 0, 0, 1e-3)
    assert list(docs) == [catalog.FIT_FILES[key] for key in catalog.LAW_FITS]
    assert set(catalog.LAW_FITS) | {"allocation"} == set(catalog.FIT_FILES)


def test_the_figures_command_writes_the_catalog_s_stems() -> None:
    """The report registry draws a figure for exactly the items with a catalog figure stem; table
    stems from the table builders themselves (run on an empty collected table and failed fits:
    every table is still made)."""
    from codescale.evaluate.collect import SCHEMA
    from codescale.report import registry

    items = registry.items()
    assert list(items) == list(catalog.REPORT_ITEMS)
    assert {name for name, item in items.items() if item.figure} == set(catalog.FIGURE_STEMS)
    assert set(catalog.FIGURE_STEMS) | set(catalog.TABLE_STEMS) == set(catalog.REPORT_ITEMS)
    df = pl.DataFrame([], schema=SCHEMA)
    fits = {key: {"error": "no runs"} for key in catalog.FIT_FILES}
    for name, item in items.items():
        stems = tuple(t.stem for t in (item.tables(df, fits) if item.tables else []))
        assert stems == catalog.TABLE_STEMS.get(name, ()), name


def test_the_rules_take_fit_figure_and_table_names_from_the_catalog() -> None:
    """common.smk's FIGURES/TABLES/FITS (the `figures` and `fit` rules' outputs) are built from
    the catalog: no stem or fit name is spelt out in it any more."""
    text = COMMON_SMK.read_text()
    assert "FIGURES = list(cs_catalog.FIGURES)" in text
    assert "TABLES = list(cs_catalog.TABLES)" in text
    assert "cs_catalog.LAW_FITS" in text and "cs_catalog.FIT_FILES['allocation']" in text
    literals = set(re.findall(r"""["']([A-Za-z0-9_.]+)["']""", text))
    spelt = literals & {*catalog.FIGURES, *catalog.TABLES, *catalog.FIT_FILES.values()}
    assert not spelt, f"common.smk spells out {sorted(spelt)}: use codescale.catalog"
    assert '.get("formats", list(cs_catalog.PAIR_FORMATS))' in text  # the formats' default


def test_every_catalog_language_has_an_execution_harness() -> None:
    """How to compile and run a language is code (codescale.execute), not vocabulary: it stays
    there, keyed by the catalog's languages, so a new entry without a harness fails here."""
    from codescale.execute import harness, prompts

    assert set(harness.LANGUAGES) == set(catalog.LANGUAGES)
    assert set(prompts.WRONG_BODY) == set(catalog.LANGUAGES)


def test_the_catalog_imports_nothing_heavy() -> None:
    """The Snakefile imports it while building the DAG: no numpy, polars, torch or matplotlib."""
    import subprocess
    import sys

    code = (
        "import sys, codescale.catalog; "
        "print(sorted(m for m in ('numpy', 'polars', 'torch', 'matplotlib', 'yaml') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
