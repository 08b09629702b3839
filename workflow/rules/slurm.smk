# Slurm: the resources of every job, in one place (the profile holds the executor's settings).
import functools

from codescale import plan as cs_plan


@functools.cache
def run_resources(name, attempt):
    """Slurm resources of one training job; a resubmission (preemption, time limit) gets more
    time on each attempt."""
    run = RUNS[name]
    res = cs_plan.train_resources(
        run.size,
        run.tokens,
        TOK["vocab_size"],
        TRAIN["seq_len"],
        config["slurm"],
        config["plan"],
    )
    res["runtime"] = int(res["runtime"] * attempt)
    res["tasks_per_gpu"] = (
        1 if res["gpus"] else 0
    )  # the plugin's pattern for one task per GPU
    res["slurm_partition"] = (
        config["slurm"]["train_partition"]
        if res["gpus"]
        else config["slurm"]["cpu_partition"]
    )
    return res


def resource(key):
    return lambda wildcards, attempt: run_resources(wildcards.run, attempt)[key]
