# Shared helpers of every rule file (config sections, artifact paths) and the functions that
# turn a run spec into inputs, params and Slurm resources.
import json
import os
import shlex
from pathlib import Path

from codescale import catalog as cs_catalog
from codescale.data import corpus as cs_corpus
from codescale.data import readers as cs_readers
from codescale.data import registry as cs_registry
from codescale.train.hparams import configured_lr

# The checkout, symlinks resolved: the same checkout reached through a symlinked home gives the
# same paths, so nothing reruns (a relative config path is relative to it, whatever --directory).
REPO = Path(os.path.realpath(workflow.basedir))
RESULTS = "results"
CORPUS = config["corpus"]
DEDUP = config["dedup"]
TOK = config["tokenizer"]
PAR = config["parallel"]
TRAIN = config["train"]
EVAL = config["evaluate"]
PAIR_FORMATS = config["studies"].get("pairing", {}).get("formats", list(cs_catalog.PAIR_FORMATS))
ALLOC_STUDY = config["studies"].get("allocation", {})


TOKENIZER = f"{RESULTS}/tokenizer/tokenizer.json"
HELDOUT = f"{RESULTS}/pairs/heldout.parquet"
TRANSLATION_TEST = f"{RESULTS}/pairs/translation_test.parquet"
# Fit, figure and table file names: codescale.catalog (the figures command writes the same).
ALLOCATION = f"{RESULTS}/fits/{cs_catalog.FIT_FILES['allocation']}"
FITS = [f"{RESULTS}/fits/{cs_catalog.FIT_FILES[name]}" for name in cs_catalog.LAW_FITS]
# The optimised allocation run is trained on proportions fitted from the other runs, so the table
# the fits read leaves it out (no cycle); the final table has every run.
FIT_RUNS = [name for name, run in RUNS.items() if not run.from_advice]
FIGURES = list(cs_catalog.FIGURES)
TABLES = list(cs_catalog.TABLES)


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
    """A config path (relative ones are relative to the repository) as rules see it: absolute
    stays absolute; relative becomes relative to the working directory, both sides with symlinks
    resolved. So it does not change when the checkout moves together with its results, or is
    reached through another path (it is an input/param: a change would rerun the rule)."""
    p = Path(path)
    if p.is_absolute():
        return str(p)
    return os.path.relpath(os.path.realpath(REPO / p), os.path.realpath(os.getcwd()))


def registry_list():
    """The pinned registry source list: corpus.registry_sources, else the packaged one."""
    if CORPUS["registry_sources"]:
        return repo_path(CORPUS["registry_sources"])
    packaged = Path(cs_registry.__file__).parent / cs_registry.DEFAULT_SOURCES
    return os.path.relpath(os.path.realpath(packaged), os.path.realpath(os.getcwd()))


def corpus_paths():
    """`corpus.paths` as rules see them (repo_path; glob patterns stay patterns)."""
    return [repo_path(p) for p in CORPUS["paths"]]


def _corpus_parts():
    """Part name -> its input files (codescale.data.corpus.part_groups over the files the
    corpus reads, listed by its own readers, in their order, about `corpus.part_mb` MiB each),
    declared so that an added, removed or edited file reruns its part; the registry: one part
    (its source list). A missing path or a glob that matches nothing: one part declared with the
    paths as they are, so Snakemake names it (an exception here would be dropped while the
    corpus outputs exist); an empty list reaches `codescale corpus`, which says so."""
    if CORPUS["source"] == "registry":
        return {"p00000": [registry_list()]}
    items = [f"{k}={v}" for k, v in CORPUS["language_map"].items()]
    try:
        ext_map = {**cs_readers.EXTENSION_LANGUAGE, **cs_readers.parse_language_map(items)[0]}
        files = cs_corpus.input_files(CORPUS["source"], corpus_paths(), LANGS, ext_map)
        return cs_corpus.part_groups(files, CORPUS["part_mb"])
    except CodescaleError:
        return {"p00000": corpus_paths()}


CORPUS_PART_FILES = _corpus_parts()
CORPUS_PARTS = list(CORPUS_PART_FILES)


def corpus_part_files(part):
    """The input files of one corpus part, declared (names that are not UTF-8 left out: they
    cannot go into Snakemake's lock file; the part reads them all the same)."""
    return [f for f in CORPUS_PART_FILES[part] if cs_readers.shown(f) == f]


