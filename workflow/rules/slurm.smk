# Slurm: the resources of every job, in one place (the profile holds the executor's settings).
#
# A run's mixture, training and evaluation form one group job ("run"): one Slurm submission per
# run, evaluated on the GPUs it trained on. Multi-rank runs set the `mpi` resource, so the jobstep
# plugin does not wrap the job in its own one-task `srun` step (which would hold the allocation
# and make a second step wait forever); the train rule's own `srun --ntasks-per-node` then starts
# one rank per GPU, and Lightning reads the ranks from Slurm's environment. Every rule of the group
# carries the same string resources (Snakemake requires it of group jobs).
import functools
import math

from codescale import plan as cs_plan

SLURM = config["slurm"]
# Slurm settings that only say where jobs go: no plan, artifact or cost depends on them.
SLURM_PLACEMENT = ("train_partition", "cpu_partition", "account")


# The launcher of a run's training job and of a stable run's (WSD branches; train.smk): one rank,
# or one per GPU started by srun (inside a Slurm job; the jobstep plugin's own srun is off, see
# above) or torchrun on one machine, with the plan's layout as resources.
TRAIN_LAUNCH = (
    "launch=; if [ {resources.ranks} -gt 1 ]; then"
    ' if [ -n "${{SLURM_JOB_ID:-}}" ]; then'
    " launch='srun --kill-on-bad-exit=1 --nodes={resources.nodes}"
    " --ntasks-per-node={resources.ranks_per_node} --cpus-per-task={resources.cpus_per_task}';"
    " else launch='torchrun --standalone --no-python --nproc-per-node={resources.ranks}'; fi;"
    " fi;"
    " $launch"
)


def book_slurm_resources(all_rules):
    """Called by the Snakefile after its includes. Each job runs on the CPU partition unless its
    rule names another (training asks for GPUs), under the account if one is set; data jobs get
    memory and time from their input sizes (data_resources)."""
    for each in all_rules:
        each.resources.update(data_resources(each.name))
        each.resources.setdefault("slurm_partition", SLURM["cpu_partition"])
        if SLURM["account"]:
            each.resources.setdefault("slurm_account", SLURM["account"])


# Data jobs: memory and time from the size of their inputs, by the coefficients the printed
# data plan also uses (codescale.plan: DATA_SCALING, DATA_SIZED_BY, DATA_HELD_WHOLE).
DATA_SCALING = cs_plan.DATA_SCALING
DATA_SIZED_BY = cs_plan.DATA_SIZED_BY
DATA_HELD_WHOLE = cs_plan.DATA_HELD_WHOLE


