"""Readers for the three parallel data sets, into one record type with a shared task identity.

Task identity: a HumanEval task is `HumanEval/N` in PolyHumanEval and HumanEval-X alike
(HumanEval-X's `Python/N`, `Java/N`, ... are the same task N); an MBPP task is `MBPP/N` across all
MBXP files (`MBJP/N`, `MBJSP/N`, `MBTSP/N`, `MBCSP/N` are translations of MBPP task N).

Program text: PolyHumanEval solutions are stored as complete functions (no docstring), taken as is.
HumanEval-X and MBXP split a program into `prompt` (imports, signature, docstring) and
`canonical_solution` (the body); the program is their concatenation, i.e. the file as the data set
publishes it. `solution` keeps the body alone, which is what the MBXP filter inspects (the prompt's
docstring legitimately repeats the test examples).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Our language -> HumanEval-X file-name language, and -> MBXP file name: codescale.catalog.
from codescale.catalog import HUMANEVAL_X_FILES, MBXP_FILES
from codescale.errors import CodescaleError


@dataclass(frozen=True)
class Program:
    """One solution of one task in one language, from one data set."""

    task_id: str
    lang: str
    source: str  # polyhumaneval | humaneval-x | mbxp
    content: str
    solution: str = ""  # body only (HumanEval-X, MBXP); the whole content for PolyHumanEval
    test: str = ""
    entry_point: str = ""


_TASK_NUMBER = re.compile(r"^[A-Za-z]+/(\d+)$")


def _task_number(raw: str, where: str) -> int:
    m = _TASK_NUMBER.match(raw)
    if not m:
        raise CodescaleError(f"{where}: unexpected task_id {raw!r}")
    return int(m.group(1))


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.exists():
        raise CodescaleError(f"missing parallel data file {path} (run `codescale fetch-parallel`)")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as err:
                    raise CodescaleError(f"{path}:{lineno}: invalid JSON: {err}") from err


def read_polyhumaneval(root: Path, languages: tuple[str, ...] | list[str]) -> list[Program]:
    path = root / "polyhumaneval" / "poly_humaneval_sol.json"
    if not path.exists():
        raise CodescaleError(f"missing parallel data file {path} (run `codescale fetch-parallel`)")
    data = json.loads(path.read_text())
    out = []
    for lang in languages:
        for raw_id, code in data.get(lang, {}).items():
            n = _task_number(raw_id, str(path))
            out.append(Program(f"HumanEval/{n}", lang, "polyhumaneval", code, solution=code))
    return out


def read_humaneval_x(root: Path, languages: tuple[str, ...] | list[str]) -> list[Program]:
    out = []
    for lang in languages:
        if lang not in HUMANEVAL_X_FILES:
            continue
        path = root / "humaneval-x" / f"humaneval_{HUMANEVAL_X_FILES[lang]}.jsonl.gz"
        for lineno, row in _jsonl(path):
            where = f"{path}:{lineno}"
            n = _task_number(row.get("task_id", ""), where)
            body = row.get("canonical_solution", "")
            out.append(
                Program(
                    f"HumanEval/{n}",
                    lang,
                    "humaneval-x",
                    row.get("prompt", "") + body,
                    solution=body,
                    test=row.get("test", ""),
                )
            )
    return out


def read_mbxp(root: Path, languages: tuple[str, ...] | list[str]) -> list[Program]:
    out = []
    for lang in languages:
        if lang not in MBXP_FILES:
            continue
        path = root / "mbxp" / MBXP_FILES[lang]
        for lineno, row in _jsonl(path):
            where = f"{path}:{lineno}"
            n = _task_number(row.get("task_id", ""), where)
            body = row.get("canonical_solution") or ""
            out.append(
                Program(
                    f"MBPP/{n}",
                    lang,
                    "mbxp",
                    row.get("prompt", "") + body,
                    solution=body,
                    test=row.get("test", ""),
                    entry_point=row.get("entry_point", ""),
                )
            )
    return out
