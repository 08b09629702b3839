"""Config validation: every key checked against the JSON schema before any job runs.

Errors name the key as a dotted path (`dedup.threshold`) and say what was expected, because a
study that fails an hour in on a typo is the worst kind of failure. Defaults from the schema are
filled in, so rules read one resolved config and the schema is the single place defaults live.

The schema is package data (`codescale/schemas/config.schema.yaml`, read through
`importlib.resources`), so an installed wheel validates a config without a checkout;
`workflow/schemas/config.schema.yaml` is a symlink to it (the snakemake-workflows layout).
`codescale <stage>` options that set a config key take their default from the schema too
(`default`), and check their value by the schema's rule (`check`); which option sets which key is
declared once, in the key's `x-cli` annotation ("command --option" strings).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from codescale.errors import CodescaleError

SCHEMA_RESOURCE = ("codescale", "schemas/config.schema.yaml")  # package, path inside it


def _with_defaults(validator_class: type) -> type:
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator: Any, properties: dict, instance: Any, schema: dict) -> Iterator:
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = _copy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _copy(value: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(value))


def _where(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(top level)"


# Keys that moved between sections (issue 14: hardware in `cluster`, the planner's assumptions in
# `plan`, scheduler settings in `slurm`): an old config gets the new place in its error.
MOVED_KEYS: dict[str, str] = {
    **{f"slurm.{k}": f"cluster.{k}" for k in (
        "gpus", "gpu_memory_gb", "gpus_per_node", "cpus_per_gpu", "mem_mb_per_gpu")},
    **{f"plan.{k}": f"cluster.{k}" for k in ("card", "peak_tflops")},
    **{f"slurm.{k}": f"plan.{k}" for k in (
        "safety_factor", "overhead_min", "max_gpus", "cpu_tasks")},
}  # fmt: skip


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        moved = [f"{_where(error)}.{k}" for k in extra if f"{_where(error)}.{k}" in MOVED_KEYS]
        if moved:
            return f"config error at '{moved[0]}': this key moved to '{MOVED_KEYS[moved[0]]}'" + (
                f" (and {', '.join(f'{k} -> {MOVED_KEYS[k]}' for k in moved[1:])})"
                if moved[1:]
                else ""
            )
        return (
            f"config error at '{_where(error)}': unknown key(s) {', '.join(map(repr, extra))}; "
            f"allowed: {', '.join(allowed)}"
        )
    expected = error.schema.get("description")
    hint = f" ({expected})" if expected and error.validator != "required" else ""
    return f"config error at '{_where(error)}': {error.message}{hint}"


def load_schema(path: str | Path | None = None) -> dict[str, Any]:
    """The config schema as a dict: the packaged one (path None), else the file at `path`.

    A fresh copy each call: callers may change it (validation never does)."""
    if path is not None:
        return yaml.safe_load(Path(path).read_text())
    return _copy(_packaged_schema())


@functools.cache
def _packaged_schema() -> dict[str, Any]:
    package, name = SCHEMA_RESOURCE
    try:
        text = resources.files(package).joinpath(*name.split("/")).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as err:  # a broken install, named
        raise CodescaleError(f"the config schema {package}/{name} is missing: {err}") from None
    return yaml.safe_load(text)


def _leaf(key: str) -> dict[str, Any]:
    """The (uncopied) schema of a dotted config key, e.g. 'train.checkpoint_every'."""
    node = _packaged_schema()
    for i, part in enumerate(key.split(".")):
        props = node.get("properties", {})
        if part not in props:
            where = ".".join(key.split(".")[:i]) or "(top level)"
            raise CodescaleError(
                f"config key {key!r} is not in the schema: {where} has no key {part!r}"
            )
        node = props[part]
    return node


def default(key: str) -> Any:
    """The schema's default of a dotted config key (a copy): what `codescale <stage>` options
    that set this key default to, so the command line and the workflow cannot disagree."""
    node = _leaf(key)
    if "default" not in node:
        raise CodescaleError(f"config key {key!r} has no default in the schema")
    return _copy(node["default"])


def check(key: str, value: Any, option: str | None = None) -> Any:
    """`value` if the schema's rule for `key` (type, range, enum) accepts it, else a
    CodescaleError naming the option (or the key) and the rule. Stages call this on their
    command-line input, so a stage and the schema agree on what is legal. Returns `value`."""
    node = _leaf(key)
    rule = {"$defs": _packaged_schema().get("$defs", {}), **node}
    errors = list(jsonschema.Draft202012Validator(rule).iter_errors(value))
    if errors:
        what = option or key
        about = f" ({node['description']})" if node.get("description") else ""
        raise CodescaleError(
            f"{what} {value!r} is out of range: {errors[0].message} "
            f"(the config schema's rule for {key}{about})"
        )
    return value


def cli_options(schema: dict[str, Any] | None = None) -> dict[str, list[tuple[str, str]]]:
    """Dotted config key -> [(command, option)] from the schema's `x-cli` annotations: the
    `codescale <stage>` options that set the key, whose defaults must be the key's default."""
    out: dict[str, list[tuple[str, str]]] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, sub in node.get("properties", {}).items():
            key = f"{prefix}{name}"
            for entry in sub.get("x-cli", []):
                command, _, option = entry.partition(" ")
                if not option.startswith("--"):
                    raise CodescaleError(
                        f"schema x-cli of {key}: {entry!r} is not 'command --option'"
                    )
                out.setdefault(key, []).append((command, option))
            walk(sub, f"{key}.")

    walk(schema or _packaged_schema(), "")
    return out


