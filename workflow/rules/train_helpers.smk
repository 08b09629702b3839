# Helpers of workflow/rules/train.smk (allocation proportions, the trainer options, WSD stable
# runs and their branches); kept apart so that the rule file holds rules only.
from types import SimpleNamespace

from codescale.train.sampler import PERIOD as SAMPLER_PERIOD


def allocation_proportions(wildcards):
    """What the optimised allocation run trains on, as a param: its proportions at the sampler's
    resolution (1/65536). A refit that leaves them unchanged (`--forcerun fit`, other fit
    settings) rewrites allocation.json but retrains nothing; other runs have none."""
    if not run_spec(wildcards.run).from_advice:
        return ""
    with open(checkpoints.allocate.get().output[0]) as fh:
        proportions = json.load(fh)["proportions"]
    return json.dumps({k: round(v * SAMPLER_PERIOD) for k, v in sorted(proportions.items())})


def advised_runs(wildcards=None):
    """The optimised allocation runs the study trains (the runs not in FIT_RUNS): none when the
    advised proportions are the uniform runs' at the sampler's resolution (the law declined to
    advise), as they would repeat the uniform runs weight for weight (same mixture, same seeds:
    measured +0.0000 nats/token; at paper scale ~2,900 H800-hours for nothing); the report then
    measures the advice with the uniform runs. An input function: it waits for the allocation
    checkpoint, so the rules that use it list FIT_RUNS' files statically beside it (the dry run
    shows those jobs before the fits exist)."""
    waiting = [name for name in RUNS if name not in FIT_RUNS]
    if not waiting:
        return []
    advised = json.loads(allocation_proportions(SimpleNamespace(run=waiting[0])))
    uniform = next(run.weights for run in RUNS.values() if run.strategy == "uniform")
    same = advised == {k: round(v * SAMPLER_PERIOD) for k, v in sorted(uniform.items())}
    return [] if same else waiting


TRAIN_OPTIONS = (
    " {params.args}"
    " --micro-batch-size {resources.micro_batch}"
    " $(test {resources.fsdp} = 1 && echo --strategy fsdp)"
    " $(test {resources.act_ckpt} = 1 && echo --activation-checkpointing)"
    " --stop-grace-s {resources.stop_grace_s}"
    " --stop-before-end-s {resources.stop_before_end_s}"
    " --threads {threads} --out-dir {params.out}"
    " --checkpoint-dir {params.checkpoints} >> {log} 2>&1"
)


# WSD cooldown branches (train.schedule: wsd; codescale.study.stables, codescale.train.hparams):
# per (study cell, size) with several budgets one stable job trains at the constant LR to the
# largest branch point and writes one branch checkpoint per budget (a declared, temporary output:
# deleted once its cooldown is done, as at paper scale each is 16 bytes per parameter); each
# budget's train_run job is then a cooldown from it, under the run's own name, so mixture,
# evaluate, collect and the fits are unchanged. One rule per study family (its outputs are one
# per budget, and the budgets are the family's). A stable job that runs again (a budget added, a
# changed setting) reruns all its cooldowns: Snakemake reruns the consumers of every job it runs.
STABLES = {st.name: st for st in cs_study.stables(config, list(RUNS.values()))}
BRANCHES = cs_study.branch_of(list(STABLES.values()))  # run name -> (stable, budget)
STABLE_BUDGETS = {}  # study family -> its budgets (one tuple per family)
for _st in STABLES.values():
    STABLE_BUDGETS.setdefault(_st.study, set()).add(_st.budgets)
for _family, _sets in STABLE_BUDGETS.items():
    if len(_sets) != 1:
        raise WorkflowError(f"WSD branches: the {_family} runs have different budget lists")
STABLE_BUDGETS = {family: next(iter(sets)) for family, sets in STABLE_BUDGETS.items()}
STABLE_RULES = {f"train_stable_{family}" for family in STABLE_BUDGETS}
STABLE_RETRIES = (
    max((run_resources(name)["retries"] for name in STABLES), default=0)
    if workflow.is_main_process
    else 0
)


def stable_dir(family):
    """The folder of a family's stable runs (mixture.json, metrics.json), with the {cell} and
    {size} wildcards of its rule (train.smk)."""
    return f"{RESULTS}/stable/{family}/{{cell}}/{{size}}"


def branch_dir(run_name):
    """Where the branch checkpoint of a run (a cooldown) is written by its stable run."""
    return f"{RESULTS}/branches/{run_name}"


def branch_input(wildcards):
    return [branch_dir(wildcards.run)] if wildcards.run in BRANCHES else []


def wsd_flags(name):
    """The WSD options of `codescale train` for a run or stable run (none with cosine, so those
    runs' params do not change): the cooldown fraction; with branches one warmup for every
    budget (warmup_fraction of the smallest, in tokens) and the branch points (a stable run) or
    the branch checkpoint to start from (a cooldown)."""
    if TRAIN["schedule"] != "wsd":
        return {}
    options = {"decay_fraction": TRAIN["cooldown_fraction"]}
    stable = STABLES.get(name) or (BRANCHES[name][0] if name in BRANCHES else None)
    if stable is not None:
        options["warmup_tokens"] = stable.warmup_tokens(TRAIN["warmup_fraction"])
    if name in STABLES:
        options["branch"] = [
            f"{tokens}={branch_dir(run)}" for run, tokens in zip(stable.runs, stable.budgets)
        ]
    elif name in BRANCHES:
        options["init_from"] = branch_dir(name)
    return options


def _stable(family, fn):
    """fn(stable) as an input/param/resource function of a family's stable rule."""
    return lambda wildcards: fn(
        STABLES[f"{family}/{wildcards.cell}/{wildcards.size}{cs_study.STABLE_SUFFIX}"]
    )


def stable_mixture_args(stable):
    """The stable run's mixture: its size, its first run's sources and seed, the largest budget
    as D (the plan carries them to `codescale train`, as a run's: mixture_args)."""
    run = RUNS[stable.runs[0]]
    return flags(
        run=stable.name,
        size=stable.size,
        spec_json=json.dumps(
            {"stable": stable.name, "runs": list(stable.runs), "budgets": list(stable.budgets)}
        ),
        source=mixture_sources(run),
        tokens=stable.tokens,
        seed=run.seed,
        seq_len=TRAIN["seq_len"],
    )


def stable_resources(family):
    """train_run's resources, from the stable run's plan row (codescale.plan.plan_branches)."""
    keys = dict(
        gpu="gpus", nodes="nodes", tasks="slurm_tasks", tasks_per_node="slurm_tasks_per_node",
        ranks="tasks", ranks_per_node="tasks_per_node", micro_batch="micro_batch", fsdp="fsdp",
        act_ckpt="act_ckpt", stop_grace_s="stop_grace_s", stop_before_end_s="stop_before_end_s",
        mpi="mpi", slurm_partition="slurm_partition", mem_mb="mem_mb",
        cpus_per_task="cpus_per_task", runtime="train_runtime",
    )  # fmt: skip
    return {
        resource_key: _stable(family, lambda st, k=plan_key: run_resources(st.name)[k])
        for resource_key, plan_key in keys.items()
    }
