# Execution-based evaluation (Table 3): generate code for the held-out HumanEval tasks with each
# run's model and run it against PolyHumanEval's tests in a sandbox (codescale execute). Included
# before evaluate.smk, whose collect rule takes these outputs.


include: "execute_helpers.smk"


rule execute_run:
    """pass@k of one run per language on the held-out tasks, each program in a sandbox."""
    input:
        model=rules.train_run.output.weights,
        config=rules.train_run.output.config,
        evaluation=f"{RESULTS}/eval/{{run}}.json",
        tokenizer=TOKENIZER,
        tasks=rules.parallel_tasks.output.tasks,
        parallel=rules.fetch_parallel.output,
    output:
        f"{RESULTS}/execute/{{run}}.json",
    log:
        "logs/execute/{run}.log",
    conda:
        "../envs/execute.yaml"
    threads: lambda wildcards: EXEC["workers"]
    resources:
        **execute_resources(),
    params:
        run_dir=lambda wildcards, input: os.path.dirname(input.model),
        args=execute_args,
    shell:
        "codescale execute --run-dir {params.run_dir} --tokenizer {input.tokenizer}"
        " --parallel-dir {input.parallel} --tasks {input.tasks} {params.args}"
        " --workers {threads} --out {output} > {log} 2>&1"


rule execute:
    input:
        execute_outputs(FIT_RUNS),
        lambda wildcards: execute_outputs(advised_runs()),
