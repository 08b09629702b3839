"""`codescale pairs`: pair-document shards for training and the 42-direction translation test.

Training pairs are Python-pivot (paper section 5): for each training task with a Python solution,
python -> X and X -> python for every other requested language X that has a solution (the 12
"seen" directions with 7 languages, 2 (L - 1) with L). One solution per (task, language) is used,
the first available in the order PolyHumanEval, HumanEval-X, MBXP, so a task contributes one
document per seen direction. Formats:
- shuffled: the same programs the pairs use, each once as its own corpus-style document
  (`<|lang:L|> code <|endoftext|>`), in seeded random order: same code, no alignment;
- direct / prompt: one pair document per (task, seen direction), in seeded random order.
Each format's shard is FORMAT/train (.bin/.idx.npy/.json); n_bytes counts the utf-8 text the
documents encode (programs plus, for prompt, the instruction text).

The translation test (translation_test.parquet: task_id, src_lang, tgt_lang, seen, src, tgt) holds
every ordered pair of distinct requested languages (L (L - 1); 42 with 7) for every held-out task,
using the PolyHumanEval solutions; seen = the direction has Python on one side. No held-out task id
may reach a training shard: checked on the inputs and again on every document written.
"""

from __future__ import annotations

import argparse
import logging
import random
from pathlib import Path

import numpy as np
import polars as pl

from codescale import LANGUAGES
from codescale import config as cs_config
from codescale.data.shards import write_shard
from codescale.data.tokenizer import load_tokenizer
from codescale.errors import CodescaleError
from codescale.io import atomic_path
from codescale.pairs.formats import (
    FORMATS,
    encode_pair,
    encode_program,
    pair_text,
)

log = logging.getLogger(__name__)

SOURCE_PREFERENCE = ("polyhumaneval", "humaneval-x", "mbxp")


def seen_directions(languages: list[str]) -> list[tuple[str, str]]:
    """Python-pivot directions: python -> X and X -> python."""
    others = [lang for lang in languages if lang != "python"]
    return [("python", x) for x in others] + [(x, "python") for x in others]


def all_directions(languages: list[str]) -> list[tuple[str, str, bool]]:
    """Every ordered pair of distinct languages, with seen = Python on one side."""
    return [(s, t, "python" in (s, t)) for s in languages for t in languages if s != t]


