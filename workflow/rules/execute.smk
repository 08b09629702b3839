# Execution-based evaluation (Table 3): generate code for the held-out HumanEval tasks with each
# run's model and run it against PolyHumanEval's tests in a sandbox (codescale execute). Included
# before evaluate.smk, whose collect rule takes these outputs.
EXEC = config.get("execute", {})
EXEC_RUNS = (
    [
        name
        for name, run in RUNS.items()
        if run.study in EXEC.get("studies", ["pairing"])
    ]
    if EXEC.get("enabled", False)
    else []
)


def execute_outputs(runs):
    """The execution JSONs of those of `runs` that are executed (for collect)."""
    return [f"{RESULTS}/execute/{name}.json" for name in runs if name in EXEC_RUNS]


def collect_args_with_execute(runs):
    """collect's arguments: the runs and evaluations, plus the executed runs' JSONs (if any)."""
    extra = flags(execute=execute_outputs(runs))
    return collect_args(runs) + (" " + extra if extra else "")


def execute_args(wildcards):
    limits = EXEC.get("limits", {})
    return flags(
        languages=EXEC.get("languages") or LANGS,
        max_tasks=EXEC.get("max_tasks"),
        n_samples=EXEC.get("n_samples", 1),
        temperature=EXEC.get("temperature", 0.0),
        k=EXEC.get("k", [1]),
        max_new_tokens=EXEC.get("max_new_tokens", 384),
        batch_size=EXEC.get("batch_size", 16),
        seed=config["seed"],
        sandbox=EXEC.get("sandbox", "bwrap"),
        wall_s=limits.get("wall_s"),
        cpu_s=limits.get("cpu_s"),
        memory_mb=limits.get("memory_mb"),
        nproc=limits.get("nproc"),
        output_bytes=limits.get("output_bytes"),
    )


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
    threads: lambda wildcards: EXEC.get("workers", 2)
    params:
        run_dir=lambda wildcards, input: os.path.dirname(input.model),
        args=execute_args,
    shell:
        "codescale execute --run-dir {params.run_dir} --tokenizer {input.tokenizer}"
        " --parallel-dir {input.parallel} --tasks {input.tasks} {params.args}"
        " --workers {threads} --out {output} > {log} 2>&1"


rule execute:
    input:
        execute_outputs(RUNS),
