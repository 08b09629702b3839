"""The paper's published numbers, read from the packaged paper_reference.yaml.

Figures and tables show these beside our measurements. They live in a data file, not in code, so a
corrected transcription changes every figure without touching a plotting function; and every
accessor here validates the shape it returns, so a broken edit fails loudly with the key's name.

Every accessor returns the languages the PAPER has (each table's own keys and columns), never the
catalog's: a language added to codescale.catalog has no paper value, and the report's callers show
ours alone for it (a blank paper cell, nothing drawn) instead of failing (issue 14).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from codescale.errors import CodescaleError

_FILE = "paper_reference.yaml"


@cache
def load() -> dict[str, Any]:
    """The whole reference file as a dict (cached: it never changes during a run)."""
    text = resources.files("codescale.report").joinpath(_FILE).read_text()
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise CodescaleError(f"codescale/report/{_FILE}: expected a mapping at top level")
    return data


def _get(key: str) -> Any:
    data = load()
    if key not in data:
        raise CodescaleError(f"codescale/report/{_FILE}: missing key {key!r}")
    return data[key]


def paper_languages() -> list[str]:
    """The paper's seven languages in the paper's order (the file's `languages`)."""
    langs = _get("languages")
    if not isinstance(langs, list) or not all(isinstance(x, str) for x in langs):
        raise CodescaleError(f"codescale/report/{_FILE}: languages must be a list of names")
    return list(langs)


def _columns(key: str, table: Any) -> list[str]:
    """The `columns` of a paper matrix (`key`): its languages; raises naming the key."""
    if not isinstance(table, dict):
        raise CodescaleError(f"codescale/report/{_FILE}: {key} must be a mapping")
    cols = table.get("columns")
    if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
        raise CodescaleError(f"codescale/report/{_FILE}: {key}.columns must be a list of names")
    return cols


def per_language_law() -> dict[str, dict[str, float]]:
    """Figure 2 annotations: lang -> {alpha_N, alpha_D, L_inf} (prefactors were not published),
    for each of the paper's languages, in the paper's order."""
    law = _get("per_language_law")
    if not isinstance(law, dict):
        raise CodescaleError(f"codescale/report/{_FILE}: per_language_law must be a mapping")
    for lang in paper_languages():
        entry = law.get(lang)
        if not isinstance(entry, dict) or not {"alpha_N", "alpha_D", "L_inf"} <= set(entry):
            raise CodescaleError(f"codescale/report/{_FILE}: per_language_law.{lang} incomplete")
    return {lang: {k: float(v) for k, v in law[lang].items()} for lang in paper_languages()}


def synergy_loss() -> dict[str, dict[str, float]]:
    """Table 1 validation losses: target -> auxiliary -> loss (diagonal = self-repetition), over
    the paper's languages (the table's `columns`, which are also its rows)."""
    table = _get("synergy_val_loss")
    cols = _columns("synergy_val_loss", table)
    out: dict[str, dict[str, float]] = {}
    for target in cols:
        row = table.get(target)
        if not isinstance(row, list) or len(row) != len(cols):
            raise CodescaleError(f"codescale/report/{_FILE}: synergy_val_loss.{target} malformed")
        out[target] = {aux: float(v) for aux, v in zip(cols, row, strict=True)}
    return out


def synergy_gain() -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Table 1 gains in the paper's convention: (absolute, relative) with delta = L(i+i) - L(i+j).

    The paper prints percentages; recomputing them from the losses (which the transcription has
    checked to agree within 8e-5) keeps a single source of truth.
    """
    loss = synergy_loss()
    gain: dict[str, dict[str, float]] = {}
    rel: dict[str, dict[str, float]] = {}
    for target, row in loss.items():
        base = row[target]
        gain[target] = {aux: base - v for aux, v in row.items()}
        rel[target] = {aux: (base - v) / base for aux, v in row.items()}
    return gain, rel


def fig3_unseen_loss() -> dict[float, tuple[float, float]]:
    """Figure 3: model size (B params) -> (shuffled, paired) mean loss over 30 unseen directions."""
    raw = _get("pairing")["fig3_unseen_loss"]
    return {float(size): (float(v[0]), float(v[1])) for size, v in raw.items()}


def translation_laws() -> dict[str, dict[str, float]]:
    """Eqs. 3-5 fits: {shuffled, paired_seen, paired_unseen} -> {A, B, alpha, beta, L_inf}."""
    raw = _get("translation_laws")
    keys = {
        "shuffled": "shuffled_baseline_all_directions",
        "paired_seen": "paired_seen_directions",
        "paired_unseen": "paired_unseen_directions",
    }
    return {ours: {k: float(v) for k, v in raw[theirs].items()} for ours, theirs in keys.items()}


def translation_directions() -> dict[tuple[str, str], tuple[float, float, float, float]]:
    """Table 2: (source, target) -> (A, B, alpha_N, alpha_D) of the shuffled baseline, for the
    paper's directions (its `columns`, which are also its rows); any other direction is absent."""
    table = _get("translation_directions_baseline")
    cols = _columns("translation_directions_baseline", table)
    out: dict[tuple[str, str], tuple[float, float, float, float]] = {}
    for src in cols:
        row = table.get(src)
        if not isinstance(row, list) or len(row) != len(cols):
            raise CodescaleError(
                f"codescale/report/{_FILE}: translation_directions_baseline.{src} malformed"
            )
        for tgt, cell in zip(cols, row, strict=True):
            if cell is None:
                continue
            if not isinstance(cell, list) or len(cell) != 4:
                raise CodescaleError(
                    f"codescale/report/{_FILE}: translation_directions_baseline.{src}.{tgt} "
                    "must be [A, B, alpha_N, alpha_D] or null"
                )
            a, b, an, ad = (float(x) for x in cell)
            out[(src, tgt)] = (a, b, an, ad)
    return out


def multipl_e() -> tuple[list[float], dict[str, list[tuple[float, float]]]]:
    """Table 3: (sizes in B, language-or-average -> [(shuffled, paired) pass@1 % per size]), for
    the languages the paper's Table 3 has (its own keys; not all seven)."""
    raw = _get("multipl_e_pass1")
    if not isinstance(raw, dict) or not isinstance(raw.get("sizes_B"), list):
        raise CodescaleError(f"codescale/report/{_FILE}: multipl_e_pass1.sizes_B missing")
    raw = dict(raw)
    sizes = [float(s) for s in raw.pop("sizes_B")]
    rows: dict[str, list[tuple[float, float]]] = {}
    for key, vals in raw.items():
        if (
            not isinstance(vals, list)
            or len(vals) != len(sizes)
            or not all(isinstance(v, list) and len(v) == 2 for v in vals)
        ):
            raise CodescaleError(
                f"codescale/report/{_FILE}: multipl_e_pass1.{key} malformed: "
                f"expected {len(sizes)} [shuffled, paired] pairs (one per size)"
            )
        rows[key] = [(float(a), float(b)) for a, b in vals]
    return sizes, rows


def allocation_experiment() -> dict[str, Any]:
    """Figure 5(b)/6 facts: model size, token budgets, the assigned delta (python) and the rest."""
    return dict(_get("allocation_experiment"))


def optimal_allocation_law() -> dict[str, float]:
    """Eq. 8 exponents of the law fitted under the optimised allocation."""
    return {k: float(v) for k, v in _get("optimal_allocation_law").items()}
