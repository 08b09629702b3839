rule mixture:
    """One run's sampling plan: sources, proportions, repetition caps, seed."""
    input:
        mixture_inputs,
    output:
        f"{RESULTS}/runs/{{run}}/mixture.json",
    log:
        "logs/mixture/{run}.log",
    params:
        args=mixture_args,
    shell:
        "codescale mixture {params.args} --out {output} > {log} 2>&1"


rule train_run:
    """Train one model on one mixture; resumes from results/checkpoints/{run} when it exists.

    At a time limit or preemption Slurm sends SIGTERM to the job's processes: training writes a
    checkpoint and exits, and the profile's global retries resubmit the job to resume. (No early
    `--signal=USR1`: the executor's jobstep process does not handle it and dies, taking the step
    with it.)
    """
    input:
        mixture=rules.mixture.output,
        shards=mixture_inputs,
        val=[shard_done(lang, "validation") for lang in LANGS],
    output:
        weights=f"{RESULTS}/runs/{{run}}/model.safetensors",
        metrics=f"{RESULTS}/runs/{{run}}/metrics.json",
        config=f"{RESULTS}/runs/{{run}}/config.json",
    log:
        "logs/train/{run}.log",
    threads: TRAIN["threads"]
    resources:
        gpu=resource("gpus"),
        nodes=resource("nodes"),
        tasks=resource("tasks"),
        tasks_per_gpu=resource("tasks_per_gpu"),
        cpus_per_task=resource("cpus_per_task"),
        mem_mb=resource("mem_mb"),
        runtime=resource("runtime"),
        slurm_partition=resource("slurm_partition"),
    params:
        args=train_args,
        out=f"{RESULTS}/runs/{{run}}",
        checkpoints=f"{RESULTS}/checkpoints/{{run}}",
    shell:
        # Multi-GPU jobs run one srun task per GPU (Lightning reads the ranks from Slurm).
        "$(test {resources.tasks} -gt 1 && echo srun -n {resources.tasks})"
        " codescale train --mixture {input.mixture} {params.args}"
        " --threads {threads} --out-dir {params.out}"
        " --checkpoint-dir {params.checkpoints} >> {log} 2>&1"


rule train:
    input:
        expand(rules.train_run.output.metrics, run=RUNS),
