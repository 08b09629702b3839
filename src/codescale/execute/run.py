"""`codescale execute`: generate completions for held-out HumanEval tasks and run their tests.

Per language (of --languages), per held-out task (tasks.json "heldout", the first --max-tasks in
natural order, never one of tasks.json "train": checked here too), the model continues the
language's prompt (codescale.execute.prompts; prompt ids = the language tag + the prompt's
tokens, as a corpus document starts) with the KV-cached decoder
(codescale.evaluate.generate.generate): one greedy sample (--n-samples 1, --temperature 0) for
pass@1, or n samples at a temperature for pass@k (unbiased estimator, codescale.execute.passk).
Generation stops at <|endoftext|>, at --max-new-tokens, or as soon as the entry function is
complete. Each program runs in its own sandbox (codescale.execute.sandbox) against the task's
PolyHumanEval tests (codescale.execute.harness), --workers at a time.

A language whose toolchain is missing is skipped with the reason in the JSON (and the log), not an
error; so is every language when the sandbox (bubblewrap) is missing: nothing runs unsandboxed
unless --sandbox rlimits is asked for. Output (results/execute/RUN.json):
  {"run", "n_samples", "temperature", "k", "max_new_tokens", "tasks", "sandbox", "limits",
   "languages": {lang: {"status": "ok" | "skipped", "reason", "n_tasks", "pass_at_k": {"1": ..},
                        "passed": tasks with >= 1 passing sample, "reasons": {reason: count}}},
   "results": [{"task_id", "lang", "sample", "passed", "reason", "cases_passed", "cases",
                "completion_tokens", "completion" (the executed continuation), "wall_s"}]}
"""

from __future__ import annotations

import argparse
import logging
import queue
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from codescale import LANGUAGES
from codescale import config as cs_config
from codescale.data.tokenizer import load_tokenizer, special_ids
from codescale.errors import CodescaleError
from codescale.evaluate.generate import generate, task_key
from codescale.execute.harness import execute_program, toolchain
from codescale.execute.passk import mean_pass_at_k
from codescale.execute.problems import Problem, load_problems
from codescale.execute.prompts import build_prompt, truncate_completion
from codescale.execute.sandbox import SANDBOX_MODES, Limits, Sandbox
from codescale.io import read_json, write_json

log = logging.getLogger(__name__)


def scored_tasks(tasks_json: Path, max_tasks: int | None) -> list[str]:
    """The held-out task ids to score (natural order), checked disjoint from the training side."""
    info = read_json(tasks_json)
    held = sorted(info.get("heldout") or [], key=task_key)
    if not held:
        raise CodescaleError(f"{tasks_json}: no held-out tasks")
    leaked = set(held) & set(info.get("train") or [])
    if leaked:
        raise CodescaleError(f"{tasks_json}: held-out tasks also on the training side: {leaked}")
    if max_tasks is not None:
        if max_tasks < 1:
            raise CodescaleError(f"--max-tasks must be >= 1, got {max_tasks}")
        held = held[:max_tasks]
    return held


def run_programs(
    jobs: list[tuple[Problem, str, str]], sandbox: Sandbox, limits: Limits, workers: int
) -> list[Any]:
    """Verdicts of (problem, lang, program) jobs, `workers` sandboxes at a time."""
    slots: queue.Queue[int] = queue.Queue()
    for s in range(workers):
        slots.put(s)

    def one(job):
        slot = slots.get()
        try:
            return execute_program(job[0], job[1], job[2], sandbox, limits, slot)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(one, jobs))