def section_defaults(section: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The schema's default value of every key of one top-level config section."""
    props = (schema or load_schema())["properties"][section]["properties"]
    return {key: _copy(sub["default"]) for key, sub in props.items() if "default" in sub}


def validate(config: dict[str, Any], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate `config` in place (filling defaults); raise CodescaleError naming the bad key."""
    schema = schema or _packaged_schema()
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        # The deepest error first: it names the most specific key.
        best = max(errors, key=lambda e: len(e.absolute_path))
        raise CodescaleError(_message(best))
    _check_cross_references(config)
    return config


def _check_cross_references(config: dict[str, Any]) -> None:
    """Checks a JSON schema cannot express: names that must refer to other config entries."""
    languages = config["languages"]
    studies = config.get("studies", {})
    synergy = studies.get("synergy", {})
    for lang in synergy.get("languages") or []:
        if lang not in languages:
            raise CodescaleError(
                f"config error at 'studies.synergy.languages': {lang!r} is not in 'languages'"
            )
    for lang in studies.get("per_language", {}).get("languages") or []:
        if lang not in languages:
            raise CodescaleError(
                f"config error at 'studies.per_language.languages': {lang!r} is not in 'languages'"
            )
    from codescale.model.presets import PRESETS  # no torch: cheap at DAG build time

    sizes = [("per_language", s) for s in studies.get("per_language", {}).get("sizes", [])]
    sizes += [("pairing", s) for s in studies.get("pairing", {}).get("sizes", [])]
    sizes += [(k, studies[k]["size"]) for k in ("synergy", "allocation") if k in studies]
    for where, size in sizes:
        if size not in PRESETS:
            raise CodescaleError(
                f"config error at 'studies.{where}': unknown model size {size!r}; "
                f"known sizes: {', '.join(PRESETS)}"
            )
    lr = config.get("train", {}).get("lr")
    if isinstance(lr, dict):
        for size in lr:
            if size not in PRESETS:
                raise CodescaleError(
                    f"config error at 'train.lr.{size}': unknown model size; "
                    f"known sizes: {', '.join(PRESETS)}"
                )
        for where, size in sizes:
            if size not in lr:
                raise CodescaleError(
                    f"config error at 'train.lr': no learning rate for size {size!r}, "
                    f"which 'studies.{where}' trains"
                )
    pairing = studies.get("pairing", {})
    if pairing.get("enabled", True) and pairing and "python" not in languages:
        raise CodescaleError(
            "config error at 'studies.pairing': pairs are Python-pivot, so 'languages' "
            "must include python"
        )
    split = config.get("split", {})
    if split.get("validation", 0) + split.get("test", 0) >= 1:
        raise CodescaleError("config error at 'split': validation + test fractions must be below 1")


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a config file ('-': standard input), for commands run outside Snakemake."""
    path = Path(path)
    if str(path) != "-" and not path.exists():
        raise CodescaleError(f"config file not found: {path}")
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise CodescaleError(f"config file {path} is not valid YAML: {err}") from None
    if not isinstance(config, dict):
        raise CodescaleError(f"config file {path} must be a mapping of keys to values")
    return validate(config)
