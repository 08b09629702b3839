rule fetch_parallel:
    """Parallel data sets from the configured folder or their pinned URLs, checksums verified.
    The folder is no param (any source gives the same files): $CODESCALE_PARALLEL_DIR."""
    output:
        directory("resources/parallel"),
    log:
        "logs/fetch_parallel.log",
    conda:
        "../envs/data.yaml"
    shell:
        'codescale fetch-parallel ${{CODESCALE_PARALLEL_DIR:+--source-dir "$CODESCALE_PARALLEL_DIR"}}'
        " --out-dir {output} > {log} 2>&1"


rule parallel_tasks:
    """Filter parallel programs and hold out the translation-test tasks (never trained on)."""
    input:
        rules.fetch_parallel.output,
    output:
        tasks=f"{RESULTS}/pairs/tasks.json",
        heldout=HELDOUT,
        programs=f"{RESULTS}/pairs/programs.parquet",
    log:
        "logs/parallel_tasks.log",
    conda:
        "../envs/data.yaml"
    params:
        out=lambda wildcards, output: os.path.dirname(output.tasks),
        args=lambda wildcards: flags(
            languages=LANGS,
            heldout=PAR["heldout_tasks"],
            seed=config["seed"],
            no_mbxp=not PAR["mbxp"],
        ),
    shell:
        "codescale parallel-tasks --parallel-dir {input} {params.args}"
        " --out-dir {params.out} > {log} 2>&1"


rule pairs:
    """Pair-document shards per format and the 42-direction translation test."""
    input:
        programs=rules.parallel_tasks.output.programs,
        heldout=rules.parallel_tasks.output.heldout,
        tokenizer=TOKENIZER,
    output:
        [
            f"{RESULTS}/pairs/{fmt}/train{ext}"
            for fmt in PAIR_FORMATS
            for ext in (".bin", ".idx.npy", ".json")
        ],
        test=TRANSLATION_TEST,
    log:
        "logs/pairs.log",
    conda:
        "../envs/data.yaml"
    params:
        out=lambda wildcards, output: os.path.dirname(output.test),
        args=lambda wildcards: flags(
            formats=PAIR_FORMATS,
            prompt_template=PAR["prompt_template"],
            languages=LANGS,
            seed=config["seed"],
        ),
    shell:
        "codescale pairs --programs {input.programs} --heldout {input.heldout}"
        " --tokenizer {input.tokenizer} {params.args} --out-dir {params.out} > {log} 2>&1"
