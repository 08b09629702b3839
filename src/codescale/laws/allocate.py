"""`codescale allocate`: the recommended per-language token split (see codescale.laws.allocation).

    codescale allocate --fits-dir results/fits (--size-N 1.5e9 | --size 1.5B) --tokens 4e11 \
        --available python=9e10 java=results/tokens/java/train.json ... \
        [--repetition-cap 4.0] [--seed 0] [--vocab-size V] --out results/fits/allocation.json

--size names a preset of codescale.model.presets (N = its non-embedding parameters); --available
takes LANG=TOKENS or LANG=PATH of a token shard's .json (its n_tokens is the available data).
--vocab-size is accepted for the workflow's sake and unused (N excludes embeddings).

Reads per_language.json (the per-language laws, required for every --available language) and
mixture_law.json (gamma and tau; if absent or an {"error"} entry, gamma = 0: no synergy). Writes:

    {"languages", "N", "D", "proportions": {lang: p}, "tokens": {lang: t},
     "uniform": {lang: p}, "natural": {lang: p},
     "predicted_loss": {"optimised", "uniform", "natural"},
     "per_language_loss": {"optimised"|"uniform"|"natural": {lang: loss}},
     "predicted_gain_vs_uniform", "predicted_gain_vs_natural",   # > 0: optimised is better
     "caps": {lang: max_p}, "uniform_feasible", "repetition_cap", "available": {lang: tokens},
     "gamma", "tau": LxL, "synergy_source": str}
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from codescale import LANGUAGES
from codescale.errors import CodescaleError
from codescale.io import read_json, write_json
from codescale.laws.allocation import allocate


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fits-dir", required=True, help="directory written by `codescale fit`")
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--size-N", type=float, help="model size N (non-embedding parameters)")
    size.add_argument("--size", help="model size preset name (N from codescale.model.presets)")
    parser.add_argument("--tokens", type=float, required=True, help="total training tokens D")
    parser.add_argument(
        "--available",
        nargs="+",
        required=True,
        metavar="LANG=TOKENS",
        help="unique tokens available per language, a number or a token shard .json path "
        "(these languages are allocated)",
    )
    parser.add_argument(
        "--repetition-cap",
        type=float,
        default=4.0,
        help="max epochs over a language's available data (default 4.0)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    parser.add_argument("--vocab-size", type=int, help="accepted and unused (N is non-embedding)")
    parser.add_argument("--out", required=True, help="output JSON path")


def parse_available(items: list[str]) -> dict[str, float]:
    """LANG=TOKENS pairs -> dict in LANGUAGES order."""
    out: dict[str, float] = {}
    for item in items:
        lang, sep, value = item.partition("=")
        if not sep:
            raise CodescaleError(f"--available expects LANG=TOKENS, got {item!r}")
        if lang not in LANGUAGES:
            raise CodescaleError(f"--available: unknown language {lang!r}")
        if lang in out:
            raise CodescaleError(f"--available: {lang} given twice")
        try:
            tokens = float(value)
        except ValueError:
            tokens = _shard_tokens(lang, value)
        if not (tokens > 0 and math.isfinite(tokens)):
            raise CodescaleError(f"--available {lang}: tokens must be positive, got {value}")
        out[lang] = tokens
    return {lang: out[lang] for lang in LANGUAGES if lang in out}


def _shard_tokens(lang: str, value: str) -> float:
    """n_tokens of a token shard's .json (the shard contract of docs/ARCHITECTURE.md)."""
    path = Path(value)
    if not path.is_file():
        raise CodescaleError(f"--available {lang}: {value!r} is neither a number nor a file")
    try:
        meta = read_json(path)
        return float(meta["n_tokens"])
    except (ValueError, KeyError, TypeError):
        raise CodescaleError(f"--available {lang}: {path} has no numeric n_tokens") from None


def model_size(args: argparse.Namespace) -> float:
    """N from --size-N, or the non-embedding parameters of the --size preset."""
    if args.size_N is not None:
        return float(args.size_N)
    from codescale.model.presets import n_params

    return float(n_params(args.size))


def synergy_terms(fits_dir: Path, languages: list[str]) -> tuple[float, np.ndarray, str]:
    """gamma and tau (restricted to `languages`) from mixture_law.json, or no synergy."""
    path = fits_dir / "mixture_law.json"
    L = len(languages)
    if not path.is_file():
        return 0.0, np.zeros((L, L)), f"none ({path} not found)"
    doc = read_json(path)
    if "error" in doc:
        return 0.0, np.zeros((L, L)), f"none (mixture law not fitted: {doc['error']})"
    pos = {lang: i for i, lang in enumerate(doc["languages"])}
    tau = np.zeros((L, L))
    for a, la in enumerate(languages):
        for b, lb in enumerate(languages):
            if la in pos and lb in pos:
                tau[a, b] = doc["tau"][pos[la]][pos[lb]]
    return float(doc["params"]["gamma"]), tau, str(path)


def run(args: argparse.Namespace) -> None:
    fits_dir = Path(args.fits_dir)
    path = fits_dir / "per_language.json"
    if not path.is_file():
        raise CodescaleError(f"per-language fits not found: {path}")
    available = parse_available(args.available)
    langs = list(available)
    entries = read_json(path).get("languages", {})
    params = {}
    for lang in langs:
        entry = entries.get(lang)
        if entry is None or "params" not in entry:
            why = entry.get("error", "no entry") if isinstance(entry, dict) else "no entry"
            raise CodescaleError(f"{path}: no fitted law for {lang} ({why})")
        params[lang] = entry["params"]
    gamma, tau, source = synergy_terms(fits_dir, langs)
    out = allocate(
        model_size(args), args.tokens, langs, params, available, args.repetition_cap, gamma, tau,
        seed=args.seed,
    )  # fmt: skip
    out["synergy_source"] = source
    write_json(args.out, out)
