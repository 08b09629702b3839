"""HumanEval-style prompts per language, and where a completion ends.

Prompt = a line comment with the HumanEval description (Python: a docstring after the `def` line,
as HumanEval itself) and the PolyHumanEval solution up to and including the line that opens the
entry function. The model continues the body; the program that is executed is prompt + the
completion cut at the end of the entry function:
  - brace languages: where the braces opened in the prompt are all closed again (for Java and C#,
    whose prompt opens `class Global {` too, that is after the class); braces inside string and
    character literals and comments are not counted;
  - Python: before the first non-blank line that starts in column 0 (the end of the `def`).
A completion that never closes is kept whole (and then usually fails to compile).
"""

from __future__ import annotations

import re

from codescale.errors import CodescaleError
from codescale.execute.harness import _DEF, entry_name
from codescale.execute.problems import Problem

COMMENT = {"python": "#"}


def _signature_line(lang: str, code: str, name: str) -> int:
    lines = code.splitlines()
    pat = re.compile(_DEF[lang].format(n=re.escape(name)))
    for i, line in enumerate(lines):
        if pat.search(line):
            # a signature may span lines: go on to the line that opens the body
            for j in range(i, len(lines)):
                if lines[j].rstrip().endswith("{" if lang != "python" else ":"):
                    return j
    raise CodescaleError(f"no definition of {name} in the {lang} solution")


def build_prompt(problem: Problem, lang: str) -> str:
    """The text the model continues for `problem` in `lang` (see the module doc)."""
    if lang not in problem.solutions:
        raise CodescaleError(f"{problem.task_id} has no {lang} solution to take a signature from")
    code = problem.solutions[lang]
    fn = problem.function(problem.entry)
    name = entry_name(lang, code, fn.name)
    lines = code.splitlines()
    head = "\n".join(lines[: _signature_line(lang, code, name) + 1]) + "\n"
    text = "\n".join(ln.strip() for ln in problem.description.strip("\n").splitlines())
    if lang == "python":
        doc = "\n".join(("    " + ln) if ln else "" for ln in text.splitlines())
        return head + f'    """\n{doc}\n    """\n'
    comment = "".join(f"// {ln}".rstrip() + "\n" for ln in text.splitlines())
    return comment + head


def _scan_depth(text: str, depth: int, stop_at_zero: bool) -> tuple[int, int | None]:
    """Brace depth after `text` starting from `depth`; with stop_at_zero, the cut index."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c in '"`':
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c == "'":
            m = re.match(r"'(?:\\.|[^\\'\n])'", text[i:])
            if m:
                i += m.end()
                continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if stop_at_zero and depth <= 0:
                return depth, i + 1
        i += 1
    return depth, None


def truncate_completion(lang: str, prompt: str, completion: str) -> str:
    """The completion up to the end of the entry function (see the module doc)."""
    if lang == "python":
        kept = []
        for line in completion.splitlines(keepends=True):
            if kept and line.strip() and not line[0].isspace():
                break
            kept.append(line)
        return "".join(kept)
    depth, _ = _scan_depth(prompt, 0, False)
    if depth <= 0:
        return completion
    _, cut = _scan_depth(completion, depth, True)
    return completion if cut is None else completion[:cut] + "\n"


WRONG_BODY = {
    "python": "    return None\n",
    "javascript": "    return null;\n}\n",
    "typescript": "    return null as any;\n}\n",
    "java": '        throw new RuntimeException("wrong");\n    }\n}\n',
    "csharp": '        throw new Exception("wrong");\n    }\n}\n',
    "go": '    panic("wrong")\n}\n',
    "rust": '    panic!("wrong")\n}\n',
}


def wrong_program(problem: Problem, lang: str) -> str:
    """A deliberately wrong program: the prompt with a body that returns null or throws."""
    return build_prompt(problem, lang) + WRONG_BODY[lang]
