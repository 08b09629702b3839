include: "train_helpers.smk"


rule mixture:
    """One run's plan: its size, D, seq_len, seed, sources, proportions and repetition caps (the
    one carrier of the run's identity: train_run reads them from it)."""
    input:
        mixture_inputs,
    output:
        f"{run_dir('{run}')}/mixture.json",
    log:
        "logs/mixture/{run}.log",
    group:
        "run"
    conda:
        "../envs/data.yaml"
    resources:
        **run_group_resources("mixture_runtime"),
    params:
        args=mixture_args,
        proportions=allocation_proportions,
    shell:
        "codescale mixture {params.args} --out {output} > {log} 2>&1"


rule train_run:
    """Train one model on one mixture (size, D and seq_len: the plan's); resumes from the run's
    checkpoint_dir (common.smk) when it holds a checkpoint.

    Ranks: one process, or one per GPU (CPU: plan.cpu_tasks) started by `srun
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
        weights=f"{run_dir('{run}')}/model.safetensors",
        metrics=f"{run_dir('{run}')}/metrics.json",
        config=f"{run_dir('{run}')}/config.json",
    log:
        "logs/train/{run}.log",
    retries: TRAIN_RETRIES
    group:
        "run"
    conda:
        "../envs/train.yaml"
    threads: TRAIN["threads"]
    resources:
        **run_group_resources("train_runtime"),
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
    params:
        args=train_args,
        # The outputs' folder and the checkpoints' (common.smk's run_dir, checkpoint_dir), as
        # functions of the wildcards alone: Snakemake compares such params with a finished
        # run's (one of `output` it leaves out, so making it one would rerun every finished run).
        out=lambda wildcards: run_dir(wildcards.run),
        checkpoints=lambda wildcards: checkpoint_dir(wildcards.run),
    shell:
        f"{TRAIN_LAUNCH} codescale train --mixture {{input.mixture}}{TRAIN_OPTIONS}"


rule train:
    input:
        expand(rules.train_run.output.metrics, run=FIT_RUNS),
        lambda wildcards: expand(rules.train_run.output.metrics, run=advised_runs()),


for _family, _budgets in STABLE_BUDGETS.items():

    rule:
        name:
            f"train_stable_{_family}"
        input:
            shards=_stable(_family, lambda st: train_inputs(SimpleNamespace(run=st.runs[0]))),
            val=[shard_done(lang, "validation") for lang in LANGS],
        output:
            mixture=f"{stable_dir(_family)}/mixture.json",
            metrics=f"{stable_dir(_family)}/metrics.json",
            branches=[
                temp(
                    directory(branch_dir(f"{_family}/{{cell}}/{{size}}_d{cs_study.fmt_count(d)}"))
                )
                for d in _budgets
            ],
        log:
            f"logs/train/{_family}/{{cell}}/{{size}}_stable.log",
        wildcard_constraints:
            cell="[^/]+",
            size="[^/_]+",
        retries: STABLE_RETRIES
        conda:
            "../envs/train.yaml"
        threads: TRAIN["threads"]
        resources:
            **stable_resources(_family),
        params:
            mixture_args=_stable(_family, stable_mixture_args),
            args=_stable(_family, lambda st: train_args_of(st.name)),
            out=stable_dir(_family),
            checkpoints=checkpoint_dir(f"stable/{_family}/{{cell}}/{{size}}"),
        shell:
            f"codescale mixture {{params.mixture_args}} --out {{output.mixture}} > {{log}} 2>&1"
            f" && {TRAIN_LAUNCH} codescale train --mixture {{output.mixture}}{TRAIN_OPTIONS}"
