rule split_language:
    """Split by repository; train is decontaminated against validation, test and held-out tasks."""
    input:
        docs=rules.dedup_language.output.docs,
        heldout=HELDOUT,
    output:
        expand(f"{RESULTS}/split/{{{{lang}}}}/{{split}}.parquet", split=SPLITS),
        stats=f"{RESULTS}/split/{{lang}}/stats.json",
    log:
        "logs/split/{lang}.log",
    params:
        out=lambda wildcards, output: os.path.dirname(output.stats),
        args=lambda wildcards: flags(
            validation=config["split"]["validation"],
            test=config["split"]["test"],
            seed=config["seed"],
            ngram=DEDUP["ngram"],
            num_perm=DEDUP["num_perm"],
            threshold=DEDUP["threshold"],
        ),
    shell:
        "codescale split --input {input.docs} --decontaminate-against {input.heldout}"
        " --out-dir {params.out} {params.args} > {log} 2>&1"


rule split:
    input:
        expand(rules.split_language.output.stats, lang=LANGS),
