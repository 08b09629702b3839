rule tokenizer:
    """Byte-level BPE on a language-balanced sample of the training parts (the same sample for
    any partition: documents are taken in the order of a seeded hash of their doc_id)."""
    input:
        train=lambda wildcards: [f for lang in LANGS for f in split_files(lang, "train")],
        # each language's split gathered and checked (stats.json) before anything reads it
        split=expand(f"{RESULTS}/split/{{lang}}/stats.json", lang=LANGS),
    output:
        TOKENIZER,
    log:
        "logs/tokenizer.log",
    benchmark:
        "logs/bench/tokenizer/all.tsv"
    conda:
        "../envs/data.yaml"
    params:
        # `lambda wildcards` only: Snakemake leaves params of `input`/`output` out of its check.
        args=lambda wildcards: flags(
            input=[f"{lang}={f}" for lang in LANGS for f in split_files(lang, "train")],
            vocab_size=TOK["vocab_size"],
            sample_bytes_per_language=TOK["sample_bytes_per_language"],
            seed=config["seed"],
            eod=TOK["special_tokens"]["eod"],
            pad=TOK["special_tokens"]["pad"],
            language_tag=TOK["special_tokens"]["language_tag"],
        ),
    shell:
        "codescale tokenizer {params.args} --out {output} > {log} 2>&1"


rule tokenize_part:
    """Token shard of one part of a language's split (an empty part gives an empty shard)."""
    input:
        tokenizer=TOKENIZER,
        docs=f"{RESULTS}/split/{{lang}}/{{split}}/{{part}}.parquet",
    output:
        [f"{RESULTS}/tokens/{{lang}}/{{split}}/{{part}}{ext}" for ext in SHARD_FILES],
    log:
        "logs/tokenize/{lang}/{split}/{part}.log",
    benchmark:
        "logs/bench/tokenize_part/{lang}/{split}/{part}.tsv"
    wildcard_constraints:
        part=r"p\d+",
    conda:
        "../envs/data.yaml"
    params:
        prefix=lambda wildcards: token_part_prefix(wildcards.lang, wildcards.split, wildcards.part),
    shell:
        "codescale tokenize --tokenizer {input.tokenizer} --input {input.docs}"
        " --lang {wildcards.lang} --split {wildcards.split} --allow-empty"
        " --out-prefix {params.prefix} > {log} 2>&1"


rule tokenize_shard:
    """The token shard of one language and split: its parts' shards concatenated, streamed."""
    input:
        # every file of every part shard: the job's time is the copy of their tokens
        lambda wildcards: [
            f"{token_part_prefix(wildcards.lang, wildcards.split, p)}{ext}"
            for p in split_parts()
            for ext in SHARD_FILES
        ],
    output:
        shard("{lang}", "{split}"),
    log:
        "logs/tokenize/{lang}/{split}.log",
    benchmark:
        "logs/bench/tokenize_shard/{lang}/{split}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        parts=lambda wildcards: [
            token_part_prefix(wildcards.lang, wildcards.split, p) for p in split_parts()
        ],
        prefix=lambda wildcards: token_prefix(wildcards.lang, wildcards.split),
    shell:
        "codescale tokenize-gather --parts {params.parts} --lang {wildcards.lang}"
        " --split {wildcards.split} --out-prefix {params.prefix} > {log} 2>&1"


rule tokenize:
    input:
        [shard(lang, split) for lang in LANGS for split in SPLITS],
