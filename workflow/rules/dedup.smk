rule dedup_language:
    """Exact, then MinHash-LSH near-duplicate removal within one language."""
    input:
        f"{RESULTS}/corpus/{{lang}}.parquet",
    output:
        docs=f"{RESULTS}/dedup/{{lang}}.parquet",
        removed=f"{RESULTS}/dedup/{{lang}}.removed.parquet",
        stats=f"{RESULTS}/dedup/{{lang}}.stats.json",
    log:
        "logs/dedup/{lang}.log",
    params:
        args=lambda wildcards: flags(
            ngram=DEDUP["ngram"],
            num_perm=DEDUP["num_perm"],
            threshold=DEDUP["threshold"],
            seed=config["seed"],
        ),
    shell:
        "codescale dedup --input {input} --output {output.docs} --removed {output.removed}"
        " --stats {output.stats} {params.args} > {log} 2>&1"


rule dedup:
    input:
        expand(rules.dedup_language.output.docs, lang=LANGS),
