rule fit:
    """Every law of the paper, fitted by the law engine (checked against lmfit), with intervals."""
    input:
        rules.collect_for_fit.output.parquet,
    output:
        FITS,
    log:
        "logs/fit.log",
    conda:
        "../envs/laws.yaml"
    params:
        out=lambda wildcards, output: os.path.dirname(output[0]),
        args=lambda wildcards: flags(
            bootstrap=config["fit"]["bootstrap"],
            huber_delta=config["fit"]["huber_delta"],
            seed=config["seed"],
            languages=LANGS,
        ),
    shell:
        "codescale fit --table {input} {params.args} --out-dir {params.out} > {log} 2>&1"


checkpoint allocate:
    """Token proportions across languages minimising the predicted mean loss at fixed N and D."""
    input:
        fits=FITS,
        available=[shard_done(lang, "train") for lang in LANGS],
    output:
        ALLOCATION,
    log:
        "logs/allocate.log",
    conda:
        "../envs/laws.yaml"
    params:
        fits=lambda wildcards, input: os.path.dirname(input.fits[0]),
        # `lambda wildcards` only: Snakemake leaves params of `input`/`output` out of its check.
        args=lambda wildcards: flags(
            size=ALLOC_STUDY.get("size"),
            tokens=int(ALLOC_STUDY.get("tokens", 0)) or None,
            repetition_cap=ALLOC_STUDY.get("repetition_cap"),
            seed=config["seed"],
            available=[f"{lang}={shard_done(lang, 'train')}" for lang in LANGS],
        ),
    shell:
        "codescale allocate --fits-dir {params.fits} {params.args} --out {output} > {log} 2>&1"
