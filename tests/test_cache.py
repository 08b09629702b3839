"""The cache contract, key by key: change one config value and exactly the jobs that depend on it
rerun (the job DAG of the completed smoke study, as `snakemake --dag` draws it, says which).

The expectation lives in the config schema, once per leaf key (workflow/schemas/
config.schema.yaml): `x-reruns: [rule, ...]` names the rules whose jobs the key changes directly;
the expected set of rules is those plus the rules of every job downstream of their rerun jobs in
the job DAG of the changed study. `x-reruns: []` says the key changes no artifact (Slurm
partitions, threads, caches). A leaf key without `x-reruns` fails
`test_every_leaf_key_declares_its_reruns`. The changed value is derived from the schema (a boolean
flipped, a number nudged up, the next enum member, a list's last item dropped, a string
extended); `x-test-value` gives it where that would be invalid or no change for the smoke study.

Plus: the checkout moved (or reached through a symlink) reruns nothing; a corpus file edited or
added reruns the corpus and everything downstream of it.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, snakemake

from codescale import config as cs_config

pytestmark = pytest.mark.workflow

SCHEMA = cs_config.load_schema()
SMOKE = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
TARGETS = ("all", "plan")  # the plan is no input of `all`, but its keys must rerun it
NO_OUTPUT = {"all"}  # rules with no output: scheduled whenever anything is


def _resolve(sub: dict[str, Any]) -> dict[str, Any]:
    """A property schema with its `$ref` (to #/$defs/...) merged in."""
    ref = sub.get("$ref")
    if not ref:
        return sub
    target = SCHEMA
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return {**_resolve(target), **{k: v for k, v in sub.items() if k != "$ref"}}


def leaf_keys(schema: dict[str, Any] = SCHEMA, prefix: str = "") -> dict[str, dict[str, Any]]:
    """Dotted key -> property schema of every leaf: a property with no `properties` of its own
    (an object with only additionalProperties, like corpus.language_map, is one leaf)."""
    leaves = {}
    for key, sub in schema.get("properties", {}).items():
        dotted = f"{prefix}{key}"
        if "properties" in sub:
            leaves.update(leaf_keys(sub, f"{dotted}."))
        else:
            leaves[dotted] = _resolve(sub)
    return leaves


LEAVES = leaf_keys()


def _get(config: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        config = config[part]
    return config


def _set(config: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        config = config.setdefault(part, {})
    config[last] = value


def changed_value(current: Any, sub: dict[str, Any]) -> Any:
    """A valid value different from `current`, derived from the key's schema."""
    if "x-test-value" in sub:
        return sub["x-test-value"]
    types = sub.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "enum" in sub:
        values = sub["enum"]
        return values[(values.index(current) + 1) % len(values)]
    if isinstance(current, bool):
        return not current
    if isinstance(current, int) and "integer" in types:
        up = current + 1
        return up if up <= sub.get("maximum", up) else current - 1
    if isinstance(current, (int, float)):
        up = current * 1.1
        top = sub.get("maximum", sub.get("exclusiveMaximum"))
        return round(up, 12) if top is None or up < top else current * 0.9
    if isinstance(current, str):
        return current + "x"
    if isinstance(current, list) and len(current) > sub.get("minItems", 0):
        return current[:-1]
    if current is None and "number" in types:
        return 0.001
    if current is None and "integer" in types:
        return max(sub.get("minimum", 1), 1)
    if current is None and "string" in types:
        return "x"
    raise AssertionError(f"no generic change for {current!r}: give the key an x-test-value")


class JobDag:
    """The job DAG of a dry run (`snakemake --dag dot`): each job's rule, the jobs that consume
    its outputs, and the jobs that would run (Snakemake draws the others dashed)."""

    def __init__(self, dot: str):
        nodes = re.findall(r'^\s*(\d+)\[label = "(\w+)[^\n]*$', dot, re.M)
        self.rule = dict(nodes)
        self.needrun = {
            job for job in self.rule if not re.search(rf"^\s*{job}\[.*style=\S*dashed", dot, re.M)
        }
        self.consumers: dict[str, set[str]] = {job: set() for job in self.rule}
        for src, dst in re.findall(r"^\s*(\d+) -> (\d+)", dot, re.M):
            self.consumers[src].add(dst)

    def scheduled(self) -> set[str]:
        """The rules with a job to run (rules with no output left out)."""
        return {self.rule[job] for job in self.needrun} - NO_OUTPUT

    def expected(self, rules: set[str]) -> set[str]:
        """`rules` plus the rules of every job downstream of their jobs that run."""
        todo = [job for job in self.needrun if self.rule[job] in rules]
        seen = set(todo)
        while todo:
            for nxt in self.consumers[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return (set(rules) | {self.rule[job] for job in seen}) - NO_OUTPUT


def job_dag(workdir: Path, *args: str) -> JobDag:
    proc = snakemake(workdir, "--dag", "dot", "--nolock", *args, targets=TARGETS, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return JobDag(proc.stdout)


def scheduled(workdir: Path, *args: str) -> set[str]:
    """The rules a run in `workdir` would run (rules with no output left out)."""
    return job_dag(workdir, *args).scheduled()


def test_every_leaf_key_declares_its_reruns():
    missing = [key for key, sub in LEAVES.items() if "x-reruns" not in sub]
    assert not missing, (
        "config keys without x-reruns in workflow/schemas/config.schema.yaml (the rules a change "
        f"of the key reruns; [] = none): {', '.join(missing)}"
    )


@pytest.fixture(scope="module")
def cache_dir(smoke_run: Path, tmp_path_factory) -> Path:
    """A copy of the completed smoke study (checkout and results, mtimes kept)."""
    dest = tmp_path_factory.mktemp("cache") / "codescale"
    shutil.copytree(smoke_run, dest, symlinks=True)
    if (smoke_run.parent / "shared").exists():
        os.symlink(os.readlink(smoke_run.parent / "shared"), dest.parent / "shared")
    return dest


@pytest.fixture(scope="module")
def rules_of_study(cache_dir: Path) -> set[str]:
    """Every rule with a job in the smoke study's DAG."""
    return set(job_dag(cache_dir).rule.values())


@pytest.fixture(scope="module")
def dags_by_key(cache_dir: Path, tmp_path_factory) -> dict[str, JobDag | str]:
    """Key -> the job DAG with that key changed (or why there is none), two dry runs at a
    time."""
    resolved = cs_config.validate(copy.deepcopy(SMOKE))
    configs = tmp_path_factory.mktemp("changed")

    def one(key: str) -> JobDag | str:
        changed = copy.deepcopy(SMOKE)
        try:
            current = _get(resolved, key)
            value = changed_value(current, LEAVES[key])
        except (KeyError, AssertionError) as err:
            return f"no changed value: {err!r}"
        if value == current:
            return f"the changed value {value!r} is the smoke study's own: change x-test-value"
        _set(changed, key, value)
        path = configs / f"{key}.yaml"
        path.write_text(yaml.safe_dump(changed))
        try:
            return job_dag(cache_dir, "--configfile", str(path))
        except AssertionError as err:
            return f"dry run failed: {err}"

    keys = [key for key, sub in LEAVES.items() if "x-reruns" in sub]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(keys, pool.map(one, keys), strict=True))


def test_complete_study_reruns_nothing(cache_dir: Path):
    assert scheduled(cache_dir) == set()


@pytest.mark.parametrize("key", [k for k, sub in LEAVES.items() if "x-reruns" in sub])
def test_changing_a_key_reruns_what_its_schema_declares(key, dags_by_key, rules_of_study):
    declared = set(LEAVES[key]["x-reruns"])
    dag = dags_by_key[key]
    assert not isinstance(dag, str), f"{key}: {dag}"
    # a changed value may bring rules of its own (train.schedule: wsd, the stable runs)
    unknown = declared - rules_of_study - set(dag.rule.values())
    assert not unknown, f"{key}: x-reruns names rules not in the smoke study: {sorted(unknown)}"
    got, expected = dag.scheduled(), dag.expected(declared)
    assert got == expected, (
        f"{key}: reruns {sorted(got)}; the schema declares {sorted(declared)}, so expected "
        f"{sorted(expected)} (missing: {sorted(expected - got)}, extra: {sorted(got - expected)})"
    )


def test_moved_checkout_reruns_nothing(cache_dir: Path, tmp_path):
    moved = tmp_path / "elsewhere" / "codescale"
    shutil.copytree(cache_dir, moved, symlinks=True)
    assert scheduled(moved) == set()


def test_checkout_through_a_symlink_reruns_nothing(cache_dir: Path, tmp_path):
    link = tmp_path / "home"
    link.symlink_to(cache_dir, target_is_directory=True)
    assert scheduled(link) == set()


def test_editing_or_adding_a_corpus_file_reruns_the_corpus_and_downstream(
    cache_dir: Path, tmp_path
):
    work = tmp_path / "edited" / "codescale"
    shutil.copytree(cache_dir, work, symlinks=True)
    source = next((work / "tests" / "data" / "corpus").rglob("*.go"))
    source.write_text(source.read_text() + "\n// edited\n")  # now: newer than the outputs
    dag = job_dag(work)
    expected = dag.expected({"corpus_part"})
    assert {"corpus_part", "corpus", "dedup_language", "tokenizer", "train_run", "figures"} <= (
        expected
    )
    assert dag.scheduled() == expected
    # a new file (older than the outputs, so only the changed set of inputs can tell)
    source.with_name("added.py").write_text("def added():\n    return 1\n")
    os.utime(source.with_name("added.py"), (0, 0))
    os.utime(source, (0, 0))
    assert scheduled(work) == expected


def _corpus_inputs(workdir: Path, config: dict[str, Any], tmp_path: Path) -> list[str]:
    """The inputs of the (one) corpus part job a dry run of `config` plans, as the dry run
    prints them."""
    path = tmp_path / "corpus.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(
        workdir, "-n", "--configfile", str(path), targets=("corpus",), snakefile=REPO / "Snakefile"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    job = (proc.stdout + proc.stderr).split("rule corpus_part:")[1]
    return re.search(r"^\s*input: (.*)$", job, re.M).group(1).split(", ")


def test_corpus_inputs_are_the_shards_a_glob_names_and_the_registry_list(tmp_path):
    shards = tmp_path / "stack" / "python"
    shards.mkdir(parents=True)
    for name in ("b.parquet", "a.parquet", "notes.txt"):
        (shards / name).write_text("")
    config = copy.deepcopy(SMOKE)
    config["corpus"] = {"source": "shards", "paths": [str(tmp_path / "stack" / "**" / "*.parquet")]}
    work = tmp_path / "work"
    work.mkdir()
    assert _corpus_inputs(work, config, tmp_path) == [
        str(shards / "a.parquet"),
        str(shards / "b.parquet"),
    ]
    config["corpus"] = {"source": "registry"}
    (listed,) = _corpus_inputs(work, config, tmp_path)
    assert (
        Path(work, listed).resolve()
        == (REPO / "src/codescale/data/registry_sources.yaml").resolve()
    )