def execute_language(
    model, tok, problems: list[Problem], lang: str, args, sandbox: Sandbox, limits: Limits, device
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    tag = special_ids(tok)["lang"][lang]
    eod, pad = special_ids(tok)["eod"], special_ids(tok)["pad"]
    prompts_text = [build_prompt(p, lang) for p in problems]
    prompt_ids = [[tag, *tok.encode(t).ids] for t in prompts_text]
    index = [(i, s) for i in range(len(problems)) for s in range(args.n_samples)]

    def done(j: int, out: list[int]) -> bool:
        text = tok.decode(out, skip_special_tokens=True)
        return len(truncate_completion(lang, prompts_text[index[j][0]], text)) < len(text)

    t0 = time.monotonic()
    outs = generate(
        model,
        [prompt_ids[i] for i, _ in index],
        [args.max_new_tokens] * len(index),
        eod,
        pad,
        args.batch_size,
        device,
        use_cache=True,
        temperature=args.temperature,
        seed=args.seed,
        stop=done,
    )
    gen_s = time.monotonic() - t0
    jobs = []
    for (i, _), out in zip(index, outs, strict=True):
        text = tok.decode(out, skip_special_tokens=True)
        code = prompts_text[i] + truncate_completion(lang, prompts_text[i], text)
        jobs.append((problems[i], lang, code))
    t1 = time.monotonic()
    verdicts = run_programs(jobs, sandbox, limits, args.workers)
    exec_s = time.monotonic() - t1
    results = []
    correct: Counter[int] = Counter()
    for (i, s), out, v, job in zip(index, outs, verdicts, jobs, strict=True):
        correct[i] += v.passed
        results.append(
            {
                "task_id": problems[i].task_id,
                "lang": lang,
                "sample": s,
                "passed": v.passed,
                "reason": v.reason,
                "cases_passed": v.cases_passed,
                "cases": v.cases,
                "completion_tokens": len(out),
                "completion": job[2][len(prompts_text[i]) :],
                "wall_s": round(v.wall_s, 3),
            }
        )
    ns = [args.n_samples] * len(problems)
    cs = [correct[i] for i in range(len(problems))]
    summary = {
        "status": "ok",
        "reason": None,
        "n_tasks": len(problems),
        "pass_at_k": {str(k): mean_pass_at_k(ns, cs, k) for k in args.k},
        "passed": sum(c > 0 for c in cs),
        "reasons": dict(Counter(r["reason"] for r in results)),
        "generate_s": round(gen_s, 2),
        "execute_s": round(exec_s, 2),
    }
    log.info(
        "%s: pass@%s %s over %d tasks (generate %.1fs, execute %.1fs: %s)",
        lang, args.k[0], summary["pass_at_k"][str(args.k[0])], len(problems), gen_s, exec_s,
        summary["reasons"],
    )  # fmt: skip
    return summary, results


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", type=Path, required=True, help="results/runs/RUN")
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--parallel-dir", type=Path, required=True, help="fetch-parallel output")
    parser.add_argument("--tasks", type=Path, required=True, help="results/pairs/tasks.json")
    parser.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES)
    # options that set a config key (its x-cli in the schema) default to the schema's
    D = cs_config.default  # noqa: N806
    add = parser.add_argument
    add("--max-tasks", type=int, default=D("execute.max_tasks"), help="first N held-out tasks")
    add("--n-samples", type=int, default=D("execute.n_samples"), help="samples per task (n)")
    add("--temperature", type=float, default=D("execute.temperature"), help="0 = greedy")
    add("--k", type=int, nargs="+", default=D("execute.k"), help="pass@k to report")
    add("--max-new-tokens", type=int, default=D("execute.max_new_tokens"))
    add("--batch-size", type=int, default=D("execute.batch_size"))
    add("--seed", type=int, default=D("seed"), help="sampling seed")
    add("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    add("--workers", type=int, default=D("execute.workers"), help="sandboxes at a time")
    add("--sandbox", choices=SANDBOX_MODES, default=D("execute.sandbox"))
    lim = "execute.limits"
    add("--wall-s", type=float, default=D(f"{lim}.wall_s"), help="wall seconds per program")
    add("--cpu-s", type=int, default=D(f"{lim}.cpu_s"), help="CPU seconds per process")
    add("--memory-mb", type=int, default=D(f"{lim}.memory_mb"), help="RLIMIT_DATA, MiB")
    add("--nproc", type=int, default=D(f"{lim}.nproc"), help="processes + threads")
    add("--output-bytes", type=int, default=D(f"{lim}.output_bytes"))
    parser.add_argument("--out", type=Path, required=True, help="results/execute/RUN.json")


def run(args: argparse.Namespace) -> None:
    for flag in ("n_samples", "batch_size", "workers", "max_new_tokens"):
        if getattr(args, flag) < 1:
            raise CodescaleError(f"--{flag.replace('_', '-')} must be >= 1")
    if any(k < 1 or k > args.n_samples for k in args.k):
        raise CodescaleError(f"--k {args.k}: every k must be in 1..--n-samples ({args.n_samples})")
    if args.n_samples > 1 and args.temperature <= 0:
        raise CodescaleError("--n-samples > 1 needs --temperature > 0 (greedy repeats itself)")
    from codescale.evaluate.run import load_run_model

    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    limits = Limits(
        wall_s=args.wall_s,
        cpu_s=args.cpu_s,
        memory_mb=args.memory_mb,
        nproc=args.nproc,
        output_bytes=args.output_bytes,
    )
    try:
        sandbox: Sandbox | None = Sandbox(args.sandbox)
        no_sandbox = None
    except CodescaleError as err:  # never run unsandboxed by accident: skip every language
        sandbox, no_sandbox = None, str(err)
    tasks = scored_tasks(args.tasks, args.max_tasks)
    problems = load_problems(args.parallel_dir, tasks)
    model, cfg = load_run_model(args.run_dir, device)
    tok = load_tokenizer(args.tokenizer)
    result: dict[str, Any] = {
        "run": cfg.get("run"),
        "n_samples": args.n_samples,
        "temperature": args.temperature,
        "k": args.k,
        "max_new_tokens": args.max_new_tokens,
        "tasks": tasks,
        "sandbox": args.sandbox,
        "limits": asdict(limits),
        "languages": {},
        "results": [],
    }
    for lang in [lang for lang in LANGUAGES if lang in args.languages]:
        tc = no_sandbox or toolchain(lang)
        if isinstance(tc, str):
            log.warning("%s skipped: %s", lang, tc)
            result["languages"][lang] = {"status": "skipped", "reason": tc, "n_tasks": 0}
            continue
        summary, rows = execute_language(model, tok, problems, lang, args, sandbox, limits, device)
        result["languages"][lang] = summary
        result["results"] += rows
    write_json(args.out, result)
