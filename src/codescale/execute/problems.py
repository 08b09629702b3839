"""HumanEval problems in all seven languages: PolyHumanEval's typed tests, prompts, solutions.

Source: PolyHumanEval (github.com/polyeval/poly-humaneval @ c490b4c, MIT), the pinned files
`poly_humaneval.ped` (typed signatures and input -> output test cases for all 164 HumanEval
tasks, one format for every language) and `poly_humaneval_sol.json` (a solution per task and
language). HumanEval-X's own harnesses are not used: its JavaScript tests use `console.assert`
(which never fails), its Go tests import testify and its Rust tests the rand/regex/md5 crates,
none of which are available offline. The natural-language description comes from HumanEval-X's
Python `text` field (the original HumanEval docstring).

A `.ped` problem:

    problem HumanEval/12 {
        code { func longest(strs:list<string>) -> string? }
        tests { template nse { ([]) -> null \n (["x", "y", "z"]) -> "x" } }
    }

Types: int, double, bool, string, list<T>, dict<K,V>, any, and a trailing `?` (may be null).
Values: numbers, "strings" (JSON escapes), true/false/null, [lists], {k=>v} dicts; a value may
carry a type annotation (`[4, "a"]:list<any>`). A problem may define several functions, each test
template naming its `entry` (HumanEval/38 and /50 test both encode and decode).

Prompt (what the model continues), per language: a line comment with the HumanEval description,
then the PolyHumanEval solution up to and including the line that opens the entry function
(Python: the `def` line followed by the docstring). Helper functions written before the entry
function in the solution are therefore part of the prompt, as HumanEval's own prompts do for
encode/decode pairs.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codescale.errors import CodescaleError

PED_FILE = Path("polyhumaneval") / "poly_humaneval.ped"
SOLUTIONS_FILE = Path("polyhumaneval") / "poly_humaneval_sol.json"
HUMANEVAL_X_PYTHON = Path("humaneval-x") / "humaneval_python.jsonl.gz"


@dataclass(frozen=True)
class Function:
    """One function of a problem: its `.ped` name (snake_case), parameters and return type."""

    name: str
    params: tuple[tuple[str, str], ...]  # (name, ped type)
    returns: str


@dataclass(frozen=True)
class TestCase:
    """entry(*args) must return `expected` (parsed into Python values; dicts as dict)."""

    entry: str
    args: tuple[Any, ...]
    expected: Any


@dataclass
class Problem:
    """A HumanEval task with typed functions and test cases; `entry` = the function to write."""

    task_id: str
    functions: dict[str, Function]
    tests: list[TestCase]
    entry: str
    description: str = ""
    solutions: dict[str, str] = field(default_factory=dict)

    def function(self, name: str) -> Function:
        return self.functions[name]


# ---------------------------------------------------------------- .ped parsing
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)'
    r"|(?P<arrow>=>|->)|(?P<word>[A-Za-z_]\w*)|(?P<sym>[\[\]{}(),:<>?]))"
)


def _tokens(text: str, where: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise CodescaleError(f"{where}: cannot parse test value at {text[pos : pos + 30]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Values:
    """Recursive-descent reader of one `(args) -> expected` test line."""

    def __init__(self, text: str, where: str) -> None:
        self.toks = _tokens(text, where)
        self.i = 0
        self.where = where

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise CodescaleError(f"{self.where}: expected {value!r}, found {tok}")
        self.i += 1
        return tok

    def skip_type(self) -> None:
        depth = 0
        while (tok := self.peek()) is not None:
            if tok[1] == "<":
                depth += 1
            elif tok[1] == ">":
                depth -= 1
            elif depth == 0 and tok[1] in (",", ")", "]", "}", "->", "=>"):
                return
            self.i += 1

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            v: Any = json.loads(text)
        elif kind == "num":
            v = float(text) if any(c in text for c in ".eE") else int(text)
        elif text in ("true", "false"):
            v = text == "true"
        elif text == "null":
            v = None
        elif text == "[":
            v = self.sequence("]")
        elif text == "{":
            v = {}
            while self.peek() and self.peek()[1] != "}":
                key = self.value()
                self.take("=>")
                v[key] = self.value()
                if self.peek() and self.peek()[1] == ",":
                    self.take(",")
            self.take("}")
        else:
            raise CodescaleError(f"{self.where}: unexpected {text!r} in a test value")
        if self.peek() and self.peek()[1] == ":":  # type annotation: [4, "a"]:list<any>
            self.take(":")
            self.skip_type()
        return v

    def sequence(self, close: str) -> list[Any]:
        items = []
        while self.peek() and self.peek()[1] != close:
            items.append(self.value())
            if self.peek() and self.peek()[1] == ",":
                self.take(",")
        self.take(close)
        return items


def parse_test_line(line: str, where: str = "test") -> tuple[tuple[Any, ...], Any]:
    """`(1, [2.5], "a") -> true` -> ((1, [2.5], "a"), True)."""
    r = _Values(line, where)
    r.take("(")
    args = tuple(r.sequence(")"))
    r.take("->")
    expected = r.value()
    if r.peek() is not None:
        raise CodescaleError(f"{where}: trailing text after the expected value in {line!r}")
    return args, expected


_FUNC = re.compile(r"^\s*func\s+(\w+)\s*\((.*)\)\s*->\s*(.+?)\s*$")
_PROBLEM = re.compile(r"^problem\s+(\S+)\s*\{")
_TEMPLATE = re.compile(r"^\s*template\s+nse(?:\s+entry\s+(\w+))?\s*\{")


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


def parse_ped(text: str) -> dict[str, Problem]:
    """All problems of a `.ped` file by task id (see the module doc for the format)."""
    problems: dict[str, Problem] = {}
    cur: Problem | None = None
    entry: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        where = f"poly_humaneval.ped line {n}"
        if m := _PROBLEM.match(line):
            cur = Problem(m.group(1), {}, [], entry="")
            problems[cur.task_id] = cur
        elif cur is None:
            continue
        elif m := _FUNC.match(line):
            params = []
            for p in _split_top(m.group(2)):
                name, _, typ = p.partition(":")
                params.append((name.strip(), typ.replace(" ", "")))
            fn = Function(m.group(1), tuple(params), m.group(3).replace(" ", ""))
            cur.functions[fn.name] = fn
            cur.entry = fn.name  # the last function is the one to write
        elif m := _TEMPLATE.match(line):
            entry = m.group(1) or cur.entry
        elif line.strip().startswith("("):
            if entry is None:
                raise CodescaleError(f"{where}: test case outside a template")
            args, expected = parse_test_line(line.strip(), where)
            fn = cur.functions[entry]
            if len(args) != len(fn.params):
                raise CodescaleError(
                    f"{where}: {len(args)} arguments for {fn.name}, which takes {len(fn.params)}"
                )
            cur.tests.append(TestCase(entry, args, expected))
    for p in problems.values():
        if not p.tests:
            raise CodescaleError(f"poly_humaneval.ped: {p.task_id} has no test cases")
    return problems


def _descriptions(parallel_dir: Path) -> dict[str, str]:
    path = parallel_dir / HUMANEVAL_X_PYTHON
    if not path.exists():
        return {}
    out = {}
    with gzip.open(path, "rt") as f:
        for line in f:
            row = json.loads(line)
            out["HumanEval/" + row["task_id"].split("/")[1]] = row.get("text", "").strip("\n")
    return out


def load_problems(parallel_dir: Path, task_ids: list[str] | None = None) -> list[Problem]:
    """Problems (with solutions and descriptions) for `task_ids` (all 164 when None), in order."""
    ped, sol = parallel_dir / PED_FILE, parallel_dir / SOLUTIONS_FILE
    for path in (ped, sol):
        if not path.exists():
            raise CodescaleError(f"missing {path}: run `codescale fetch-parallel` first")
    problems = parse_ped(ped.read_text())
    solutions = json.loads(sol.read_text())
    desc = _descriptions(parallel_dir)
    ids = list(problems) if task_ids is None else task_ids
    out = []
    for t in ids:
        if t not in problems:
            raise CodescaleError(f"task {t!r} is not in {ped}")
        p = problems[t]
        p.solutions = {lang: s[t] for lang, s in solutions.items() if t in s}
        p.description = desc.get(t, "")
        out.append(p)
    return out
