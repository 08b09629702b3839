rule split_language:
    """Split by repository; train is decontaminated against validation, test and held-out tasks."""
    input:
        docs=rules.dedup_language.output.docs,
        heldout=f"{RESULTS}/pairs/heldout.parquet",
    output:
        expand(f"{RESULTS}/split/{{{{lang}}}}/{{split}}.parquet", split=SPLITS),
        stats=f"{RESULTS}/split/{{lang}}/stats.json",
    params:
        args=lambda wildcards: flags(
            validation=config["split"]["validation"],
            test=config["split"]["test"],
            seed=config["seed"],
            ngram=DEDUP["ngram"],
            num_perm=DEDUP["num_perm"],
            threshold=DEDUP["threshold"],
        ),
    log:
        "logs/split/{lang}.log",
    shell:
        "codescale split --input {input.docs} --decontaminate-against {input.heldout}"
        " --out-dir {RESULTS}/split/{wildcards.lang} {params.args} > {log} 2>&1"


rule split:
    input:
        expand(f"{RESULTS}/split/{{lang}}/stats.json", lang=LANGS),
