"""`codescale mixture`: resolve one run's plan (results/runs/{run}/mixture.json).

The plan is the one carrier of a run's identity (issue #14): its name, model size (a preset of
codescale.model.presets), total tokens D, seed, sequence length and sources (token-shard prefixes
with weights and optional unique-token caps). `codescale train --mixture` reads size, D and
seq_len from it and from nowhere else; the trainer's own settings (LR, batch, schedule, layout)
stay `codescale train` options. The plan is resolved once, checked against the shards on disk (so
a bad prefix or size fails here, not an hour into training), and annotated with each source's
size and expected epochs so repetition is visible before training. `spec` is the study's record
of the run (codescale.study.Run.to_dict(), read by collect); where it names the run, size, tokens
or seed they must equal the plan's.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from codescale import config as cs_config
from codescale.data.shards import Shard
from codescale.errors import CodescaleError
from codescale.io import write_json
from codescale.model import presets
from codescale.train.sampler import PERIOD

WEIGHT_TOLERANCE = 1e-6
_COUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([KMBT]?)\s*$")
_SCALE = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}


def parse_count(text: str, what: str) -> int:
    """An integer count that may use a K/M/B/T suffix ("100K", "2M", "1.5e6")."""
    m = _COUNT.match(str(text))
    if not m:
        raise CodescaleError(f"{what}: {text!r} is not a count (e.g. 100000, 100K, 2M)")
    value = float(m.group(1)) * _SCALE[m.group(2)]
    if value != int(value):
        raise CodescaleError(f"{what}: {text!r} is not a whole number")
    return int(value)


def parse_source(text: str) -> dict[str, Any]:
    """Parse NAME=PREFIX:WEIGHT[:UNIQUE_TOKENS] (the prefix may itself contain ':')."""
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise CodescaleError(f"--source {text!r}: expected NAME=PREFIX:WEIGHT[:UNIQUE_TOKENS]")
    parts = rest.rsplit(":", 2)
    unique: int | None = None
    if len(parts) == 3 and _is_number(parts[1]) and _COUNT.match(parts[2]):
        prefix, weight_s = parts[0], parts[1]
        unique = parse_count(parts[2], f"--source {name}: unique tokens")
    else:
        prefix, _, weight_s = rest.rpartition(":")
    if not prefix or not _is_number(weight_s):
        raise CodescaleError(f"--source {text!r}: expected NAME=PREFIX:WEIGHT[:UNIQUE_TOKENS]")
    return {"name": name, "prefix": prefix, "weight": float(weight_s), "unique_tokens": unique}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# The plan's identity keys that a study spec (codescale.study.Run.to_dict()) also records.
SPEC_KEYS = {"run": "name", "size": "size", "tokens": "tokens", "seed": "seed"}


def build_plan(
    run: str,
    sources: list[dict[str, Any]],
    tokens: int,
    seed: int,
    seq_len: int,
    spec: dict[str, Any] | None = None,
    *,
    size: str,
) -> dict[str, Any]:
    """Validate sources against their shards and return the plan with expected epochs per source.

    size: a model preset name ("5K", "0.1B"); tokens: D of the run; seq_len: tokens per training
    sequence. expected_epochs = tokens * weight / unique tokens of the source (its n_tokens, or
    the cap): the number of times the run is expected to see each source's unique tokens.
    """
    try:
        presets.shape_of(size)
    except CodescaleError as err:
        raise CodescaleError(f"--size: {err}") from None
    plan_keys = {"run": run, "size": size, "tokens": tokens, "seed": seed}
    for key, spec_key in SPEC_KEYS.items():
        if spec and spec.get(spec_key) is not None and spec[spec_key] != plan_keys[key]:
            raise CodescaleError(
                f"run {run}: --spec-json says {spec_key} {spec[spec_key]!r}, but --{key} is "
                f"{plan_keys[key]!r}: the plan must carry one value"
            )
    if not sources:
        raise CodescaleError("a mixture needs at least one --source")
    if tokens < 1 or seq_len < 1:
        raise CodescaleError(f"--tokens and --seq-len must be >= 1, got {tokens}, {seq_len}")
    names = [s["name"] for s in sources]
    if len(set(names)) != len(names):
        raise CodescaleError(f"duplicate source names in {names}")
    for s in sources:
        if not s["weight"] > 0:
            raise CodescaleError(f"source {s['name']}: weight must be > 0, got {s['weight']}")
    total = sum(s["weight"] for s in sources)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        listed = ", ".join(f"{s['name']}={s['weight']}" for s in sources)
        raise CodescaleError(
            f"source weights must sum to 1 (within {WEIGHT_TOLERANCE}), got {total!r} ({listed})"
        )
    vocab = None
    resolved = []
    for s in sources:
        shard = Shard(s["prefix"])  # raises if missing or incomplete
        if shard.n_tokens == 0:
            raise CodescaleError(f"source {s['name']}: shard {s['prefix']} has no tokens")
        v = int(shard.meta["vocab_size"])
        if vocab is not None and v != vocab:
            raise CodescaleError(
                f"source {s['name']}: shard {s['prefix']} has vocab_size {v}, others {vocab}"
            )
        vocab = v
        unique = s.get("unique_tokens")
        if unique is not None and not 0 < unique <= shard.n_tokens:
            raise CodescaleError(
                f"source {s['name']}: unique_tokens {unique} must be in [1, {shard.n_tokens}] "
                f"(the shard {s['prefix']} has {shard.n_tokens} tokens)"
            )
        available = unique if unique is not None else shard.n_tokens
        resolved.append(
            {
                "name": s["name"],
                "prefix": str(s["prefix"]),
                "weight": s["weight"],
                "unique_tokens": unique,
                "n_tokens": shard.n_tokens,
                "n_docs": len(shard),
                "expected_epochs": tokens * s["weight"] / available,
            }
        )
    return {
        "run": run,
        "size": size,
        "seed": seed,
        "tokens": tokens,
        "seq_len": seq_len,
        "vocab_size": vocab,
        "sources": resolved,
        "spec": spec or {},
    }


def allocated(sources: list[dict[str, Any]], allocation: str | Path) -> list[dict[str, Any]]:
    """Replace the weights of `sources` with the optimiser's proportions (by source name)."""
    path = Path(allocation)
    if not path.exists():
        raise CodescaleError(f"allocation {path} does not exist")
    proportions = json.loads(path.read_text()).get("proportions")
    if not isinstance(proportions, dict):
        raise CodescaleError(f"allocation {path} has no 'proportions' mapping")
    missing = [s["name"] for s in sources if s["name"] not in proportions]
    if missing:
        raise CodescaleError(f"allocation {path} gives no proportion for {', '.join(missing)}")
    kept = [{**s, "weight": float(proportions[s["name"]])} for s in sources]
    # The sampler's schedule resolves weights in steps of 1/PERIOD: a smaller share gets no data.
    kept = [s for s in kept if s["weight"] >= 1.0 / PERIOD]
    total = sum(s["weight"] for s in kept)
    return [{**s, "weight": s["weight"] / total} for s in kept]