def _read(path: Path, columns: list[str]) -> pl.DataFrame:
    if not path.exists():
        raise CodescaleError(f"missing input {path} (run `codescale parallel-tasks`)")
    df = pl.read_parquet(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CodescaleError(f"{path}: missing columns {missing}")
    return df


def select_solutions(programs: pl.DataFrame) -> dict[tuple[str, str], str]:
    """(task_id, lang) -> program text, one per pair: the first by SOURCE_PREFERENCE."""
    rank = {s: i for i, s in enumerate(SOURCE_PREFERENCE)}
    chosen: dict[tuple[str, str], tuple[int, str]] = {}
    for task_id, lang, source, content in programs.select(
        "task_id", "lang", "source", "content"
    ).iter_rows():
        if not content or not content.strip():
            continue
        r = rank.get(source, len(rank))
        key = (task_id, lang)
        if key not in chosen or r < chosen[key][0]:
            chosen[key] = (r, content)
    return {k: v[1] for k, v in chosen.items()}


def training_pairs(
    solutions: dict[tuple[str, str], str], languages: list[str]
) -> list[tuple[str, str, str]]:
    """(task_id, src_lang, tgt_lang) for every seen direction a task has both sides of."""
    tasks = sorted({t for t, _ in solutions})
    return [
        (task, s, t)
        for task in tasks
        for s, t in seen_directions(languages)
        if (task, s) in solutions and (task, t) in solutions
    ]


def translation_test(heldout: pl.DataFrame, languages: list[str]) -> pl.DataFrame:
    """The held-out test instances, PolyHumanEval solutions, all L (L - 1) directions."""
    if "source" in heldout.columns:
        heldout = heldout.filter(pl.col("source") == "polyhumaneval")
    sol = select_solutions(
        heldout
        if "source" in heldout.columns
        else heldout.with_columns(source=pl.lit("polyhumaneval"))
    )
    tasks = sorted({t for t, _ in sol}, key=lambda t: int(t.split("/")[1]))
    rows = []
    for task in tasks:
        for s, t, seen in all_directions(languages):
            if (task, s) not in sol or (task, t) not in sol:
                raise CodescaleError(f"held-out task {task} has no {s} or {t} solution")
            rows.append((task, s, t, seen, sol[(task, s)], sol[(task, t)]))
    return pl.DataFrame(
        rows,
        schema={
            "task_id": pl.Utf8,
            "src_lang": pl.Utf8,
            "tgt_lang": pl.Utf8,
            "seen": pl.Boolean,
            "src": pl.Utf8,
            "tgt": pl.Utf8,
        },
        orient="row",
    )


def build_format(
    tok,
    fmt: str,
    solutions: dict[tuple[str, str], str],
    pairs: list[tuple[str, str, str]],
    heldout_ids: set[str],
    template: str,
    seed: int,
) -> tuple[list[np.ndarray], int, dict]:
    """Documents, utf-8 bytes and extra metadata of one format's training shard."""
    docs: list[np.ndarray] = []
    n_bytes = 0
    if fmt == "shuffled":
        programs = sorted({(task, lang) for task, s, t in pairs for lang in (s, t)})
        random.Random(seed).shuffle(programs)
        for task, lang in programs:
            if task in heldout_ids:
                raise AssertionError(f"held-out task {task} reached the shuffled shard")
            docs.append(encode_program(tok, lang, solutions[(task, lang)]))
            n_bytes += len(solutions[(task, lang)].encode("utf-8"))
        return docs, n_bytes, {"n_programs": len(programs)}
    order = list(pairs)
    random.Random(seed).shuffle(order)
    for task, s, t in order:
        if task in heldout_ids:
            raise AssertionError(f"held-out task {task} reached the {fmt} shard")
        src, tgt = solutions[(task, s)], solutions[(task, t)]
        ids, _ = encode_pair(tok, fmt, s, src, t, tgt, template)
        docs.append(ids)
        n_bytes += len(pair_text(fmt, s, src, t, tgt, template).encode("utf-8"))
    return docs, n_bytes, {"n_pairs": len(order)}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--programs", type=Path, required=True, help="programs.parquet")
    parser.add_argument("--heldout", type=Path, required=True, help="heldout.parquet")
    parser.add_argument("--tokenizer", type=Path, required=True, help="tokenizer.json")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument(
        "--prompt-template",
        default=cs_config.default("parallel.prompt_template"),
        help="text between source and target in the prompt format; {src} {tgt}",
    )
    parser.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES)
    parser.add_argument("--seed", type=int, default=cs_config.default("seed"))
    parser.add_argument("--out-dir", type=Path, required=True, help="e.g. results/pairs")


def run(args: argparse.Namespace) -> None:
    languages = [lang for lang in LANGUAGES if lang in args.languages]
    if "python" not in languages or len(languages) < 2:
        raise CodescaleError("--languages must include python and at least one other language")
    programs = _read(args.programs, ["task_id", "lang", "source", "content"])
    heldout = _read(args.heldout, ["task_id", "lang", "content"])
    heldout_ids = set(heldout["task_id"].to_list())
    leaked = sorted(heldout_ids & set(programs["task_id"].to_list()))
    if leaked:
        raise CodescaleError(
            f"{args.programs} holds held-out tasks {leaked[:5]}{'...' if len(leaked) > 5 else ''}"
        )
    tok = load_tokenizer(args.tokenizer)
    solutions = select_solutions(programs.filter(pl.col("lang").is_in(languages)))
    pairs = training_pairs(solutions, languages)
    if not pairs:
        raise CodescaleError(f"{args.programs}: no training task has a python solution and another")
    for fmt in args.formats:
        docs, n_bytes, extra = build_format(
            tok, fmt, solutions, pairs, heldout_ids, args.prompt_template, args.seed
        )
        info = write_shard(
            args.out_dir / fmt / "train",
            docs,
            tok.get_vocab_size(),
            n_bytes,
            lang="pairs",
            split="train",
            format=fmt,
            languages=languages,
            seed=args.seed,
            n_tasks=len({task for task, _, _ in pairs}),
            template=args.prompt_template if fmt == "prompt" else None,
            **extra,
        )
        log.info("%s: %d documents, %d tokens", fmt, info["n_docs"], info["n_tokens"])
    test = translation_test(heldout.filter(pl.col("lang").is_in(languages)), languages)
    with atomic_path(args.out_dir / "translation_test.parquet") as tmp:
        test.write_parquet(tmp)
    log.info(
        "translation test: %d instances, %d directions (%d seen)",
        test.height,
        len(all_directions(languages)),
        len(seen_directions(languages)),
    )
