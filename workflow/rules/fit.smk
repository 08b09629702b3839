FITS = [f"{RESULTS}/fits/{name}.json" for name in ("per_language", "synergy", "translation", "mixture_law")]
ALLOC_STUDY = config["studies"].get("allocation", {})


rule fit:
    """Every law of the paper, fitted with lmfit, with bootstrap intervals."""
    input:
        rules.collect_for_fit.output.parquet,
    output:
        FITS,
    params:
        args=lambda wildcards: flags(
            bootstrap=config["fit"]["bootstrap"],
            huber_delta=config["fit"]["huber_delta"],
            seed=config["seed"],
            languages=LANGS,
        ),
    log:
        "logs/fit.log",
    shell:
        "codescale fit --table {input} {params.args} --out-dir {RESULTS}/fits > {log} 2>&1"


rule allocate:
    """Token proportions across languages minimising the predicted mean loss at fixed N and D."""
    input:
        fits=FITS,
        available=[f"{token_prefix(lang)}.json" for lang in LANGS],
    output:
        ALLOCATION,
    params:
        args=lambda wildcards: flags(
            size=ALLOC_STUDY.get("size"),
            tokens=int(ALLOC_STUDY.get("tokens", 0)) or None,
            repetition_cap=ALLOC_STUDY.get("repetition_cap"),
            vocab_size=config["tokenizer"]["vocab_size"],
        ),
    log:
        "logs/allocate.log",
    shell:
        "codescale allocate --fits-dir {RESULTS}/fits {params.args}"
        " --available $(for l in {LANGS}; do echo -n \"$l={RESULTS}/tokens/$l/train.json \"; done)"
        " --out {output} > {log} 2>&1"
