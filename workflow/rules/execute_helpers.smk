# Helpers of workflow/rules/execute.smk (config section, executed runs, CLI arguments); collect
# (evaluate.smk) uses execute_outputs and collect_args_with_execute too.
EXEC = config["execute"]  # validated: every default filled in (the schema's)
EXEC_RUNS = (
    [name for name, run in RUNS.items() if run.study in EXEC["studies"]] if EXEC["enabled"] else []
)


def execute_outputs(runs):
    """The execution JSONs of those of `runs` that are executed (for collect)."""
    return [f"{RESULTS}/execute/{name}.json" for name in runs if name in EXEC_RUNS]


def collect_args_with_execute(runs):
    """collect's arguments: the runs and evaluations, plus the executed runs' JSONs (if any)."""
    parts = (collect_args(runs), flags(execute=execute_outputs(runs)))
    return " ".join(part for part in parts if part)


def execute_args(wildcards):
    limits = EXEC["limits"]
    return flags(
        languages=EXEC["languages"] or LANGS,
        max_tasks=EXEC["max_tasks"],
        n_samples=EXEC["n_samples"],
        temperature=EXEC["temperature"],
        k=EXEC["k"],
        max_new_tokens=EXEC["max_new_tokens"],
        batch_size=EXEC["batch_size"],
        seed=config["seed"],
        sandbox=EXEC["sandbox"],
        wall_s=limits["wall_s"],
        cpu_s=limits["cpu_s"],
        memory_mb=limits["memory_mb"],
        nproc=limits["nproc"],
        output_bytes=limits["output_bytes"],
    )