def _input_mb(paths):
    """MB on disk of one path or a list of them (a directory: every file under it)."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    total = 0
    for path in paths:
        if os.path.isdir(path):
            total += sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
        elif os.path.exists(path):
            total += os.path.getsize(path)
    return total / 2**20


@functools.cache
def run_resources(name):
    """The plan of one training run (Snakefile's PLAN, codescale.plan) in its Slurm form."""
    res = dict(PLAN[name] if name in PLAN else PLAN[run_spec(name).name])  # runs, stable runs
    multi = res["tasks"] > 1
    res["mpi"] = "srun" if multi else ""  # a key present, even empty: no jobstep srun wrapper
    res["slurm_tasks"] = 0 if multi else 1  # the plugin takes tasks or tasks_per_node, not both
    res["slurm_tasks_per_node"] = res["tasks_per_node"] if multi else 0
    res["fsdp"] = int(res["strategy"] == "fsdp")
    res["act_ckpt"] = int(res["activation_checkpointing"])
    res["slurm_partition"] = SLURM["train_partition"] if res["gpus"] else SLURM["cpu_partition"]
    res["stop_grace_s"] = SLURM["stop_grace_s"]
    # Training stops early enough for the grace, then the evaluation in the same job.
    res["stop_before_end_s"] = SLURM["stop_grace_s"] + 60 * res["eval_runtime"]
    res["train_runtime"] = res["runtime"] + res["eval_runtime"]  # see plan._resources
    return res


def resource(key):
    return lambda wildcards: run_resources(wildcards.run)[key]


# Resubmissions of a group job: its planned segments plus slurm.retries real failures. Only the
# main process resubmits; inside a job (the jobstep's snakemake) a retry would rerun the step in
# the same allocation, after the time limit it was stopped for.
TRAIN_RETRIES = (
    max((run_resources(name)["retries"] for name in RUNS), default=0)
    if workflow.is_main_process
    else 0
)


def run_group_resources(runtime_key):
    """Resources that each of a run's group job's rules carries (strings must agree within a
    group, and a group job books the largest memory and CPUs of its rules, profile defaults
    included). `snakemake --lint` takes the word for a rule followed, on the same line, by a colon
    for a rule definition (and this file for one mixing rules and functions), hence the wording."""
    return dict(
        mpi=resource("mpi"),
        slurm_partition=resource("slurm_partition"),
        mem_mb=resource("mem_mb"),
        cpus_per_task=resource("cpus_per_task"),
        runtime=resource(runtime_key),
    )


def data_resources(name):
    """mem_mb and runtime of a data rule's jobs from their input sizes (nothing for other rules);
    each resubmission gets 50% more of both, the runtime never above slurm.max_runtime_h."""
    if name not in DATA_SCALING:
        return {}
    base, per_mb, mb_per_min = DATA_SCALING[name]
    sized_by = DATA_SIZED_BY.get(name)
    held, held_per_mb = DATA_HELD_WHOLE.get(name, (None, 0.0))

    def size_mb(input):
        return input.size_mb if sized_by is None else _input_mb(getattr(input, sized_by))

    def held_mb(input):
        return 0.0 if held is None else held_per_mb * _input_mb(getattr(input, held))

    return dict(
        mem_mb=lambda wildcards, input, attempt: int(
            (base + per_mb * size_mb(input) + held_mb(input)) * (1 + 0.5 * (attempt - 1))
        ),
        runtime=lambda wildcards, input, attempt: min(
            int((10 + size_mb(input) / mb_per_min) * (1 + 0.5 * (attempt - 1))),
            int(SLURM["max_runtime_h"] * 60),  # the partition's limit, at any attempt
        ),
    )


def train_inputs(wildcards):
    """The token shards a run reads (its mixture.json names them; the allocation it was planned
    from is the mixture rule's input, not training's)."""
    return [f for f in mixture_inputs(wildcards) if f != ALLOCATION]


def slurm_submissions():
    """(run jobs incl. segments, other jobs): an upper bound of the study's Slurm submissions.

    Every run (and WSD stable run) is one group job per segment; every other non-local rule is one job per value of
    its wildcards (languages, languages x splits, runs) or one job.
    """
    count = {
        frozenset(): 1,
        frozenset({"lang"}): len(LANGS),
        frozenset({"lang", "split"}): len(LANGS) * len(SPLITS),
        frozenset({"run"}): len(RUNS),
        # the data half per part (split_parts(): corpus.part_mb groups of the input)
        frozenset({"part"}): len(split_parts()),
        frozenset({"lang", "part"}): len(LANGS) * len(split_parts()),
        frozenset({"lang", "split", "part"}): len(LANGS) * len(SPLITS) * len(split_parts()),
    }
    per_run_jobs = {"execute_run": len(EXEC_RUNS)}  # only the runs of execute.studies
    other = sum(
        per_run_jobs.get(rule.name, count[frozenset(rule.wildcard_names)])
        for rule in workflow.rules
        if rule._group != "run"
        and not rule.norun
        and rule.name not in workflow._localrules
        and rule.name not in STABLE_RULES  # WSD stable runs: in PLAN, with the runs
    )
    return sum(row["segments"] for row in PLAN.values()), other


def execute_resources():
    """An executed run's job (its own submission, only for execute.studies): the model generates
    on one of the GPUs it trained on (CPU for CPU runs), the sandboxes use `execute.workers`
    CPUs; time for every program to hit its wall-clock limit, capped at the partition limit."""
    limits = EXEC["limits"]
    tasks = EXEC["max_tasks"] or PAR["heldout_tasks"]
    programs = tasks * len(EXEC["languages"] or LANGS) * EXEC["n_samples"]
    worst = programs * limits["wall_s"] / EXEC["workers"] / 60
    minutes = min(math.ceil(10 + worst), int(SLURM["max_runtime_h"] * 60))
    return dict(
        gpu=lambda wildcards: min(1, run_resources(wildcards.run)["gpus"]),
        slurm_partition=resource("slurm_partition"),
        mem_mb=lambda wildcards: max(8000, 2 * limits["memory_mb"] * EXEC["workers"]),
        runtime=minutes,
    )
