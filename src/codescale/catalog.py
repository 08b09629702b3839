"""The study's vocabulary in one place: languages and their attributes, study families, pair
formats, fit files, figure and table names.

Why one module: these names used to be listed in six files each (adding C++ meant editing the
package, the schema, the readers, the plot style, the parallel-data readers and the rules), and
a list that drifted from the others failed late or silently. Now the readers, the plot style, the
parallel-data readers, the study expansion, the fitter, the figures and the rules
(workflow/rules/common.smk) import their tables from here, and tests/test_catalog.py checks the
config schema's enums against this module. Adding a language is one `Language` entry here plus
its data sources (codescale/data/registry_sources.yaml, codescale/pairs/sources.yaml) and its
schema enum (`$defs.lang`: the test says when it is missing).

No heavy imports: the Snakefile imports this module while it builds the DAG.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """One programming language of the study and every attribute some stage needs of it."""

    key: str  # the config's and the artifacts' name (results/tokens/{key}/, p_{key}, <|lang:key|>)
    name: str  # display name in figures, tables and prompt templates ("C#")
    extensions: tuple[str, ...]  # file suffixes, with the dot, that mark a source file of it
    # Values of datasets' language columns (and StarCoderData folder names) that mean this
    # language, besides `key` and `name.lower()`, which always do (lower-case: matched so).
    aliases: tuple[str, ...]
    color: str  # plot colour (Okabe-Ito, colour-blind safe; hex RGB), the same in every figure
    marker: str  # matplotlib marker, the same in every figure
    # HumanEval-X's file-name language: resources/parallel/humaneval-x/humaneval_{this}.jsonl.gz
    # (None: HumanEval-X has no such file).
    humaneval_x: str | None
    mbxp_file: str | None  # MBXP file under resources/parallel/mbxp/ (None: no MBXP translation)


# The paper's seven languages, in the paper's order: every table, matrix and figure uses it.
CATALOG: tuple[Language, ...] = (
    Language(
        "python", "Python", (".py",), ("py",), "#0072B2", "o",  # blue
        "python", "mbpp_release_v1.jsonl",
    ),
    Language(
        "java", "Java", (".java",), (), "#D55E00", "s",  # vermillion
        "java", "mbjp_release_v1.2.jsonl",
    ),
    Language(
        "javascript", "JavaScript", (".js", ".mjs", ".cjs"), ("js",), "#E69F00", "^",  # orange
        "js", "mbjsp_release_v1.2.jsonl",
    ),
    Language(
        "typescript", "TypeScript", (".ts", ".mts", ".cts"), ("ts",), "#56B4E9", "v",  # sky blue
        None, "mbtsp_release_v1.2.jsonl",
    ),
    Language(
        "csharp", "C#", (".cs",), ("c-sharp", "cs"), "#CC79A7", "D",  # reddish purple
        None, "mbcsp_release_v1.2.jsonl",
    ),
    Language(
        "go", "Go", (".go",), ("golang",), "#009E73", "P",  # bluish green
        "go", None,
    ),
    Language(
        "rust", "Rust", (".rs",), ("rs",), "#000000", "X",  # black
        "rust", None,
    ),
)  # fmt: skip
BY_KEY: dict[str, Language] = {lang.key: lang for lang in CATALOG}

# --- derived language tables (the names the modules used before the catalog existed) ---------
LANGUAGES: tuple[str, ...] = tuple(lang.key for lang in CATALOG)
LANGUAGE_NAMES: dict[str, str] = {lang.key: lang.name for lang in CATALOG}
# .d.ts/.min.js end in these too: the corpus filters drop them by name.
EXTENSION_LANGUAGE: dict[str, str] = {ext: lang.key for lang in CATALOG for ext in lang.extensions}
# The Stack v1/v2 use the display names ("C#"), StarCoderData's folders are lower-case ("c-sharp").
SHARD_LANGUAGE_NAMES: dict[str, str] = {
    **{lang.key: lang.key for lang in CATALOG},
    **{lang.name.lower(): lang.key for lang in CATALOG},
    **{alias: lang.key for lang in CATALOG for alias in lang.aliases},
}
LANGUAGE_COLORS: dict[str, str] = {lang.key: lang.color for lang in CATALOG}
LANGUAGE_MARKERS: dict[str, str] = {lang.key: lang.marker for lang in CATALOG}
HUMANEVAL_X_FILES: dict[str, str] = {  # our language -> HumanEval-X file-name language
    lang.key: lang.humaneval_x for lang in CATALOG if lang.humaneval_x is not None
}
MBXP_FILES: dict[str, str] = {  # our language -> MBXP file name
    lang.key: lang.mbxp_file for lang in CATALOG if lang.mbxp_file is not None
}

# --- study families --------------------------------------------------------------------------
# Run-level study names (Run.study, the `study` column of results/collect/runs.parquet, the first
# part of a run name) in expansion order, and the config section (`studies.<key>`) of each: the
# per-language grid is configured as `per_language` but its runs are named `mono/...`. The `mono`
# prefix stays: it is the on-disk name of every finished run (results/runs/mono/...), so renaming
# it would invalidate every cached run of a user's study.
STUDY_CONFIG_KEYS: dict[str, str] = {
    "mono": "per_language",
    "synergy": "synergy",
    "pairing": "pairing",
    "allocation": "allocation",
}
STUDIES: tuple[str, ...] = tuple(STUDY_CONFIG_KEYS)
# Pair formats of the pairing study (paper Section 4): shuffled (no alignment), direct
# concatenation, prompt-based concatenation. Also the default of studies.pairing.formats.
PAIR_FORMATS: tuple[str, ...] = ("shuffled", "direct", "prompt")
# The allocation study's two runs: uniform proportions, and the optimiser's advice.
ALLOCATION_STRATEGIES: tuple[str, ...] = ("uniform", "optimised")

# --- fits (results/fits/) --------------------------------------------------------------------
# Fit key -> file name. `codescale fit` writes LAW_FITS; `codescale allocate` writes allocation.
FIT_FILES: dict[str, str] = {
    "per_language": "per_language.json",
    "synergy": "synergy.json",
    "translation": "translation.json",
    "mixture_law": "mixture_law.json",
    "allocation": "allocation.json",
}
LAW_FITS: tuple[str, ...] = ("per_language", "synergy", "translation", "mixture_law")

# --- figures and tables (results/figures/, results/tables/) ----------------------------------
# `codescale figures --only ITEM`: the items, in the order they are produced.
REPORT_ITEMS: tuple[str, ...] = (
    "fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "table1", "table2", "table3", "fits",
)  # fmt: skip
# Item -> the figure's file stem (STEM.png and STEM.pdf); Table 1 is also drawn as a heatmap.
FIGURE_STEMS: dict[str, str] = {
    "fig1": "fig1_overview",
    "fig2": "fig2_per_language",
    "fig3": "fig3_translation_unseen",
    "fig4": "fig4_translation_directions",
    "fig5": "fig5_allocation",
    "fig6": "fig6_uniform_vs_optimised",
    "table1": "table1_synergy",
}
# Item -> the stems of the tables it writes (STEM.csv and STEM.md; codescale.report.tables).
TABLE_STEMS: dict[str, tuple[str, ...]] = {
    "table1": ("table1_synergy",),
    "table2": ("table2_translation_directions", "table2_translation_laws"),
    "table3": ("table3_multipl_e",),
    "fits": ("fits_per_language",),
    "fig6": ("allocation_measured",),
}
# Every figure and every table stem, in the order the `figures` rule declares its outputs.
FIGURES: tuple[str, ...] = tuple(FIGURE_STEMS.values())
TABLES: tuple[str, ...] = tuple(stem for stems in TABLE_STEMS.values() for stem in stems)
