# Shared helpers of every rule file (config sections, artifact paths) and the functions that
# turn a run spec into inputs, params and Slurm resources.
import json
import os
import shlex
from pathlib import Path

REPO = Path(workflow.basedir)
RESULTS = "results"
CORPUS = config["corpus"]
DEDUP = config["dedup"]
TOK = config["tokenizer"]
PAR = config["parallel"]
TRAIN = config["train"]
EVAL = config["evaluate"]
PAIR_FORMATS = (
    config["studies"]
    .get("pairing", {})
    .get("formats", ["shuffled", "direct", "prompt"])
)
ALLOC_STUDY = config["studies"].get("allocation", {})

TOKENIZER = f"{RESULTS}/tokenizer/tokenizer.json"
HELDOUT = f"{RESULTS}/pairs/heldout.parquet"
TRANSLATION_TEST = f"{RESULTS}/pairs/translation_test.parquet"
ALLOCATION = f"{RESULTS}/fits/allocation.json"
FITS = [
    f"{RESULTS}/fits/{name}.json"
    for name in ("per_language", "synergy", "translation", "mixture_law")
]
# The optimised allocation run is trained on proportions fitted from the other runs, so the table
# the fits read leaves it out (no cycle); the final table has every run.
FIT_RUNS = [name for name, run in RUNS.items() if run.weights is not None]
FIGURES = [
    "fig1_overview",
    "fig2_per_language",
    "fig3_translation_unseen",
    "fig4_translation_directions",
    "fig5_allocation",
    "fig6_uniform_vs_optimised",
    "table1_synergy",
]
TABLES = [
    "table1_synergy",
    "table2_translation_directions",
    "table2_translation_laws",
    "table3_multipl_e",
    "fits_per_language",
]


def flags(**options):
    """Keyword options -> a shell-quoted `--key value` string (lists give several values, None
    and False drop the option, True is a bare flag). Rules pass it as one param, so a change of
    any option reruns the rule."""
    parts = []
    for key, value in options.items():
        if value is None or value is False or value == []:
            continue
        parts.append(f"--{key.replace('_', '-')}")
        if value is True:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        parts.extend(shlex.quote(str(v)) for v in values)
    return " ".join(parts)


def repo_path(path):
    """A config path relative to the repository, seen from the working directory."""
    p = Path(path)
    return str(p) if p.is_absolute() else os.path.relpath(REPO / p)


def shard(lang, split):
    """The three files of one token shard."""
    prefix = token_prefix(lang, split)
    return [f"{prefix}.bin", f"{prefix}.idx.npy", f"{prefix}.json"]


def shard_done(lang, split):
    """What consumers depend on: a shard's .json, written last, so it marks a complete shard
    (one file per shard also keeps the paper-scale DAG small)."""
    return f"{token_prefix(lang, split)}.json"


def token_prefix(lang, split="train"):
    return f"{RESULTS}/tokens/{lang}/{split}"


def mixture_sources(run):
    """`NAME=PREFIX:WEIGHT[:UNIQUE_TOKENS]` for every source of a run's mixture."""
    weights = run.weights or {lang: 1.0 / len(LANGS) for lang in LANGS}
    code_share = 1.0 - run.parallel_share
    sources = []
    for lang, weight in weights.items():
        unique = run.unique_tokens.get(lang)
        cap = f":{unique}" if unique else ""
        sources.append(f"{lang}={token_prefix(lang)}:{weight * code_share!r}{cap}")
    if run.pair_format and run.parallel_share > 0:
        prefix = f"{RESULTS}/pairs/{run.pair_format}/train"
        sources.append(f"pairs-{run.pair_format}={prefix}:{run.parallel_share!r}")
    return sources


def mixture_inputs(wildcards):
    run = RUNS[wildcards.run]
    langs = list(run.weights) if run.weights else LANGS
    files = [shard_done(lang, "train") for lang in langs]
    if run.pair_format and run.parallel_share > 0:
        files.append(f"{RESULTS}/pairs/{run.pair_format}/train.json")
    if run.weights is None:  # the optimised allocation: proportions from the optimiser
        files.append(ALLOCATION)
    return files


def mixture_args(wildcards):
    run = RUNS[wildcards.run]
    return flags(
        run=run.name,
        spec_json=json.dumps(run.to_dict(), sort_keys=True),
        source=mixture_sources(run),
        weights_from=ALLOCATION if run.weights is None else None,
        tokens=run.tokens,
        seed=run.seed,
        seq_len=TRAIN["seq_len"],
    )


def train_args(wildcards):
    return flags(
        size=RUNS[wildcards.run].size,
        val=[f"{lang}={token_prefix(lang, 'validation')}" for lang in LANGS],
        seq_len=TRAIN["seq_len"],
        batch_size=TRAIN["batch_size"],
        lr=TRAIN["lr"],
        schedule=TRAIN["schedule"],
        warmup_fraction=TRAIN["warmup_fraction"],
        checkpoint_every=TRAIN["checkpoint_every"],
        doc_mask=TRAIN["doc_mask"],
        compile=TRAIN["compile"],
        max_val_tokens=TRAIN["max_val_tokens"],
    )


def translated(wildcards):
    """Translation loss is measured on the runs of the studies that use it (config)."""
    return RUNS[wildcards.run].study in EVAL["translation_studies"]


def evaluate_args(wildcards):
    return flags(
        test=[f"{lang}={token_prefix(lang, 'test')}" for lang in LANGS],
        translation_test=TRANSLATION_TEST if translated(wildcards) else None,
        # A model is tested in the pair format it saw; the shuffled baseline in the direct one.
        format="prompt" if RUNS[wildcards.run].pair_format == "prompt" else "direct",
        prompt_template=PAR["prompt_template"],
        max_tokens_per_language=EVAL["max_tokens_per_language"],
        batch_size=EVAL["batch_size"],
        bleu=EVAL["bleu"] and translated(wildcards),
        bleu_max_instances=EVAL["bleu_max_instances"] if EVAL["bleu"] else None,
    )


def collect_args(runs):
    return flags(
        run=[f"{RESULTS}/runs/{name}" for name in runs],
        eval=[f"{RESULTS}/eval/{name}.json" for name in runs],
    )


def figure_fits(wildcards):
    files = list(FITS)
    if ALLOC_STUDY.get("enabled", bool(ALLOC_STUDY)):
        files.append(ALLOCATION)
    return files
