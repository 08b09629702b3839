"""`codescale fit`: every law of the paper from the collected table, one JSON per law family.

    codescale fit --table results/collect/runs.parquet --out-dir results/fits \
        [--bootstrap 200] [--seed 0] [--huber-delta 1e-3] [--languages python java ...]

Writes, atomically, in --out-dir:
- per_language.json  (codescale.laws.chinchilla): L(N, D) per language from the mono study;
- synergy.json       (codescale.laws.synergy): the LxL synergy matrix + Data-Mixing-Law fit;
- translation.json   (codescale.laws.translation): shuffled / paired seen / paired unseen laws;
- mixture_law.json   (codescale.laws.mixture_law): the proportion-dependent law (per-language
                      laws and the transfer matrix as one model, with bootstrap draws).
A law that cannot be fitted for lack of runs becomes {"error": "..."} in its entry, so a small study
never stops the workflow; an unreadable table or a bad flag is a CodescaleError (exit code 2).
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

from codescale import LANGUAGES
from codescale import config as cs_config
from codescale.catalog import FIT_FILES
from codescale.errors import CodescaleError
from codescale.io import write_json
from codescale.laws import chinchilla, mixture_law, synergy, translation

log = logging.getLogger(__name__)

# The collected table's columns the fits read.
FIT_COLUMNS = (
    "run", "study", "N", "D", "pair_format", "target", "auxiliary",
    "metric", "lang", "src_lang", "tgt_lang", "seen", "value",
)  # fmt: skip


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", required=True, help="collected runs.parquet (tidy format)")
    parser.add_argument("--out-dir", required=True, help="directory for the four JSON files")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=cs_config.default("fit.bootstrap"),
        help="bootstrap resamples per law (default: the schema's fit.bootstrap)",
    )
    parser.add_argument(
        "--seed", type=int, default=cs_config.default("seed"), help="bootstrap seed"
    )
    parser.add_argument(
        "--huber-delta",
        type=float,
        default=cs_config.default("fit.huber_delta"),
        help="Huber delta on log-loss residuals (schema's fit.huber_delta; Hoffmann et al. 2022)",
    )
    parser.add_argument(
        "--languages",
        nargs="+",
        default=list(LANGUAGES),
        metavar="LANG",
        help="languages to fit (default: all seven)",
    )


def check_args(args: argparse.Namespace) -> None:
    if args.bootstrap < 0:
        raise CodescaleError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    if not (args.huber_delta > 0 and math.isfinite(args.huber_delta)):
        raise CodescaleError(f"--huber-delta must be a positive number, got {args.huber_delta}")
    unknown = [lang for lang in args.languages if lang not in LANGUAGES]
    if unknown:
        raise CodescaleError(f"unknown --languages {unknown}; known: {', '.join(LANGUAGES)}")


def fit_all(table, languages, n_bootstrap: int, seed: int, delta: float) -> dict[str, dict]:
    """The four JSON documents, keyed by file name."""
    langs = [lang for lang in LANGUAGES if lang in languages]
    per_lang: dict[str, dict] = {}
    for lang in langs:
        log.info("per-language law: %s", lang)
        try:
            N, D, L = chinchilla.mono_points(table, lang)
            per_lang[lang] = chinchilla.analyse(N, D, L, n_bootstrap, seed, delta, where=lang)
        except CodescaleError as err:
            per_lang[lang] = {"error": str(err)}
    per_language = {
        "law": chinchilla.LAW,
        "huber_delta": delta,
        "bootstrap": n_bootstrap,
        "languages": per_lang,
    }
    log.info("synergy matrix")
    try:
        syn = synergy.analyse(table, langs, n_bootstrap, seed, delta)
    except CodescaleError as err:
        syn = {"languages": langs, "error": str(err)}
    log.info("translation laws")
    trans = translation.analyse(table, n_bootstrap, seed, delta)
    log.info("mixture law (per-language laws + transfer matrix, one model)")
    try:
        mix = mixture_law.analyse(table, langs, n_bootstrap, seed, delta, synergy=syn)
    except CodescaleError as err:
        mix = {"error": str(err), "tau": None}
    return {
        FIT_FILES["per_language"]: per_language,
        FIT_FILES["synergy"]: syn,
        FIT_FILES["translation"]: trans,
        FIT_FILES["mixture_law"]: mix,
    }


def run(args: argparse.Namespace) -> None:
    check_args(args)
    from codescale.evaluate.collect import read_table  # polars: only when fitting

    table = read_table(args.table, FIT_COLUMNS)
    docs = fit_all(table, args.languages, args.bootstrap, args.seed, args.huber_delta)
    out = Path(args.out_dir)
    for name, doc in docs.items():
        write_json(out / name, doc)
        log.info("wrote %s", out / name)
