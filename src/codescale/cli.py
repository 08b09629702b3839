"""`codescale <stage>`: one subcommand per DAG stage; modules are imported only when used."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from codescale.errors import CodescaleError

# subcommand -> (module, one-line help). The module defines configure(parser) and run(args);
# "module:name" means configure_name(parser) and run_name(args) (several stages in one module).
COMMANDS: dict[str, tuple[str, str]] = {
    "corpus": ("codescale.data.corpus", "build the per-language source-code corpus"),
    "corpus-gather": ("codescale.data.corpus:gather", "the corpus's cap and stats from its parts"),
    "dedup": ("codescale.data.dedup", "exact + MinHash-LSH near-duplicate removal"),
    "dedup-signatures": (
        "codescale.data.dedup:signatures",
        "per corpus part: exact hashes, MinHash signatures and LSH band keys",
    ),
    "dedup-cluster": (
        "codescale.data.dedup:cluster",
        "per language: duplicates from every part's band keys, greedy keep in rank order",
    ),
    "dedup-filter": ("codescale.data.dedup:filter", "per corpus part: write the kept documents"),
    "split": ("codescale.data.split", "train/validation/test split by repository, decontaminated"),
    "split-assign": ("codescale.data.split:assign", "assign repositories of all parts to splits"),
    "split-eval": ("codescale.data.split:eval", "validation and test rows of one part"),
    "split-index": ("codescale.data.split:index", "decontamination index of a language"),
    "split-train": ("codescale.data.split:train", "decontaminated training rows of one part"),
    "split-stats": ("codescale.data.split:stats", "gather a language's split counts"),
    "tokenizer": ("codescale.data.tokenizer", "train the byte-level BPE tokenizer"),
    "tokenize": ("codescale.data.tokenize", "write token shards for one language and split"),
    "tokenize-gather": ("codescale.data.tokenize:gather", "concatenate part shards into one"),
    "fetch-parallel": ("codescale.pairs.fetch", "copy or download parallel data, verify checksums"),
    "parallel-tasks": ("codescale.pairs.tasks", "filter parallel programs, hold out test tasks"),
    "pairs": ("codescale.pairs.build", "build pair-document shards and the translation test"),
    "mixture": ("codescale.train.mixture", "resolve one run's sampling plan"),
    "train": ("codescale.train.run", "train one model on one mixture"),
    "evaluate": ("codescale.evaluate.run", "validation loss, bits/byte and translation loss"),
    "execute": ("codescale.execute.run", "generate code for held-out tasks, run tests: pass@k"),
    "collect": ("codescale.evaluate.collect", "gather every run into one tidy table"),
    "fit": ("codescale.laws.fit", "fit the paper's scaling laws, with intervals"),
    "allocate": ("codescale.laws.allocate", "optimise per-language token allocation"),
    "figures": ("codescale.report.figures", "the paper's figures and tables"),
    "plan": ("codescale.plan", "FLOPs and GPU-hours of a study, before anything runs"),
}


def _entry(module: str, kind: str):
    """configure/run of a COMMANDS entry ("module" or "module:name")."""
    path, _, name = module.partition(":")
    return getattr(importlib.import_module(path), f"{kind}_{name}" if name else kind)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codescale", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="STAGE", required=True)
    wanted = next((arg for arg in sys.argv[1:] if arg in COMMANDS), None)  # after -v, too
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        # Import only the stage being run: `codescale --help` must not pay for torch.
        if name == wanted:
            _entry(module, "configure")(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    args = build_parser().parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run = _entry(COMMANDS[args.command][0], "run")
    try:
        run(args)
    except CodescaleError as err:
        print(f"codescale {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
