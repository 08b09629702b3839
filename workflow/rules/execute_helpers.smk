# Helpers of workflow/rules/execute.smk (config section, executed runs, CLI arguments); collect
# (evaluate.smk) uses execute_outputs and collect_args_with_execute too.
EXEC = config.get("execute", {})
EXEC_RUNS = (
    [name for name, run in RUNS.items() if run.study in EXEC.get("studies", ["pairing"])]
    if EXEC.get("enabled", False)
    else []
)


def execute_outputs(runs):
    """The execution JSONs of those of `runs` that are executed (for collect)."""
    return [f"{RESULTS}/execute/{name}.json" for name in runs if name in EXEC_RUNS]


def collect_args_with_execute(runs):
    """collect's arguments: the runs and evaluations, plus the executed runs' JSONs (if any)."""
    parts = (collect_args(runs), flags(execute=execute_outputs(runs)))
    return " ".join(part for part in parts if part)


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
