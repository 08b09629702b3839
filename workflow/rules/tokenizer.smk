rule tokenizer:
    """Byte-level BPE on a language-balanced sample of the training split."""
    input:
        expand(f"{RESULTS}/split/{{lang}}/train.parquet", lang=LANGS),
    output:
        TOKENIZER,
    log:
        "logs/tokenizer.log",
    params:
        # `lambda wildcards` only: Snakemake leaves params of `input`/`output` out of its check.
        args=lambda wildcards: flags(
            input=[f"{lang}={RESULTS}/split/{lang}/train.parquet" for lang in LANGS],
            vocab_size=TOK["vocab_size"],
            sample_bytes_per_language=TOK["sample_bytes_per_language"],
            seed=config["seed"],
            eod=TOK["special_tokens"]["eod"],
            pad=TOK["special_tokens"]["pad"],
            language_tag=TOK["special_tokens"]["language_tag"],
        ),
    shell:
        "codescale tokenizer {params.args} --out {output} > {log} 2>&1"


rule tokenize_shard:
    """Token shard of one language and split."""
    input:
        tokenizer=TOKENIZER,
        docs=f"{RESULTS}/split/{{lang}}/{{split}}.parquet",
    output:
        shard("{lang}", "{split}"),
    log:
        "logs/tokenize/{lang}/{split}.log",
    params:
        prefix=lambda wildcards: token_prefix(wildcards.lang, wildcards.split),
    shell:
        "codescale tokenize --tokenizer {input.tokenizer} --input {input.docs}"
        " --lang {wildcards.lang} --split {wildcards.split}"
        " --out-prefix {params.prefix} > {log} 2>&1"


rule tokenize:
    input:
        [shard(lang, split) for lang in LANGS for split in SPLITS],
