"""Config validation: every key checked against the JSON schema before any job runs.

Errors name the key as a dotted path (`dedup.threshold`) and say what was expected, because a
study that fails an hour in on a typo is the worst kind of failure. Defaults from the schema are
filled in, so rules read one resolved config and the schema is the single place defaults live.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from codescale.errors import CodescaleError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


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


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return (
            f"config error at '{_where(error)}': unknown key(s) {', '.join(map(repr, extra))}; "
            f"allowed: {', '.join(allowed)}"
        )
    expected = error.schema.get("description")
    hint = f" ({expected})" if expected and error.validator != "required" else ""
    return f"config error at '{_where(error)}': {error.message}{hint}"


def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def section_defaults(section: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The schema's default value of every key of one top-level config section."""
    props = (schema or load_schema())["properties"][section]["properties"]
    return {key: _copy(sub["default"]) for key, sub in props.items() if "default" in sub}


def validate(config: dict[str, Any], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate `config` in place (filling defaults); raise CodescaleError naming the bad key."""
    schema = schema or load_schema()
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
