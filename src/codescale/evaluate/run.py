"""`codescale evaluate`: one trained run's test-split losses and translation losses, as one JSON.

Output (results/eval/RUN.json):
  {"run", "run_dir", "max_seq_len", "N",
   "device": "cuda:0" | "cpu" ..., "dtype": "bfloat16 autocast" | "float32",
   "languages": {lang: {"loss" (nats/token), "bpb", "nats", "n_tokens", "n_docs", "n_bytes",
                        "bytes_source", "docs_fraction", "shard"}},
   "translation": null | {"format", "template", "test", "n_instances", "n_truncated",
                          "directions": [{"src_lang", "tgt_lang", "seen", "n_instances",
                                          "n_target_tokens", "loss", "loss_per_instance",
                                          "n_truncated"}],
                          "aggregates": {"seen_mean", "unseen_mean", "all_mean", "nonpython_mean",
                                         "x_to_all": {lang: v}, "all_to_x": {lang: v}},
                          "instances": [{"task_id", "src_lang", "tgt_lang", "seen", "nats",
                                         "n_tokens", "truncated"}],
                          "bleu": (only with --bleu) {"directions": [{"src_lang", "tgt_lang",
                                   "seen", "bleu", "n_instances"}], "seen_mean", "unseen_mean",
                                   "max_new_tokens"}}}
How windows and long pairs are handled: codescale.evaluate.losses and .translation.

Bits per byte are exact (issue 15): bpb = nats / ln 2 / the UTF-8 bytes of exactly the documents
scored. When the whole shard is scored these are the shard's n_bytes (bytes_source "shard");
when --max-tokens-per-language stops early they are the bytes of the scored documents' text,
decoded from their tokens (bytes_source "decoded documents"; decode(encode(text)) == text for
the byte-level tokenizer), not the shard's bytes apportioned by token share, which on the default
study's JavaScript test shard understated the bytes by 21%.

Device and precision: on a GPU (--device auto with CUDA available, or cuda...) the forward passes
run under bf16 autocast (cross-entropy is computed in float32 by autocast); on CPU in float32.
Both are recorded in the JSON.
Greedy translation and BLEU (off by default; --bleu): codescale.evaluate.generate.
The translation format defaults to the run's pair format (direct for shuffled and for runs without
pairs, since a shuffled-trained model never saw a pair layout).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
from pathlib import Path
from typing import Any

import polars as pl
import torch

from codescale import LANGUAGES
from codescale import config as cs_config
from codescale.data.shards import Shard
from codescale.data.tokenizer import decode_document, load_tokenizer, special_ids
from codescale.errors import CodescaleError
from codescale.evaluate.losses import shard_loss
from codescale.evaluate.translation import aggregates, per_direction, translation_losses
from codescale.io import read_json, write_json
from codescale.pairs.formats import PAIR_FORMATS

log = logging.getLogger(__name__)


def load_run_model(run_dir: Path, device: torch.device) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The run's Transformer with its trained weights (eval mode) and its config.json."""
    from safetensors.torch import load_file

    from codescale.model.llama import ModelConfig, Transformer

    cfg_path, weights = run_dir / "config.json", run_dir / "model.safetensors"
    for p in (cfg_path, weights):
        if not p.exists():
            raise CodescaleError(f"run {run_dir}: missing {p.name}")
    cfg = read_json(cfg_path)
    if "model" not in cfg:
        raise CodescaleError(f"{cfg_path}: no 'model' section")
    model = Transformer(ModelConfig(**cfg["model"]))
    state = {k.removeprefix("_orig_mod."): v for k, v in load_file(str(weights)).items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CodescaleError(f"{weights} does not match {cfg_path}: {err}") from err
    return model.to(device).eval(), cfg


def scored_bytes(tok, shard: Shard, n_docs: int) -> tuple[int, str]:
    """UTF-8 bytes of the first n_docs documents of a shard (those shard_loss scored)."""
    if n_docs >= len(shard):
        return int(shard.meta["n_bytes"]), "shard"
    total = sum(len(decode_document(tok, shard.doc(i)).encode("utf-8")) for i in range(n_docs))
    return total, "decoded documents"


def precision(device: torch.device) -> tuple[contextlib.AbstractContextManager, str]:
    """bf16 autocast on CUDA, plain float32 elsewhere: (context manager, dtype label)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16), "bfloat16 autocast"
    return contextlib.nullcontext(), "float32"


def parse_tests(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        lang, sep, prefix = item.partition("=")
        if not sep or lang not in LANGUAGES or not prefix:
            raise CodescaleError(f"--test {item!r}: expected LANG=PREFIX with LANG in {LANGUAGES}")
        out[lang] = prefix
    return out


def default_format(cfg: dict[str, Any]) -> str:
    spec = (cfg.get("mixture") or {}).get("spec") or {}
    fmt = spec.get("pair_format")
    return fmt if fmt in PAIR_FORMATS else "direct"


def configure(parser: argparse.ArgumentParser) -> None:
    """Options that set a config key (its `x-cli` in the schema) default to the schema's."""
    D = cs_config.default  # noqa: N806
    parser.add_argument("--run-dir", type=Path, required=True, help="results/runs/RUN")
    parser.add_argument("--tokenizer", type=Path, required=True, help="tokenizer.json")
    parser.add_argument(
        "--test",
        nargs="*",
        default=[],
        metavar="LANG=PREFIX",
        help="test shards, e.g. python=results/tokens/python/test",
    )
    parser.add_argument(
        "--translation-test",
        type=Path,
        default=None,
        help="translation_test.parquet (omit to skip translation loss)",
    )
    parser.add_argument(
        "--format",
        choices=PAIR_FORMATS,
        default=None,
        help="pair layout for translation (default: the run's, else direct)",
    )
    parser.add_argument(
        "--prompt-template",
        default=D("parallel.prompt_template"),
        help="text between source and target in the prompt format; {src} {tgt}",
    )
    parser.add_argument(
        "--max-tokens-per-language",
        type=int,
        default=D("evaluate.max_tokens_per_language"),
        help="evaluate whole test documents until this many tokens; 0: all "
        f"(default {D('evaluate.max_tokens_per_language')})",
    )
    parser.add_argument(
        "--bleu",
        action="store_true",
        default=D("evaluate.bleu"),
        help="also translate greedily and score BLEU per direction (needs --translation-test)",
    )
    parser.add_argument(
        "--bleu-max-instances",
        type=int,
        default=D("evaluate.bleu_max_instances"),
        metavar="N",
        help="BLEU on the first N instances per direction by task id (default all)",
    )
    parser.add_argument(
        "--bleu-max-new-tokens",
        type=int,
        default=None,
        metavar="N",
        help="cap on generated tokens (default: reference target tokens + 32, uncapped)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=D("evaluate.batch_size"),
        help=f"windows per forward pass (default {D('evaluate.batch_size')})",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    parser.add_argument("--out", type=Path, required=True, help="results/eval/RUN.json")


def run(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise CodescaleError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.bleu and args.translation_test is None:
        raise CodescaleError("--bleu needs --translation-test (BLEU scores translation pairs)")
    for flag in ("bleu_max_instances", "bleu_max_new_tokens"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise CodescaleError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    tests = parse_tests(args.test)
    model, cfg = load_run_model(args.run_dir, device)
    tok = load_tokenizer(args.tokenizer)
    pad = special_ids(tok)["pad"]
    if tok.get_vocab_size() > model.cfg.vocab_size:
        raise CodescaleError(
            f"{args.tokenizer} has {tok.get_vocab_size()} tokens, the model only "
            f"{model.cfg.vocab_size}"
        )
    L = model.cfg.max_seq_len
    result: dict[str, Any] = {
        "run": cfg.get("run"),
        "run_dir": str(args.run_dir),
        "max_seq_len": L,
        "N": model.num_params(),
        "languages": {},
    }
    amp, dtype = precision(device)
    result["device"], result["dtype"] = str(device), dtype
    for lang, prefix in tests.items():
        shard = Shard(prefix)
        with amp:
            stats = shard_loss(
                model, shard, L, args.batch_size, pad, device, args.max_tokens_per_language or None
            )
        n_bytes, source = scored_bytes(tok, shard, int(stats["n_docs"]))
        stats["n_bytes"] = n_bytes
        stats["bytes_source"] = source
        stats["bpb"] = stats["nats"] / math.log(2) / n_bytes if n_bytes else float("nan")
        result["languages"][lang] = {**stats, "shard": prefix}
        log.info(
            "%s: loss %.4f, bpb %.4f (%d tokens)",
            lang,
            stats["loss"],
            stats["bpb"],
            stats["n_tokens"],
        )
    result["translation"] = None
    if args.translation_test is not None:
        if not args.translation_test.exists():
            raise CodescaleError(f"missing {args.translation_test} (run `codescale pairs`)")
        test = pl.read_parquet(args.translation_test)
        need = {"task_id", "src_lang", "tgt_lang", "seen", "src", "tgt"}
        if not need <= set(test.columns):
            missing = sorted(need - set(test.columns))
            raise CodescaleError(f"{args.translation_test}: missing columns {missing}")
        fmt = args.format or default_format(cfg)
        with amp:
            records = translation_losses(
                model, tok, test.to_dicts(), fmt, args.prompt_template, L, args.batch_size, pad,
                device,
            )  # fmt: skip
        directions = per_direction(records)
        languages = [x for x in LANGUAGES if x in set(test["src_lang"]) | set(test["tgt_lang"])]
        result["translation"] = {
            "format": fmt,
            "template": args.prompt_template if fmt == "prompt" else None,
            "test": str(args.translation_test),
            "n_instances": len(records),
            "n_truncated": sum(r["truncated"] for r in records),
            "directions": directions,
            "aggregates": aggregates(directions, languages),
            "instances": records,
        }
        if args.bleu:
            from codescale.evaluate.generate import translation_bleu

            with amp:
                bleu = translation_bleu(
                    model,
                    tok,
                    test.to_dicts(),
                    fmt,
                    args.prompt_template,
                    args.batch_size,
                    device,
                    args.bleu_max_instances,
                    args.bleu_max_new_tokens,
                )
            result["translation"]["bleu"] = bleu
            log.info(
                "translation BLEU (%s): seen mean %s, unseen mean %s",
                fmt,
                bleu["seen_mean"],
                bleu["unseen_mean"],
            )
        log.info(
            "translation (%s): %d instances, unseen mean %.4f",
            fmt,
            len(records),
            result["translation"]["aggregates"]["unseen_mean"] or float("nan"),
        )
    write_json(args.out, result)
