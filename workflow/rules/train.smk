from types import SimpleNamespace

from codescale.train.sampler import PERIOD as SAMPLER_PERIOD


def allocation_proportions(wildcards):
    """What the optimised allocation run trains on, as a param: its proportions at the sampler's
    resolution (1/65536). A refit that leaves them unchanged (`--forcerun fit`, other fit
    settings) rewrites allocation.json but retrains nothing; other runs have none."""
    if run_spec(wildcards.run).weights is not None:
        return ""
    with open(checkpoints.allocate.get().output[0]) as fh:
        proportions = json.load(fh)["proportions"]
    return json.dumps({k: round(v * SAMPLER_PERIOD) for k, v in sorted(proportions.items())})


# The training command of a run's job and of a stable run's (WSD branches): one rank, or one per
# GPU started by srun (inside a Slurm job) or torchrun, with the plan's layout as resources.
TRAIN_LAUNCH = (
    "launch=; if [ {resources.ranks} -gt 1 ]; then"
    " if [ -n \"${{SLURM_JOB_ID:-}}\" ]; then"
    " launch='srun --kill-on-bad-exit=1 --nodes={resources.nodes}"
    " --ntasks-per-node={resources.ranks_per_node} --cpus-per-task={resources.cpus_per_task}';"
    " else launch='torchrun --standalone --no-python --nproc-per-node={resources.ranks}'; fi;"
    " fi;"
    " $launch"
)
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
    """The stable run's mixture: its first run's sources and seed, the largest budget as D."""
    run = RUNS[stable.runs[0]]
    return flags(
        run=stable.name,
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


rule mixture:
    """One run's sampling plan: sources, proportions, repetition caps, seed."""
    input:
        mixture_inputs,
    output:
        f"{RESULTS}/runs/{{run}}/mixture.json",
    log:
        "logs/mixture/{run}.log",
    group:
        "run"
    resources:
        **run_group_resources("mixture_runtime"),
    params:
        args=mixture_args,
        proportions=allocation_proportions,
    shell:
        "codescale mixture {params.args} --out {output} > {log} 2>&1"


rule train_run:
    """Train one model on one mixture; resumes from results/checkpoints/{run} when it exists.

    Ranks: one process, or one per GPU (CPU: slurm.cpu_tasks) started by `srun
    --ntasks-per-node` inside a Slurm job, or by `torchrun --standalone` on one machine. The
    layout (strategy, micro-batch, activation checkpointing) comes from the plan as resources, so a
    different cluster changes how a run is computed, not what it computes. Training checkpoints
    and exits 75 at SIGTERM or `slurm.stop_grace_s` before the job's time limit; the resubmitted
    job (global retries: planned segments + slurm.retries) resumes from the checkpoint.

    With WSD branches (train.schedule: wsd) a run of a stable run's cell is its cooldown: it
    starts from its branch checkpoint (the `branch` input, --init-from) and trains the last
    train.cooldown_fraction of its steps.
    """
    input:
        mixture=rules.mixture.output,
        shards=train_inputs,
        val=[shard_done(lang, "validation") for lang in LANGS],
        branch=branch_input,
    output:
        weights=f"{RESULTS}/runs/{{run}}/model.safetensors",
        metrics=f"{RESULTS}/runs/{{run}}/metrics.json",
        config=f"{RESULTS}/runs/{{run}}/config.json",
    log:
        "logs/train/{run}.log",
    group:
        "run"
    threads: TRAIN["threads"]
    retries: TRAIN_RETRIES
    resources:
        gpu=resource("gpus"),
        nodes=resource("nodes"),
        tasks=resource("slurm_tasks"),
        tasks_per_node=resource("slurm_tasks_per_node"),
        ranks=resource("tasks"),
        ranks_per_node=resource("tasks_per_node"),
        micro_batch=resource("micro_batch"),
        fsdp=resource("fsdp"),
        act_ckpt=resource("act_ckpt"),
        stop_grace_s=resource("stop_grace_s"),
        stop_before_end_s=resource("stop_before_end_s"),
        **run_group_resources("train_runtime"),
    params:
        args=train_args,
        out=lambda wildcards: f"{RESULTS}/runs/{wildcards.run}",
        checkpoints=lambda wildcards: f"{RESULTS}/checkpoints/{wildcards.run}",
    shell:
        f"{TRAIN_LAUNCH} codescale train --mixture {{input.mixture}}{TRAIN_OPTIONS}"


rule train:
    input:
        expand(rules.train_run.output.metrics, run=RUNS),


for _family, _budgets in STABLE_BUDGETS.items():

    rule:
        name:
            f"train_stable_{_family}"
        input:
            shards=_stable(_family, lambda st: train_inputs(SimpleNamespace(run=st.runs[0]))),
            val=[shard_done(lang, "validation") for lang in LANGS],
        output:
            mixture=f"{RESULTS}/stable/{_family}/{{cell}}/{{size}}/mixture.json",
            metrics=f"{RESULTS}/stable/{_family}/{{cell}}/{{size}}/metrics.json",
            branches=[
                temp(directory(branch_dir(f"{_family}/{{cell}}/{{size}}_d{cs_study.fmt_count(d)}")))
                for d in _budgets
            ],
        log:
            f"logs/train/{_family}/{{cell}}/{{size}}_stable.log",
        wildcard_constraints:
            cell="[^/]+",
            size="[^/_]+",
        threads: TRAIN["threads"]
        retries: STABLE_RETRIES
        resources:
            **stable_resources(_family),
        params:
            mixture_args=_stable(_family, stable_mixture_args),
            args=_stable(_family, lambda st: train_args_of(st.name)),
            out=f"{RESULTS}/stable/{_family}/{{cell}}/{{size}}",
            checkpoints=f"{RESULTS}/checkpoints/stable/{_family}/{{cell}}/{{size}}",
        shell:
            f"codescale mixture {{params.mixture_args}} --out {{output.mixture}} > {{log}} 2>&1"
            f" && {TRAIN_LAUNCH} codescale train --mixture {{output.mixture}}{TRAIN_OPTIONS}"
