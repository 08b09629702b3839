TRAIN = config["train"]
ALLOCATION = f"{RESULTS}/fits/allocation.json"


def token_prefix(lang, split="train"):
    return f"{RESULTS}/tokens/{lang}/{split}"


def mixture_sources(run):
    """`NAME=PREFIX:WEIGHT[:UNIQUE_TOKENS]` for every source of a run's mixture."""
    weights = run.weights or {lang: 1.0 / len(LANGS) for lang in LANGS}
    code_share = 1.0 - run.parallel_share
    sources = []
    for lang, weight in weights.items():
        unique = run.unique_tokens.get(lang)
        spec = f"{lang}={token_prefix(lang)}:{weight * code_share!r}"
        sources.append(spec + (f":{unique}" if unique else ""))
    if run.pair_format and run.parallel_share > 0:
        sources.append(
            f"pairs-{run.pair_format}={RESULTS}/pairs/{run.pair_format}/train:{run.parallel_share!r}"
        )
    return sources


def mixture_inputs(wildcards):
    run = RUNS[wildcards.run]
    langs = list(run.weights) if run.weights else LANGS
    files = [shard_done(lang, "train") for lang in langs]
    if run.pair_format and run.parallel_share > 0:
        files.append(f"{RESULTS}/pairs/{run.pair_format}/train.json")
    if run.weights is None:  # the optimised allocation: proportions come from the optimiser
        files.append(ALLOCATION)
    return files


rule mixture:
    """One run's sampling plan: sources, proportions, repetition caps, seed."""
    input:
        mixture_inputs,
    output:
        f"{RESULTS}/runs/{{run}}/mixture.json",
    params:
        args=lambda wildcards: flags(
            run=wildcards.run,
            spec_json=json.dumps(RUNS[wildcards.run].to_dict(), sort_keys=True),
            source=mixture_sources(RUNS[wildcards.run]),
            weights_from=ALLOCATION if RUNS[wildcards.run].weights is None else None,
            tokens=RUNS[wildcards.run].tokens,
            seed=RUNS[wildcards.run].seed,
            seq_len=TRAIN["seq_len"],
        ),
    log:
        "logs/mixture/{run}.log",
    shell:
        "codescale mixture {params.args} --out {output} > {log} 2>&1"


def train_resources(wildcards, attempt):
    return dict(_train_resources(wildcards.run, attempt))


@functools.cache
def _train_resources(name, attempt):
    run = RUNS[name]
    res = cs_plan.train_resources(
        run.size,
        run.tokens,
        config["tokenizer"]["vocab_size"],
        TRAIN["seq_len"],
        config["slurm"],
        config["plan"],
    )
    # A resubmitted job (preemption, time limit) gets more time on each attempt.
    res["runtime"] = int(res["runtime"] * attempt)
    return res


rule train_run:
    """Train one model on one mixture; resumes from results/checkpoints/{run} when it exists."""
    input:
        mixture=rules.mixture.output,
        shards=lambda wildcards: mixture_inputs(wildcards),
        val=[shard_done(lang, "validation") for lang in LANGS],
    output:
        weights=f"{RESULTS}/runs/{{run}}/model.safetensors",
        metrics=f"{RESULTS}/runs/{{run}}/metrics.json",
        config=f"{RESULTS}/runs/{{run}}/config.json",
    params:
        args=lambda wildcards: flags(
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
        ),
        launcher=lambda wildcards, resources: (
            f"srun -n {resources.tasks}" if resources.tasks > 1 else ""
        ),
    threads: TRAIN["threads"]
    resources:
        gpu=lambda wildcards, attempt: train_resources(wildcards, attempt)["gpus"],
        nodes=lambda wildcards, attempt: train_resources(wildcards, attempt)["nodes"],
        tasks=lambda wildcards, attempt: train_resources(wildcards, attempt)["tasks"],
        tasks_per_gpu=lambda wildcards, attempt: (
            1 if train_resources(wildcards, attempt)["gpus"] else 0
        ),
        cpus_per_task=lambda wildcards, attempt: train_resources(wildcards, attempt)[
            "cpus_per_task"
        ],
        mem_mb=lambda wildcards, attempt: train_resources(wildcards, attempt)["mem_mb"],
        runtime=lambda wildcards, attempt: train_resources(wildcards, attempt)["runtime"],
        slurm_partition=lambda wildcards, attempt: (
            config["slurm"]["train_partition"]
            if train_resources(wildcards, attempt)["gpus"]
            else config["slurm"]["cpu_partition"]
        ),
    log:
        "logs/train/{run}.log",
    shell:
        "{params.launcher} codescale train --mixture {input.mixture} {params.args}"
        " --threads {threads} --out-dir {RESULTS}/runs/{wildcards.run}"
        " --checkpoint-dir {RESULTS}/checkpoints/{wildcards.run} >> {log} 2>&1"


rule train:
    input:
        expand(rules.train_run.output.metrics, run=RUNS),
