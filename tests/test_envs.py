"""The workflow's conda environments (workflow/envs/, issue 14) against pyproject.toml.

pyproject.toml is the one list of Python dependencies and pins: a light core plus one extra per
stage group (data, train, laws). Each env file installs this checkout with one extra, and each
rule that runs a command names its env with `conda:`. These tests check, without conda (its
channels are not reachable here), that

- every such rule of the workflow (Snakemake's own `--list-rules`, WSD stable rules included)
  has `conda:` naming an existing env file, and rules that run nothing have none to need;
- every env file names an extra that exists, in the same form (channels, python, pip);
- the env extras (with the core) hold every runtime dependency, and `all` is exactly their union;
- each rule's env provides every third-party module that the `codescale` stages of its shell
  command import (an AST walk through the codescale modules they import, at any depth: imports
  inside functions count, optional ones with an `except ImportError` fallback do not), names
  mapped to distributions by the installed metadata (yaml -> PyYAML);
- the Snakefile's own codescale imports need only the core (plus Snakemake: extra `workflow`);
- `snakemake --lint` finds nothing.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml
from conftest import REPO, snakemake
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from codescale.cli import COMMANDS

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = PYPROJECT["optional-dependencies"]
ENVS = REPO / "workflow" / "envs"
SRC = REPO / "src"
# Extras that no job's env installs, and why: the Snakemake driver (it runs the Snakefile, not
# jobs), the test tools, the optional flash-attn (imported under `except ImportError`).
NOT_IN_JOBS = {"workflow", "dev", "cuda"}
PIP_LINE = re.compile(r"^-e \$\{CODESCALE_PROJECT_DIR\}\[(?P<extra>[a-z0-9_-]+)\]$")
RULE_LINE = re.compile(r"^(?P<indent>[ \t]*)(?:rule|checkpoint)\b\s*(?P<name>\w*)\s*:", re.M)


# --- pyproject: distributions of the core and of an extra (self-references resolved) ---------


def extra_requirements(extra: str, seen: frozenset[str] = frozenset()) -> list[Requirement]:
    """The requirements an extra installs, `codescale[x]` (a self-reference) expanded."""
    if extra not in EXTRAS:
        raise KeyError(f"pyproject.toml has no extra {extra!r} (extras: {sorted(EXTRAS)})")
    out = []
    for line in EXTRAS[extra]:
        req = Requirement(line)
        if canonicalize_name(req.name) == "codescale":
            for inner in sorted(req.extras - seen - {extra}):
                out += extra_requirements(inner, seen | {extra})
        else:
            out.append(req)
    return out


def extra_dists(extra: str) -> set[str]:
    """Canonical distribution names an extra installs directly."""
    return {canonicalize_name(req.name) for req in extra_requirements(extra)}


def core_dists() -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in PYPROJECT["dependencies"]}


# --- env files ----------------------------------------------------------------------------------


def env_problems(path: Path) -> tuple[str | None, list[str]]:
    """(the extra an env file installs, what is wrong with the file)."""
    spec = yaml.safe_load(path.read_text())
    problems = []
    if spec.get("channels") != ["conda-forge", "nodefaults"]:
        problems.append(f"{path.name}: channels must be [conda-forge, nodefaults]")
    deps = spec.get("dependencies") or []
    pythons = [d for d in deps if isinstance(d, str) and d.split()[0].split("=")[0] == "python"]
    if len(pythons) != 1:
        problems.append(f"{path.name}: needs exactly one python dependency, has {pythons}")
    else:  # "python =3.11": that version must satisfy requires-python
        version = Version(pythons[0].replace("python", "").strip(" =<>"))
        if version not in Requirement(f"x{PYPROJECT['requires-python']}").specifier:
            problems.append(f"{path.name}: {pythons[0]} outside requires-python")
    if "pip" not in deps:
        problems.append(f"{path.name}: pip must be a conda dependency")
    pips = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    lines = pips[0] if len(pips) == 1 else []
    match = PIP_LINE.match(lines[0]) if len(lines) == 1 else None
    if match is None:
        problems.append(
            f"{path.name}: pip must install only this checkout with one extra,"
            f" '-e ${{CODESCALE_PROJECT_DIR}}[<extra>]' (the pins live in pyproject.toml);"
            f" got {pips}"
        )
        return None, problems
    if match["extra"] not in EXTRAS:
        problems.append(f"{path.name}: extra {match['extra']!r} is not in pyproject.toml")
        return None, problems
    return match["extra"], problems


def env_extras() -> dict[str, str]:
    """env file name -> its extra (the files must be well formed)."""
    out = {}
    for path in sorted(ENVS.glob("*.yaml")):
        extra, problems = env_problems(path)
        assert not problems, problems
        out[path.name] = extra
    return out


# --- rules: the text of each rule definition ---------------------------------------------------


def rule_blocks(text: str) -> dict[str, str]:
    """Rule name -> its definition's text, for `rule name:`/`checkpoint name:` and for an
    anonymous `rule:` with a `name:` directive (its name's literal prefix, e.g. `train_stable_`
    for f"train_stable_{_family}"). A definition ends at the next line indented no deeper."""
    blocks = {}
    lines = text.splitlines()
    for match in RULE_LINE.finditer(text):
        start = text[: match.start()].count("\n")
        indent = len(match["indent"].expandtabs())
        end = start + 1
        while end < len(lines) and (
            not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
        ):
            end += 1
        block = "\n".join(lines[start:end])
        name = match["name"]
        if not name:
            named = re.search(r"\bname:\s*\n\s*f?[\"']([\w]*)", block)
            assert named, f"an anonymous rule without a name directive:\n{block[:300]}"
            name = named[1] + "*"
        blocks[name] = block
    return blocks


def workflow_rule_blocks() -> dict[str, str]:
    blocks = {}
    for path in [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        for name, block in rule_blocks(path.read_text()).items():
            blocks[name] = block
    return blocks


def block_of(name: str, blocks: dict[str, str]) -> str:
    if name in blocks:
        return blocks[name]
    prefixed = [k for k in blocks if k.endswith("*") and name.startswith(k[:-1])]
    assert len(prefixed) == 1, f"rule {name}: no definition found in Snakefile or workflow/rules"
    return blocks[prefixed[0]]


def conda_env(block: str) -> str | None:
    match = re.search(r"^\s*conda:\s*\n\s*[\"']([^\"']+)[\"']", block, re.M)
    return match[1] if match else None


def runs_command(block: str) -> bool:
    return re.search(r"^\s*(shell|script|run|notebook|wrapper):", block, re.M) is not None


def stages(block: str) -> list[str]:
    """The `codescale <stage>` subcommands a rule's text runs."""
    return re.findall(r"\bcodescale ([a-z][a-z-]*)", block)


