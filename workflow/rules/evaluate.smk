EVAL = config["evaluate"]
TRANSLATION_TEST = f"{RESULTS}/pairs/translation_test.parquet"


rule evaluate_run:
    """Test-split loss and bits/byte per language; translation loss per direction."""
    input:
        model=rules.train_run.output.weights,
        config=rules.train_run.output.config,
        metrics=rules.train_run.output.metrics,
        tokenizer=TOKENIZER,
        test=[shard_done(lang, "test") for lang in LANGS],
        translation=TRANSLATION_TEST,
    output:
        f"{RESULTS}/eval/{{run}}.json",
    params:
        args=lambda wildcards: flags(
            test=[f"{lang}={token_prefix(lang, 'test')}" for lang in LANGS],
            # A model is tested in the pair format it saw; the shuffled baseline in the direct one.
            format="prompt" if RUNS[wildcards.run].pair_format == "prompt" else "direct",
            prompt_template=PAR["prompt_template"],
            max_tokens_per_language=EVAL["max_tokens_per_language"],
            batch_size=EVAL["batch_size"],
        ),
    log:
        "logs/eval/{run}.log",
    shell:
        "codescale evaluate --run-dir {RESULTS}/runs/{wildcards.run} --tokenizer {input.tokenizer}"
        " --translation-test {input.translation} {params.args} --out {output} > {log} 2>&1"


rule evaluate:
    input:
        expand(rules.evaluate_run.output, run=RUNS),


def collect_command(runs):
    return flags(
        run=[f"{RESULTS}/runs/{name}" for name in runs],
        eval=[f"{RESULTS}/eval/{name}.json" for name in runs],
    )


# The optimised allocation run is trained on proportions fitted from the other runs, so the table
# the fits read leaves it out (no cycle); the final table has every run.
FIT_RUNS = [name for name, run in RUNS.items() if run.weights is not None]


rule collect_for_fit:
    input:
        expand(rules.evaluate_run.output, run=FIT_RUNS),
    output:
        parquet=f"{RESULTS}/collect/runs_for_fit.parquet",
        csv=f"{RESULTS}/collect/runs_for_fit.csv",
    params:
        args=collect_command(FIT_RUNS),
    log:
        "logs/collect_for_fit.log",
    shell:
        "codescale collect {params.args} --out {output.parquet} --csv {output.csv} > {log} 2>&1"


rule collect:
    """Every run's config and metrics in one tidy table: the single input of fits and figures."""
    input:
        expand(rules.evaluate_run.output, run=RUNS),
    output:
        parquet=report(
            f"{RESULTS}/collect/runs.parquet",
            category="Tables",
            caption="../report/runs.rst",
        ),
        csv=f"{RESULTS}/collect/runs.csv",
    params:
        args=collect_command(list(RUNS)),
    log:
        "logs/collect.log",
    shell:
        "codescale collect {params.args} --out {output.parquet} --csv {output.csv} > {log} 2>&1"