def corpus_inputs(wildcards=None):
    """Every declared input file of the corpus (all parts')."""
    return [f for part in CORPUS_PARTS for f in corpus_part_files(part)]


def corpus_settings(*leave_out):
    """The corpus section as written (paths relative to the checkout), less the keys named:
    what a corpus rule's params compare."""
    return json.dumps({k: v for k, v in CORPUS.items() if k not in leave_out}, sort_keys=True)


def run_spec(name):
    """The run spec of a run name; a name outside the study fails with the study's runs of
    that family, in the study's order (a typo or a run of another config is the usual cause)."""
    if name in RUNS:
        return RUNS[name]
    family = name.split("/")[0]
    same = [n for n in RUNS if n.split("/")[0] == family]
    shown = ", ".join(same[:60]) + (f", ... ({len(same) - 60} more)" if len(same) > 60 else "")
    configs = ", ".join(map(str, workflow.configfiles))
    listing = (
        f"its {family!r} runs are: {shown}"
        if same
        else f"it has no {family!r} runs; its families: "
        + ", ".join(dict.fromkeys(n.split("/")[0] for n in RUNS))
    )
    raise WorkflowError(f"run {name!r} is not in this study (config: {configs}); {listing}")


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


def run_dir(name):
    """A run's folder (mixture.json, model.safetensors, config.json, metrics.json): the one
    place that spells it; the train rules' outputs and collect's --run are built from it. `name`
    is a run name or a wildcard ("{run}")."""
    return f"{RESULTS}/runs/{name}"


def checkpoint_dir(name):
    """Where `codescale train` keeps a run's checkpoints: outside run_dir, so that Snakemake,
    which deletes the outputs of a failed job, never deletes them (a stable run's: name
    "stable/FAMILY/CELL/SIZE")."""
    return f"{RESULTS}/checkpoints/{name}"


# The data half after dedup runs per part (split, tokenize: see workflow/rules/split.smk).
SHARD_FILES = (".bin", ".idx.npy", ".json")


def split_parts():
    """The part names the split and tokenize jobs run over: the corpus's parts (CORPUS_PARTS,
    groups of about corpus.part_mb of input), or one part, p00000, where dedup writes one file
    per language."""
    return list(globals().get("CORPUS_PARTS") or ["p00000"])


def dedup_part(lang, part):
    """One deduplicated part of a language (the whole language where dedup is not per part)."""
    if "CORPUS_PARTS" in globals():
        return f"{RESULTS}/dedup/{lang}/{part}.parquet"
    return f"{RESULTS}/dedup/{lang}.parquet"


def dedup_parts(lang):
    return [dedup_part(lang, part) for part in split_parts()]


def split_files(lang, kind):
    """The per-part files of a language's split ("train", "validation", "test", "removed")."""
    return [f"{RESULTS}/split/{lang}/{kind}/{part}.parquet" for part in split_parts()]


def token_part_prefix(lang, split, part):
    return f"{RESULTS}/tokens/{lang}/{split}/{part}"


def corpus_input_mb():
    """MiB of the corpus input files present here, for the data plan (None where there are
    none: the plan then takes the cap x languages)."""
    if CORPUS["source"] == "registry":
        return None
    files = {f for fs in CORPUS_PART_FILES.values() for f in fs if os.path.isfile(f)}
    total = sum(os.path.getsize(f) for f in files)
    return total / 2**20 if total else None


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
    run = run_spec(wildcards.run)
    langs = list(run.weights) if run.weights else LANGS
    files = [shard_done(lang, "train") for lang in langs]
    if run.pair_format and run.parallel_share > 0:
        files.append(f"{RESULTS}/pairs/{run.pair_format}/train.json")
    if run.from_advice:  # the optimised allocation: proportions from the optimiser, a
        # checkpoint: its mtime alone never retrains the run (see allocation_proportions)
        files.append(ancient(checkpoints.allocate.get().output[0]))
    return files


