# codescale: multilingual code scaling laws, from source code to the paper's figures.
# The DAG (one rule file per stage in workflow/rules/, helpers in common.smk):
#   corpus -> dedup -> split -> tokenizer -> tokenize -+
#   parallel data -> parallel_tasks -> pairs ----------+-> mixture -> train -> evaluate -> collect
#   collect -> fit -> allocate -> (allocation/optimised run) -> figures / report
import os
import sys

from snakemake.utils import min_version

from codescale import catalog as cs_catalog
from codescale import config as cs_config
from codescale import plan as cs_plan
from codescale import study as cs_study
from codescale.errors import CodescaleError

min_version("9.0")

# Rules call the project's own `codescale` command: the one installed beside the Python running
# Snakemake (the project's .venv), whatever the caller activated (`bash scripts/study.sh` activates
# nothing). Slurm jobs re-run this file with the same interpreter, so they find it the same way.
# (PATH is always set, so it needs no `envvars:` assertion.)
_BIN = os.path.dirname(sys.executable)
os.environ.update(
    PATH=os.pathsep.join(
        [_BIN, *(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != _BIN)]
    ),
    # With `--software-deployment-method conda` the rules' environments (workflow/envs/) install
    # this checkout with pip from ${CODESCALE_PROJECT_DIR}: Snakemake copies an env file before
    # creating it, so the env file cannot name the checkout by a relative path.
    CODESCALE_PROJECT_DIR=workflow.basedir,
)


# The default study, unless the command line names its own config file(s): then those alone
# (plus schema defaults) define the study, so keys of the default study never leak into it.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


try:
    cs_config.validate(config)
except CodescaleError as err:
    sys.exit(f"codescale: {err}")

LANGS = list(config["languages"])
SPLITS = ("train", "validation", "test")
RUNS = cs_study.by_name(cs_study.expand(config))

try:  # every run's resources and parallel layout (workflow/rules/slurm.smk turns them into jobs)
    PLAN = {row["run"]: row for row in cs_plan.plan_study(config, RUNS.values())}
except CodescaleError as err:
    sys.exit(f"codescale: {err}")

if workflow.is_main_process:  # the plan and its cost, before anything runs
    print(
        cs_plan.format_table(cs_plan.summarise(PLAN.values()), config["cluster"]["card"]),
        file=sys.stderr,
    )
    _saving = cs_plan.format_branch_saving(list(PLAN.values()), config["cluster"]["card"])
    if _saving:  # WSD branches (train.schedule: wsd): their cost against separate runs
        print(_saving, file=sys.stderr)
    print(cs_plan.format_layout_table(list(PLAN.values())), file=sys.stderr)


report: "workflow/report/workflow.rst"


wildcard_constraints:
    lang="|".join(LANGS),
    split="|".join(SPLITS),
    run=f"({'|'.join(cs_catalog.STUDIES)})/[^/]+/[^/]+",


include: "workflow/rules/common.smk"
include: "workflow/rules/slurm.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/dedup.smk"
include: "workflow/rules/split.smk"
include: "workflow/rules/tokenizer.smk"
include: "workflow/rules/pairs.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/execute.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/figures.smk"


book_slurm_resources(workflow.rules)  # workflow/rules/slurm.smk: partitions, data-job sizes


if workflow.is_main_process:
    _run_jobs, _other_jobs = slurm_submissions()
    print(
        f"Slurm submissions: {_run_jobs} run jobs (mixture + training + evaluation, segments"
        f" included) + at most {_other_jobs} other jobs",
        file=sys.stderr,
    )
    try:  # the data half: jobs, memory and hours per data rule (codescale.plan.data_plan)
        print(cs_plan.data_plan_text(config, DATA_SCALING, corpus_input_mb()), file=sys.stderr)
    except CodescaleError as err:
        print(f"no data plan: {err}", file=sys.stderr)


rule all:
    default_target: True
    input:
        rules.figures.output,