def rule_problems(name: str, block: str, extras: dict[str, str]) -> list[str]:
    """What is wrong with one rule's software environment (nothing for a rule that runs
    nothing: Snakemake needs no environment for a target-only rule)."""
    if not runs_command(block):
        return []
    env = conda_env(block)
    if env is None:
        return [f"rule {name}: runs a command but has no conda: directive"]
    path = (REPO / "workflow" / "rules" / env).resolve()
    if path.parent != ENVS.resolve() or path.name not in extras:
        return [f"rule {name}: conda: {env} is not a file of workflow/envs/"]
    found = stages(block)
    if not found:
        return [f"rule {name}: runs no `codescale <stage>` this test can check"]
    provided = core_dists() | extra_dists(extras[path.name])
    problems = []
    for stage in found:
        if stage not in COMMANDS:
            problems.append(f"rule {name}: `codescale {stage}` is no subcommand of codescale.cli")
            continue
        module = COMMANDS[stage][0].partition(":")[0]
        for top, dists in sorted(third_party(module).items()):
            if not dists & provided:
                problems.append(
                    f"rule {name} ({path.name}, extra {extras[path.name]}): `codescale {stage}`"
                    f" imports {top} (distribution {sorted(dists) or 'not installed'}), which"
                    " neither the core nor the extra declares"
                )
    return problems


