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
    """
    input:
        mixture=rules.mixture.output,
        shards=train_inputs,
        val=[shard_done(lang, "validation") for lang in LANGS],
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
        "launch=; if [ {resources.ranks} -gt 1 ]; then"
        " if [ -n \"${{SLURM_JOB_ID:-}}\" ]; then"
        " launch='srun --kill-on-bad-exit=1 --nodes={resources.nodes}"
        " --ntasks-per-node={resources.ranks_per_node} --cpus-per-task={resources.cpus_per_task}';"
        " else launch='torchrun --standalone --no-python --nproc-per-node={resources.ranks}'; fi;"
        " fi;"
        " $launch codescale train --mixture {input.mixture} {params.args}"
        " --micro-batch-size {resources.micro_batch}"
        " $(test {resources.fsdp} = 1 && echo --strategy fsdp)"
        " $(test {resources.act_ckpt} = 1 && echo --activation-checkpointing)"
        " --stop-grace-s {resources.stop_grace_s}"
        " --stop-before-end-s {resources.stop_before_end_s}"
        " --threads {threads} --out-dir {params.out}"
        " --checkpoint-dir {params.checkpoints} >> {log} 2>&1"


rule train:
    input:
        expand(rules.train_run.output.metrics, run=RUNS),