def mixture_args(wildcards):
    """`codescale mixture` options: the run's identity (name, size, D, seed, seq_len, sources),
    each given here once; the plan carries them to `codescale train` (issue #14). The spec is
    the study's record of the run (collect reads it); the mixture stage checks it agrees."""
    run = run_spec(wildcards.run)
    return flags(
        run=run.name,
        size=run.size,
        spec_json=json.dumps(run.to_dict(), sort_keys=True),
        source=mixture_sources(run),
        weights_from=ALLOCATION if run.from_advice else None,
        tokens=run.tokens,
        seed=run.seed,
        seq_len=TRAIN["seq_len"],
    )


def train_args(wildcards):
    return train_args_of(wildcards.run)


def train_args_of(name):
    """`codescale train` options of a run, or of a stable run (WSD branches: train.smk): the
    trainer's settings only; size, D and seq_len reach it in the mixture plan (mixture_args).
    The size here picks the configured learning rate of the run's size."""
    size = STABLES[name].size if name in STABLES else run_spec(name).size
    return flags(
        val=[f"{lang}={token_prefix(lang, 'validation')}" for lang in LANGS],
        batch_size=run_resources(name)["batch_size"],  # the plan's global batch
        lr=configured_lr(TRAIN["lr"], size),
        schedule=TRAIN["schedule"],
        warmup_fraction=TRAIN["warmup_fraction"],
        checkpoint_every=TRAIN["checkpoint_every"],
        doc_mask=TRAIN["doc_mask"],
        compile=TRAIN["compile"],
        max_val_tokens=TRAIN["max_val_tokens"],
        **wsd_flags(name),
    )


def translated(wildcards):
    """Translation loss is measured on the runs of the studies that use it (config)."""
    return run_spec(wildcards.run).study in EVAL["translation_studies"]


def evaluate_args(wildcards):
    return flags(
        test=[f"{lang}={token_prefix(lang, 'test')}" for lang in LANGS],
        translation_test=TRANSLATION_TEST if translated(wildcards) else None,
        # A model is tested in the pair format it saw; the shuffled baseline in the direct one.
        format="prompt" if run_spec(wildcards.run).pair_format == "prompt" else "direct",
        prompt_template=PAR["prompt_template"],
        max_tokens_per_language=EVAL["max_tokens_per_language"],
        batch_size=EVAL["batch_size"],
        bleu=EVAL["bleu"] and translated(wildcards),
        bleu_max_instances=EVAL["bleu_max_instances"] if EVAL["bleu"] else None,
    )


def collect_args(runs):
    return flags(
        run=[run_dir(name) for name in runs],
        eval=[f"{RESULTS}/eval/{name}.json" for name in runs],
    )


def figure_fits(wildcards):
    files = list(FITS)
    if ALLOC_STUDY.get("enabled", bool(ALLOC_STUDY)):
        files.append(ALLOCATION)
    return files


def plan_config():
    """The part of the config `codescale plan` reads (the runs, their sizes and costs)."""
    return {
        "languages": LANGS,
        "studies": config["studies"],
        "tokenizer": {"vocab_size": TOK["vocab_size"]},
        "train": {
            "seq_len": TRAIN["seq_len"],
            **(  # WSD branches change the plan (stable runs, cooldowns); cosine: as before
                {"schedule": "wsd", "cooldown_fraction": TRAIN["cooldown_fraction"]}
                if TRAIN["schedule"] == "wsd"
                else {}
            ),
        },
        "cluster": config["cluster"],
        "plan": config["plan"],
        "slurm": {k: v for k, v in config["slurm"].items() if k not in SLURM_PLACEMENT},
    }


# Command-line values that change no artifact reach their rules as environment variables, not
# params, so a change reruns nothing (and the shell command, which Snakemake's code trigger
# compares as written, stays the same): the registry download cache (relative to the working
# directory) and where the parallel data sets are read from (every file is checked against its
# pinned sha256, wherever it comes from; "" = download). Slurm jobs rerun this file, so they set
# the same values.
os.environ.update(
    CODESCALE_DOWNLOAD_DIR=CORPUS["download_dir"],
    CODESCALE_PART_MB=str(CORPUS["part_mb"]),
    CODESCALE_PARALLEL_DIR=repo_path(PAR["path"]) if PAR["path"] else "",
)


def dedup_args():
    """The MinHash settings of every dedup job (signatures, cluster, filter), in one place."""
    return flags(
        ngram=DEDUP["ngram"],
        num_perm=DEDUP["num_perm"],
        threshold=DEDUP["threshold"],
        seed=config["seed"],
    )
