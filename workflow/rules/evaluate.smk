rule evaluate_run:
    """Test-split loss and bits/byte per language; translation loss per direction."""
    input:
        model=rules.train_run.output.weights,
        config=rules.train_run.output.config,
        metrics=rules.train_run.output.metrics,
        tokenizer=TOKENIZER,
        test=[shard_done(lang, "test") for lang in LANGS],
        translation=lambda wildcards: ([TRANSLATION_TEST] if translated(wildcards) else []),
    output:
        f"{RESULTS}/eval/{{run}}.json",
    log:
        "logs/eval/{run}.log",
    group:
        "run"
    conda:
        "../envs/train.yaml"
    resources:
        **run_group_resources("eval_runtime"),
        gpu=resource("gpus"),
        nodes=resource("nodes"),
    params:
        run_dir=lambda wildcards, input: os.path.dirname(input.model),
        args=evaluate_args,
    shell:
        "codescale evaluate --run-dir {params.run_dir} --tokenizer {input.tokenizer}"
        " {params.args} --out {output} > {log} 2>&1"


rule evaluate:
    input:
        expand(rules.evaluate_run.output, run=FIT_RUNS),
        lambda wildcards: expand(rules.evaluate_run.output, run=advised_runs()),


rule collect_for_fit:
    """The runs the laws are fitted on: all but the optimised allocation (fitted from them)."""
    input:
        expand(rules.evaluate_run.output, run=FIT_RUNS),
    output:
        parquet=f"{RESULTS}/collect/runs_for_fit.parquet",
        csv=f"{RESULTS}/collect/runs_for_fit.csv",
    log:
        "logs/collect_for_fit.log",
    conda:
        "../envs/data.yaml"
    params:
        args=collect_args(FIT_RUNS),
    shell:
        "codescale collect {params.args} --out {output.parquet} --csv {output.csv} > {log} 2>&1"


rule collect:
    """Every trained run's config and metrics in one tidy table: the single input of fits and
    figures (advised_runs: not the optimised runs that would repeat the uniform ones)."""
    input:
        expand(rules.evaluate_run.output, run=FIT_RUNS),
        execute_outputs(FIT_RUNS),
        lambda wildcards: expand(rules.evaluate_run.output, run=advised_runs()),
        lambda wildcards: execute_outputs(advised_runs()),
    output:
        parquet=f"{RESULTS}/collect/runs.parquet",
        csv=report(
            f"{RESULTS}/collect/runs.csv",
            category="Tables",
            caption="../report/runs.rst",
        ),
    log:
        "logs/collect.log",
    conda:
        "../envs/data.yaml"
    params:
        args=lambda wildcards: collect_args_with_execute(FIT_RUNS + advised_runs()),
    shell:
        "codescale collect {params.args} --out {output.parquet} --csv {output.csv} > {log} 2>&1"