def load_plan(path: str | Path) -> dict[str, Any]:
    """Read a mixture.json and check the fields the sampler and trainer rely on (a plan written
    before it carried the model size fails here, naming the key: write it again)."""
    path = Path(path)
    if not path.exists():
        raise CodescaleError(f"mixture plan {path} does not exist")
    try:
        plan = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CodescaleError(f"mixture plan {path} is not valid JSON: {err}") from None
    for key in ("run", "size", "seed", "tokens", "seq_len", "sources"):
        if key not in plan:
            raise CodescaleError(f"mixture plan {path} lacks the key {key!r}")
    return plan


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run name, e.g. mono/python/5K_d100K")
    parser.add_argument(
        "--size", required=True, help="model size preset, e.g. 5K, 0.1B (codescale.model.presets)"
    )
    parser.add_argument("--spec-json", default="{}", help="the run's spec dict (stored as spec)")
    parser.add_argument(
        "--source",
        action="extend",
        nargs="+",
        required=True,
        metavar="NAME=PREFIX:WEIGHT[:UNIQUE_TOKENS]",
        help="a token-shard source; repeat per source; weights must sum to 1",
    )
    parser.add_argument(
        "--weights-from",
        metavar="ALLOCATION_JSON",
        help="take the code languages' weights from `codescale allocate`'s proportions "
        "(the optimised-allocation run); sources it gives no share are left out",
    )
    parser.add_argument("--tokens", required=True, help="total training tokens D (e.g. 100K)")
    parser.add_argument(
        "--seed", type=int, default=cs_config.default("seed"), help="data-order seed"
    )
    parser.add_argument("--seq-len", type=int, required=True, help="tokens per training sequence")
    parser.add_argument("--out", required=True, help="output mixture.json")


def run(args: argparse.Namespace) -> None:
    try:
        spec = json.loads(args.spec_json)
    except json.JSONDecodeError as err:
        raise CodescaleError(f"--spec-json is not valid JSON: {err}") from None
    if not isinstance(spec, dict):
        raise CodescaleError("--spec-json must be a JSON object")
    sources = [parse_source(s) for s in args.source]
    if args.weights_from:
        sources = allocated(sources, args.weights_from)
        spec["weights"] = {s["name"]: s["weight"] for s in sources}
    plan = build_plan(
        run=args.run,
        size=args.size,
        sources=sources,
        tokens=parse_count(args.tokens, "--tokens"),
        seed=args.seed,
        seq_len=args.seq_len,
        spec=spec,
    )
    write_json(args.out, plan)
