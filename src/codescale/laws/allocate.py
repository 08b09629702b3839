"""`codescale allocate`: the recommended per-language token split (the optimiser:
codescale.laws.allocation_optimiser).

    codescale allocate --fits-dir results/fits (--size-N 1.5e9 | --size 1.5B) --tokens 4e11 \
        --available python=9e10 java=results/tokens/java/train.json ... \
        [--repetition-cap 4.0] [--heldout-tolerance 0.05] [--seed 0] [--vocab-size V] \
        --out results/fits/allocation.json

--size names a preset of codescale.model.presets (N = its non-embedding parameters); --available
takes LANG=TOKENS or LANG=PATH of a token shard's .json (its n_tokens is the available data).
--vocab-size is accepted for the workflow's sake and unused (N excludes embeddings). --seed is
accepted and unused (the optimiser is deterministic; the bootstrap draws come from the fit).

The law optimised is mixture_law.json's (per-language laws + transfer matrix, with its bootstrap
draws and held-out check). When mixture_law.json is absent or an {"error"} entry, the per-language
laws of per_language.json are used without transfer and without draws: the advice then keeps the
reference mixture and says why. Writes:

    {"languages", "N", "D",
     "proportions": {lang: p},           # the ADVICE: what the optimised training run uses
     "tokens": {lang: p * D},
     "law_optimum": {lang: p},           # the fitted law's optimum, advised or not
     "uniform": {lang: p}, "natural": {lang: p},
     "advice": {"status": "optimised" | "uniform" | "uniform_capped", "reason": str,
                "reference", "gain", "gain_ci": [lo, hi], "gain_lower_5",
                "proportions_ci": {lang: [lo, hi]}, "n_draws", "heldout_tolerance"},
     "predicted_loss": {"optimised", "uniform", "natural", "advised"},   # nats/token, mean
     "per_language_loss": {"optimised"|"uniform"|"natural"|"advised": {lang: loss}},
     "predicted_gain_vs_uniform", "predicted_gain_vs_natural",   # of the law optimum (> 0 better)
     "caps": {lang: max_p}, "uniform_feasible", "repetition_cap", "available": {lang: tokens},
     "tau": LxL, "law_source": str, "heldout_check": {...} or null}
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from codescale import LANGUAGES
from codescale import config as cs_config
from codescale.errors import CodescaleError
from codescale.io import read_json, write_json
from codescale.laws.allocation_optimiser import DEFAULT_HELDOUT_TOLERANCE, allocate


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
    cap = cs_config.default("studies.allocation.repetition_cap")
    parser.add_argument(
        "--repetition-cap",
        type=float,
        default=cap,
        help=f"max epochs over a language's available data (default {cap})",
    )
    parser.add_argument(
        "--heldout-tolerance",
        type=float,
        default=DEFAULT_HELDOUT_TOLERANCE,
        help="largest mean relative error of the law's held-out mixtures for which the law's "
        f"optimum is advised (default {DEFAULT_HELDOUT_TOLERANCE})",
    )
    parser.add_argument(
        "--seed", type=int, default=cs_config.default("seed"), help="accepted, unused"
    )
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


def load_law(fits_dir: Path, languages: list[str]) -> dict:
    """The law to optimise for `languages`: params, tau, draws, held-out check and its source."""
    mix_path = fits_dir / "mixture_law.json"
    reason = f"{mix_path} not found"
    if mix_path.is_file():
        doc = read_json(mix_path)
        if "error" in doc:
            reason = f"mixture law not fitted: {doc['error']}"
        else:
            missing = [k for k in languages if k not in doc.get("languages", [])]
            if not missing:
                from codescale.laws.mixture_law import TransferLaw

                law = TransferLaw.from_json(doc)
                pos = [law.languages.index(k) for k in languages]
                sub = lambda t: [[t[i][j] for j in pos] for i in pos]  # noqa: E731
                samples = []
                for b in range(law.n_bootstrap):
                    params, tau = law.sample(b)
                    samples.append(({k: params[k] for k in languages}, sub(tau)))
                return {
                    "params": {k: law.params[k] for k in languages},
                    "tau": sub(law.tau),
                    "samples": samples,
                    "heldout": doc.get("heldout_check"),
                    "source": str(mix_path),
                }
            reason = f"mixture law has no fit for {missing}"
    path = fits_dir / "per_language.json"
    if not path.is_file():
        raise CodescaleError(f"per-language fits not found: {path} (and {reason})")
    entries = read_json(path).get("languages", {})
    params = {}
    for lang in languages:
        entry = entries.get(lang)
        if entry is None or "params" not in entry:
            why = entry.get("error", "no entry") if isinstance(entry, dict) else "no entry"
            raise CodescaleError(f"{path}: no fitted law for {lang} ({why})")
        params[lang] = entry["params"]
    return {
        "params": params,
        "tau": None,
        "samples": None,
        "heldout": {"error": f"no mixture law ({reason})"},
        "source": f"{path}, no transfer ({reason})",
    }


def run(args: argparse.Namespace) -> None:
    if not (args.heldout_tolerance > 0 and math.isfinite(args.heldout_tolerance)):
        raise CodescaleError(
            f"--heldout-tolerance must be a positive number, got {args.heldout_tolerance}"
        )
    available = parse_available(args.available)
    langs = list(available)
    law = load_law(Path(args.fits_dir), langs)
    out = allocate(
        model_size(args), args.tokens, langs, law["params"], available, args.repetition_cap,
        law["tau"], law["samples"], law["heldout"], args.heldout_tolerance,
    )  # fmt: skip
    out["law_source"] = law["source"]
    out["heldout_check"] = law["heldout"]
    write_json(args.out, out)
