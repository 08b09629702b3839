# The split as bounded jobs over the parts of a language (codescale.data.split, "parts"):
# assign (per language, small records) -> eval (per part) -> index (per language, band keys of
# validation + test and the held-out references) -> train (per part, decontaminated) -> stats.


rule split_assign:
    """Repositories -> train/validation/test from (repo, n_bytes) of every part of a language."""
    input:
        lambda wildcards: dedup_parts(wildcards.lang),
    output:
        f"{RESULTS}/split/{{lang}}/repos.parquet",
    log:
        "logs/split/{lang}/assign.log",
    benchmark:
        "logs/bench/split_assign/{lang}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        args=lambda wildcards: flags(
            validation=config["split"]["validation"],
            test=config["split"]["test"],
            seed=config["seed"],
        ),
    shell:
        "codescale split-assign --input {input} --lang {wildcards.lang} --out {output}"
        " {params.args} > {log} 2>&1"


rule split_eval:
    """The validation and test rows of one part."""
    input:
        docs=lambda wildcards: dedup_part(wildcards.lang, wildcards.part),
        repos=rules.split_assign.output[0],
    output:
        validation=f"{RESULTS}/split/{{lang}}/validation/{{part}}.parquet",
        test=f"{RESULTS}/split/{{lang}}/test/{{part}}.parquet",
    log:
        "logs/split/{lang}/eval/{part}.log",
    benchmark:
        "logs/bench/split_eval/{lang}/{part}.tsv"
    wildcard_constraints:
        part=r"p\d+",
    conda:
        "../envs/data.yaml"
    shell:
        "codescale split-eval --input {input.docs} --repos {input.repos}"
        " --validation-out {output.validation} --test-out {output.test} > {log} 2>&1"


rule split_index:
    """Decontamination index of a language: LSH band keys of every validation and test
    document, shingle sets of the held-out references."""
    input:
        validation=lambda wildcards: split_files(wildcards.lang, "validation"),
        test=lambda wildcards: split_files(wildcards.lang, "test"),
        heldout=HELDOUT,
    output:
        docs=f"{RESULTS}/split/{{lang}}/index/docs.parquet",
        bands=f"{RESULTS}/split/{{lang}}/index/bands.parquet",
        refs=f"{RESULTS}/split/{{lang}}/index/refs.parquet",
    log:
        "logs/split/{lang}/index.log",
    benchmark:
        "logs/bench/split_index/{lang}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        out=lambda wildcards, output: os.path.dirname(output.docs),
        args=lambda wildcards: flags(
            seed=config["seed"],
            ngram=DEDUP["ngram"],
            num_perm=DEDUP["num_perm"],
            threshold=DEDUP["threshold"],
        ),
    shell:
        "codescale split-index --validation {input.validation} --test {input.test}"
        " --decontaminate-against {input.heldout} --out-dir {params.out} {params.args}"
        " > {log} 2>&1"


rule split_train:
    """The training rows of one part, decontaminated against the language's index (candidate
    validation/test documents are read back from the parts the index names: not declared here,
    the index's own inputs, so that P part jobs do not declare 2P files each)."""
    input:
        docs=lambda wildcards: dedup_part(wildcards.lang, wildcards.part),
        repos=rules.split_assign.output[0],
        index=rules.split_index.output,
    output:
        train=f"{RESULTS}/split/{{lang}}/train/{{part}}.parquet",
        removed=f"{RESULTS}/split/{{lang}}/removed/{{part}}.parquet",
        stats=f"{RESULTS}/split/{{lang}}/parts/{{part}}.json",
    log:
        "logs/split/{lang}/train/{part}.log",
    benchmark:
        "logs/bench/split_train/{lang}/{part}.tsv"
    wildcard_constraints:
        part=r"p\d+",
    conda:
        "../envs/data.yaml"
    params:
        index=lambda wildcards, input: os.path.dirname(input.index[0]),
        args=lambda wildcards: flags(
            seed=config["seed"],
            ngram=DEDUP["ngram"],
            num_perm=DEDUP["num_perm"],
            threshold=DEDUP["threshold"],  # Jaccard of near-duplicates, as in dedup
            # passed when not the schema default (the option's default, tests/test_defaults.py),
            # so studies from before the key existed keep their commands and rerun nothing
            containment_threshold=(
                None
                if config["split"]["containment_threshold"]
                == cs_config.default("split.containment_threshold")
                else config["split"]["containment_threshold"]
            ),
        ),
    shell:
        "codescale split-train --input {input.docs} --repos {input.repos} --index {params.index}"
        " --out {output.train} --removed {output.removed} --stats {output.stats}"
        " {params.args} > {log} 2>&1"


rule split_language:
    """A language's split counts (documents, bytes, repositories, removals) from its parts."""
    input:
        repos=rules.split_assign.output[0],
        train=lambda wildcards: split_files(wildcards.lang, "train"),
        validation=lambda wildcards: split_files(wildcards.lang, "validation"),
        test=lambda wildcards: split_files(wildcards.lang, "test"),
        removed=lambda wildcards: split_files(wildcards.lang, "removed"),
        parts=lambda wildcards: [
            f"{RESULTS}/split/{wildcards.lang}/parts/{p}.json" for p in split_parts()
        ],
    output:
        stats=f"{RESULTS}/split/{{lang}}/stats.json",
    log:
        "logs/split/{lang}/stats.log",
    benchmark:
        "logs/bench/split_language/{lang}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        args=lambda wildcards: flags(
            validation_fraction=config["split"]["validation"],
            test_fraction=config["split"]["test"],
            seed=config["seed"],
        ),
    shell:
        "codescale split-stats --lang {wildcards.lang} --repos {input.repos}"
        " --train {input.train} --validation {input.validation} --test {input.test}"
        " --removed {input.removed} --part-stats {input.parts} --out {output.stats}"
        " {params.args} > {log} 2>&1"


rule split:
    input:
        expand(rules.split_language.output.stats, lang=LANGS),
