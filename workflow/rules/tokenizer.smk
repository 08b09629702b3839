TOK = config["tokenizer"]
TOKENIZER = f"{RESULTS}/tokenizer/tokenizer.json"


def shard(lang, split):
    """The three files of one token shard."""
    prefix = f"{RESULTS}/tokens/{lang}/{split}"
    return [f"{prefix}.bin", f"{prefix}.idx.npy", f"{prefix}.json"]


def shard_done(lang, split):
    """What consumers depend on: a shard's .json, written last, so it marks a complete shard
    (one file per shard also keeps the paper-scale DAG small)."""
    return f"{RESULTS}/tokens/{lang}/{split}.json"


rule tokenizer:
    """Byte-level BPE on a language-balanced sample of the training split."""
    input:
        expand(f"{RESULTS}/split/{{lang}}/train.parquet", lang=LANGS),
    output:
        TOKENIZER,
    params:
        args=lambda wildcards, input: flags(
            input=[f"{lang}={path}" for lang, path in zip(LANGS, input)],
            vocab_size=TOK["vocab_size"],
            sample_bytes_per_language=TOK["sample_bytes_per_language"],
            seed=config["seed"],
            eod=TOK["special_tokens"]["eod"],
            pad=TOK["special_tokens"]["pad"],
            language_tag=TOK["special_tokens"]["language_tag"],
        ),
    log:
        "logs/tokenizer.log",
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
    shell:
        "codescale tokenize --tokenizer {input.tokenizer} --input {input.docs}"
        " --lang {wildcards.lang} --split {wildcards.split}"
        " --out-prefix {RESULTS}/tokens/{wildcards.lang}/{wildcards.split} > {log} 2>&1"


rule tokenize:
    input:
        [shard(lang, split) for lang in LANGS for split in SPLITS],