# --- imports of the codescale modules a stage runs ---------------------------------------------


def module_file(module: str) -> Path | None:
    base = SRC / module.replace(".", "/")
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.exists():
            return path
    return None


def _falls_back(handler: ast.ExceptHandler) -> bool:
    """An `except ImportError` (or ModuleNotFoundError) that carries on without the module; one
    that raises (a clearer error) leaves the import required."""
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(
        getattr(n, "id", None) in {"ImportError", "ModuleNotFoundError"} for n in names
    ) and not any(isinstance(n, ast.Raise) for n in ast.walk(handler))


def _required_imports(body: list[ast.stmt], optional: bool = False):
    """The import statements of a statement list, at any depth (functions, classes, branches),
    less the optional ones: under `try: ... except ImportError` (or ModuleNotFoundError) with a
    fallback, or `if TYPE_CHECKING:`. Statements only: an import is never inside an expression."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            if not optional:
                yield node
        elif isinstance(node, ast.Try | ast.TryStar):
            guarded = any(_falls_back(h) for h in node.handlers)
            yield from _required_imports(node.body, optional or guarded)
            for rest in (*node.handlers, node.orelse, node.finalbody):
                yield from _required_imports(getattr(rest, "body", rest), optional)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _required_imports(node.orelse, optional)
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, field, []):
                    inner = child.body if isinstance(child, ast.match_case) else [child]
                    yield from _required_imports(inner, optional)


@cache
def imports_of(module: str) -> frozenset[str]:
    """Modules one codescale module imports (absolute names; relative imports resolved; a
    `from pkg import sub` of a submodule counts as importing pkg.sub)."""
    path = module_file(module)
    assert path is not None, f"no source file for {module} under src/"
    tree = ast.parse(path.read_text())
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = set()
    for node in _required_imports(tree.body):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
            continue
        if node.level:
            base = package[: len(package) - node.level + 1]
            name = ".".join(base + ([node.module] if node.module else []))
        else:
            name = node.module
        if name == "__future__":
            continue
        out.add(name)
        out |= {f"{name}.{a.name}" for a in node.names if module_file(f"{name}.{a.name}")}
    return frozenset(out)


@cache
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


@cache
def third_party(module: str) -> dict[str, frozenset[str]]:
    """Top-level third-party modules that a codescale module needs, through every codescale
    module it imports (and their parent packages) -> the distributions that provide each."""
    seen, todo, tops = set(), [module], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parents run first
        for imported in imports_of(name):
            top = imported.split(".")[0]
            if top == "codescale":
                todo.append(imported if module_file(imported) else imported.rpartition(".")[0])
            elif top not in sys.stdlib_module_names:
                tops.add(top)
    return {
        top: frozenset(canonicalize_name(d) for d in _distributions().get(top, [])) for top in tops
    }


def codescale_imports_of_workflow() -> set[str]:
    """codescale modules the Snakefile and its rule files import in the Snakemake process."""
    names = set()
    for path in [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        for match in re.finditer(
            r"^\s*from (codescale[\w.]*) import ([\w, ]+)|^\s*import (codescale[\w.]*)",
            path.read_text(),
            re.M,
        ):
            if match[3]:
                names.add(match[3])
                continue
            names.add(match[1])
            names |= {
                f"{match[1]}.{n.strip().split()[0]}"
                for n in match[2].split(",")
                if module_file(f"{match[1]}.{n.strip().split()[0]}")
            }
    return names


# --- tests --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wsd_config(tmp_path_factory) -> Path:
    """The smoke study with WSD branches, so that the generated train_stable_<family> rules
    exist too."""
    path = tmp_path_factory.mktemp("envs") / "wsd.yaml"
    cfg = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    cfg["train"]["schedule"] = "wsd"
    cfg["studies"]["per_language"]["sizes"] = ["2K", "5K"]
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def listed_rules(wsd_config) -> list[str]:
    """Every rule Snakemake defines (`--list-rules`), for the smoke study with WSD branches."""
    proc = snakemake(wsd_config.parent / "work", "--list-rules", "--configfile", str(wsd_config))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    names = re.findall(r"^(\w+)", proc.stdout, re.M)
    assert {"corpus_part", "train_run", "figures", "all"} <= set(names), proc.stdout[-2000:]
    assert any(n.startswith("train_stable_") for n in names), names
    return names


def test_every_rule_that_runs_a_command_has_an_env_that_provides_its_imports(listed_rules):
    extras = env_extras()
    blocks = workflow_rule_blocks()
    problems = [p for name in listed_rules for p in rule_problems(name, block_of(name, blocks),
                                                                   extras)]  # fmt: skip
    assert problems == []
    # what the check saw: the command rules, each with a stage it could check
    with_env = {n: conda_env(block_of(n, blocks)) for n in listed_rules}
    assert with_env["train_run"] == "../envs/train.yaml"
    assert with_env["tokenize_part"] == "../envs/data.yaml"
    assert with_env["fit"] == "../envs/laws.yaml"
    targets = [n for n in listed_rules if not runs_command(block_of(n, blocks))]
    assert sorted(targets) == ["all", "dedup", "evaluate", "execute", "split", "tokenize", "train"]


def test_the_check_fails_a_rule_without_env_or_with_an_env_missing_an_import():
    extras = env_extras()
    new = 'rule new_stage:\n    output:\n        "x"\n    shell:\n        "codescale fit --out x"\n'
    ((name, block),) = rule_blocks(new).items()
    assert rule_problems(name, block, extras) == [
        "rule new_stage: runs a command but has no conda: directive"
    ]
    in_data = new.replace("    shell:", '    conda:\n        "../envs/data.yaml"\n    shell:')
    problems = rule_problems(name, rule_blocks(in_data)[name], extras)
    assert any("imports scipy (distribution ['scipy'])" in p for p in problems), problems
    missing = in_data.replace("data.yaml", "nope.yaml")
    assert rule_problems(name, rule_blocks(missing)[name], extras) == [
        "rule new_stage: conda: ../envs/nope.yaml is not a file of workflow/envs/"
    ]
    # the real evaluate_run in the data env: torch (and more) missing
    moved = block_of("evaluate_run", workflow_rule_blocks()).replace("train.yaml", "data.yaml")
    problems = rule_problems("evaluate_run", moved, extras)
    assert any("imports torch" in p for p in problems), problems
    target = 'rule new_target:\n    input:\n        "x"\n'
    assert rule_problems("new_target", rule_blocks(target)["new_target"], extras) == []


def test_the_import_walk_sees_lazy_and_transitive_imports_and_skips_optional_ones():
    train = third_party("codescale.train.run")
    assert {"torch", "lightning", "safetensors", "numpy"} <= set(train)
    assert "flash_attn" not in train  # `try: from flash_attn import ... except ImportError`
    # imported in a function, under an `except ImportError` that raises: still required
    assert third_party("codescale.evaluate.run")["sacrebleu"] == {"sacrebleu"}
    assert third_party("codescale.data.corpus")["yaml"] == {"pyyaml"}  # name -> distribution
    assert "torch" not in third_party("codescale.data.tokenize")


def test_env_files_name_existing_extras_in_one_form():
    extras = env_extras()
    assert extras == {
        "data.yaml": "data", "execute.yaml": "train", "laws.yaml": "laws", "train.yaml": "train",
    }  # fmt: skip


# conda-forge package of each executable codescale.execute.harness looks for
TOOL_PACKAGES = {"python3": "python", "node": "nodejs", "tsc": "typescript", "java": "openjdk",
                 "mcs": "mono", "mono": "mono", "go": "go", "rustc": "rust"}  # fmt: skip


def test_execute_env_has_every_toolchain_the_harness_runs():
    from codescale.execute.harness import LANGUAGES

    deps = yaml.safe_load((ENVS / "execute.yaml").read_text())["dependencies"]
    names = {d.split()[0].split("=")[0] for d in deps if isinstance(d, str)}
    tools = {tool for lang in LANGUAGES.values() for tool in lang.tools}
    unmapped = tools - set(TOOL_PACKAGES)
    assert not unmapped, f"harness tools with no conda package in this test: {sorted(unmapped)}"
    missing = {TOOL_PACKAGES[t] for t in tools} - names
    assert not missing, f"workflow/envs/execute.yaml lacks {sorted(missing)}"


def test_env_problems_name_the_bad_file_and_key(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump({
        "channels": ["defaults"],
        "dependencies": ["python =3.9", "pip", {"pip": ["-e ${CODESCALE_PROJECT_DIR}[gpu]"]}],
    }))  # fmt: skip
    extra, problems = env_problems(path)
    assert extra is None
    assert problems == [
        "broken.yaml: channels must be [conda-forge, nodefaults]",
        "broken.yaml: python =3.9 outside requires-python",
        "broken.yaml: extra 'gpu' is not in pyproject.toml",
    ]
    path.write_text(yaml.safe_dump({
        "channels": ["conda-forge", "nodefaults"],
        "dependencies": ["python =3.11", "pip", {"pip": ["-e ../..[data]", "torch"]}],
    }))  # fmt: skip
    extra, problems = env_problems(path)
    assert extra is None and len(problems) == 1 and "only this checkout" in problems[0]


def test_env_extras_and_the_core_cover_every_runtime_dependency():
    used = set(env_extras().values())
    in_envs = core_dists().union(*(extra_dists(e) for e in used))
    runtime = set().union(*(extra_dists(e) for e in EXTRAS if e not in NOT_IN_JOBS))
    assert runtime <= in_envs, f"in no env: {sorted(runtime - in_envs)}"
    assert extra_dists("all") == set().union(*(extra_dists(e) for e in used))
    # the point of the split: a data job does not install torch, nor a fit job
    assert "torch" not in core_dists() | extra_dists("data")
    assert "torch" not in core_dists() | extra_dists("laws")
    assert {"torch", "tokenizers"} <= extra_dists("train")  # evaluate reads the tokenizer


def test_the_snakemake_process_needs_only_the_core():
    modules = codescale_imports_of_workflow()
    assert {"codescale.config", "codescale.plan", "codescale.study"} <= modules, modules
    provided = core_dists() | extra_dists("workflow")
    missing = {
        f"{module}: {top}"
        for module in modules
        for top, dists in third_party(module).items()
        if not dists & provided
    }
    assert missing == set()


def test_this_environment_satisfies_every_pin_of_the_core_and_all():
    """scripts/setup.sh installs `.[all,workflow,dev]`: what CI runs has what the envs pin."""
    unmet = []
    for req in [*map(Requirement, PYPROJECT["dependencies"]), *extra_requirements("all")]:
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            unmet.append(f"{req}: not installed")
            continue
        if version not in req.specifier:
            unmet.append(f"{req}: {version} installed")
    assert unmet == []


def test_snakemake_lint_is_clean(wsd_config):
    """Snakemake's own linter, on every rule (WSD stable rules included): among others, a rule
    that runs a command without `conda:` fails it (before issue 14: 27 lints)."""
    proc = snakemake(wsd_config.parent / "lint", "--lint", "--configfile", str(wsd_config))
    out = proc.stdout + proc.stderr
    assert "Lints for" not in out and proc.returncode == 0, out[-3000:]
