# Dedup as bounded jobs (codescale.data.dedup, "the band-partitioned pipeline"): signatures per
# (language, part) -> one cluster job per language over the band keys (dedup_language) -> the
# kept documents per (language, part).


rule dedup_signatures:
    """Exact hashes, MinHash signatures and LSH band keys of one part's kept documents."""
    input:
        docs=f"{RESULTS}/corpus/{{part}}/{{lang}}.parquet",
        selection=rules.corpus.output.selection,
    output:
        f"{RESULTS}/dedup/{{lang}}/{{part}}.sig.parquet",
    log:
        "logs/dedup/{lang}/{part}.sig.log",
    benchmark:
        "logs/bench/dedup_signatures/{lang}/{part}.tsv"
    wildcard_constraints:
        part=r"p\d+",
    conda:
        "../envs/data.yaml"
    params:
        args=lambda wildcards: dedup_args(),
    shell:
        "codescale dedup-signatures --input {input.docs} --selection {input.selection}"
        " --lang {wildcards.lang} --part {wildcards.part} --output {output} {params.args}"
        " > {log} 2>&1"


rule dedup_language:
    """Exact, then MinHash-LSH near-duplicate decisions within one language, over every part
    (candidates near the threshold are read back from the corpus parts and verified exactly)."""
    input:
        signatures=lambda wildcards: expand(
            rules.dedup_signatures.output[0], lang=wildcards.lang, part=CORPUS_PARTS
        ),
        corpus=lambda wildcards: expand(
            rules.dedup_signatures.input.docs, lang=wildcards.lang, part=CORPUS_PARTS
        ),
    output:
        removed=f"{RESULTS}/dedup/{{lang}}/removed.parquet",
        stats=f"{RESULTS}/dedup/{{lang}}.stats.json",
    log:
        "logs/dedup/{lang}.log",
    benchmark:
        "logs/bench/dedup_language/{lang}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        args=lambda wildcards: dedup_args(),
    shell:
        "codescale dedup-cluster --signatures {input.signatures} --corpus {input.corpus}"
        " --removed {output.removed}"
        " --stats {output.stats} {params.args} > {log} 2>&1"


rule dedup_part:
    """One part's kept documents (and its removed ones) of one language."""
    input:
        docs=rules.dedup_signatures.input.docs,
        selection=rules.corpus.output.selection,
        removed=rules.dedup_language.output.removed,
    output:
        docs=f"{RESULTS}/dedup/{{lang}}/{{part}}.parquet",
        removed=f"{RESULTS}/dedup/{{lang}}/{{part}}.removed.parquet",
    log:
        "logs/dedup/{lang}/{part}.log",
    benchmark:
        "logs/bench/dedup_part/{lang}/{part}.tsv"
    wildcard_constraints:
        part=r"p\d+",
    conda:
        "../envs/data.yaml"
    shell:
        "codescale dedup-filter --input {input.docs} --selection {input.selection}"
        " --lang {wildcards.lang} --part {wildcards.part} --removed-all {input.removed}"
        " --output {output.docs} --removed {output.removed} > {log} 2>&1"


rule dedup:
    input:
        expand(rules.dedup_part.output.docs, lang=LANGS, part=CORPUS_PARTS),
