"""Per-language test harnesses: turn a program + a Problem into sources, a run script, a verdict.

Protocol (the same in every language): the harness appends a `main` that calls the entry function
on every test case's arguments, written as literals of the language, and prints one line
`@@R <json>` per case with the result serialised as JSON by a small printer in that language
(Python json, JSON.stringify with Maps as objects, hand-written printers for Java, C# and Rust,
encoding/json for Go). The host parses those lines and compares them with the `.ped` expectation:
numbers with a tolerance of 1e-6 (absolute or relative; the `.ped` writes 0.666666667),
booleans and strings exactly, lists element-wise, dicts by key, null only with null (and in Go a
nil slice, printed `null`, with an empty list). A task passes when the run exits 0 and every case
matches; a compile error, crash, timeout, exceeded limit or missing/extra line is a failure.

Literals are written from the `.ped` types for Java (List<Integer>, Map<String,...> via
ArrayList/HashMap), C# (List<T>, Dictionary), Go ([]int, map[string]int, []interface{}) and
JavaScript/TypeScript (arrays, Map for dicts, as the PolyHumanEval solutions take them); for Rust
from the parameter types of the program's own signature (`&Vec<i32>`, `&String`, `&str`,
`&Box<dyn Any>`, ...), since PolyHumanEval's Rust signatures vary in borrowing.

Go solutions carry no imports: the standard packages the code refers to (`strings.`, `sort.`, ...,
looked up with comments and strings removed) are imported. Rust gets glob imports of
std::collections, std::any, std::cmp and std::fmt (globs, so a program's own `use` lines never
clash). Python gets `from typing import *` and the common standard modules.

C# is compiled with Mono's mcs, which predates nullable reference types: `string?`/`object?`
annotations are removed before compiling (the same rewrite for solutions and model output).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from typing import Any

from codescale.errors import CodescaleError
from codescale.execute.printers import CS_PRINTER, JAVA_PRINTER, RUST_PRINTER
from codescale.execute.problems import Problem
from codescale.execute.sandbox import Limits, Outcome, Sandbox, run_sandboxed

MARK = "@@R "
COMPILE_FAILED = 97  # run.sh's exit status when the compile step fails
# languages compiled and run in one step: what their stderr says when compiling failed
COMPILE_SIGNS = {
    "java": ("error: compilation failed",),
    "python": ("SyntaxError:", "IndentationError:", "TabError:"),
    "javascript": ("SyntaxError:",),
}


# ---------------------------------------------------------------- names
def name_variants(snake: str) -> list[str]:
    """snake_case, camelCase, PascalCase of a `.ped` function name."""
    parts = snake.split("_")
    camel = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
    return [snake, camel, camel[:1].upper() + camel[1:]]


PREFERRED = {
    "python": (0, 1, 2),
    "rust": (0, 1, 2),
    "javascript": (1, 0, 2),
    "typescript": (1, 0, 2),
    "java": (1, 2, 0),
    "csharp": (2, 1, 0),
    "go": (2, 1, 0),
}
_DEF = {
    "python": r"def\s+{n}\s*\(",
    "rust": r"fn\s+{n}\s*[<(]",
    "javascript": r"(?:const|let|var|function)\s+{n}\b",
    "typescript": r"(?:const|let|var|function)\s+{n}\b",
    "java": r"\b{n}\s*\(",
    "csharp": r"\b{n}\s*\(",
    "go": r"func\s+{n}\s*\(",
}


def entry_name(lang: str, code: str, snake: str) -> str:
    """The name the program gives the `.ped` function `snake` (first convention that is defined)."""
    variants = name_variants(snake)
    for i in PREFERRED[lang]:
        if re.search(_DEF[lang].format(n=re.escape(variants[i])), code):
            return variants[i]
    return variants[PREFERRED[lang][0]]


# ---------------------------------------------------------------- type strings
def split_type(t: str) -> tuple[str, list[str]]:
    """'dict<string,int>' -> ('dict', ['string', 'int']); 'int' -> ('int', [])."""
    if "<" not in t:
        return t, []
    head, inner = t[: t.index("<")], t[t.index("<") + 1 : t.rindex(">")]
    args, depth, cur = [], 0, ""
    for ch in inner:
        depth += ch in "<(["
        depth -= ch in ">)]"
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
    args.append(cur.strip())
    return head.strip(), args


def _num(v: Any) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        raise CodescaleError(f"non-finite test value {v}")
    return repr(float(v))


def _infer(v: Any) -> str:
    """A `.ped` type for a value of an `any` slot."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list<any>"
    raise CodescaleError(f"cannot infer a type for {v!r}")


def c_string(s: str) -> str:
    """A double-quoted literal valid in Java, C#, Go, JavaScript and TypeScript."""
    return json.dumps(s)


def rust_string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32 or ord(ch) > 126:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


# ---------------------------------------------------------------- literals per language
def lit_python(v: Any, t: str = "any") -> str:
    return repr(v)


def lit_js(v: Any, t: str = "any") -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return json.dumps(v)
    if isinstance(v, str):
        return c_string(v)
    head, args = split_type(t.rstrip("?"))
    if isinstance(v, list):
        et = args[0] if head == "list" and args else "any"
        return "[" + ", ".join(lit_js(x, et) for x in v) + "]"
    if isinstance(v, dict):
        vt = args[1] if head == "dict" and len(args) == 2 else "any"
        return (
            "new Map([" + ", ".join(f"[{lit_js(k)}, {lit_js(x, vt)}]" for k, x in v.items()) + "])"
        )
    raise CodescaleError(f"no JavaScript literal for {v!r}")


_JAVA_BOX = {
    "int": "Integer",
    "double": "Double",
    "bool": "Boolean",
    "string": "String",
    "any": "Object",
}


def java_type(t: str) -> str:
    head, args = split_type(t.rstrip("?"))
    if head == "list":
        return f"List<{java_type(args[0])}>"
    if head == "dict":
        return f"Map<{java_type(args[0])}, {java_type(args[1])}>"
    if head in _JAVA_BOX:
        return _JAVA_BOX[head]
    raise CodescaleError(f"no Java type for .ped type {t!r}")


def lit_java(v: Any, t: str) -> str:
    if v is None:
        return "null"
    head, args = split_type(t.rstrip("?"))
    if head == "any":
        return lit_java(v, _infer(v))
    if head == "int":
        return str(v) if -(2**31) <= v < 2**31 else f"{v}L"
    if head == "double":
        return _num(v)
    if head == "bool":
        return "true" if v else "false"
    if head == "string":
        return c_string(v)
    if head == "list":
        et = java_type(args[0])
        if not v:
            return f"new ArrayList<{et}>()"
        items = ", ".join(lit_java(x, args[0]) for x in v)
        return f"new ArrayList<{et}>(Arrays.<{et}>asList({items}))"
    if head == "dict":
        kt, vt = java_type(args[0]), java_type(args[1])
        items = ", ".join(
            f"Map.entry({lit_java(k, args[0])}, {lit_java(x, args[1])})" for k, x in v.items()
        )
        return f"new HashMap<{kt}, {vt}>(Map.<{kt}, {vt}>ofEntries({items}))"
    raise CodescaleError(f"no Java literal for .ped type {t!r}")


_CS = {"int": "int", "double": "double", "bool": "bool", "string": "string", "any": "object"}


def cs_type(t: str, outer: bool = True) -> str:
    head, args = split_type(t.rstrip("?"))
    if head == "list":
        return f"{'List' if outer else 'IList'}<{cs_type(args[0], False)}>"
    if head == "dict":
        k, v = cs_type(args[0], False), cs_type(args[1], False)
        return f"{'Dictionary' if outer else 'IDictionary'}<{k}, {v}>"
    if head in _CS:
        return _CS[head]
    raise CodescaleError(f"no C# type for .ped type {t!r}")


def lit_cs(v: Any, t: str) -> str:
    if v is None:
        return "null"
    head, args = split_type(t.rstrip("?"))
    if head == "any":
        return lit_cs(v, _infer(v))
    if head == "int":
        return str(v) if -(2**31) <= v < 2**31 else f"{v}L"
    if head == "double":
        return _num(v)
    if head == "bool":
        return "true" if v else "false"
    if head == "string":
        return c_string(v)
    if head == "list":
        return f"new {cs_type(t)}{{" + ", ".join(lit_cs(x, args[0]) for x in v) + "}"
    if head == "dict":
        items = ", ".join(f"{{{lit_cs(k, args[0])}, {lit_cs(x, args[1])}}}" for k, x in v.items())
        return f"new {cs_type(t)}{{{items}}}"
    raise CodescaleError(f"no C# literal for .ped type {t!r}")


_GO = {"int": "int", "double": "float64", "bool": "bool", "string": "string", "any": "interface{}"}


def go_type(t: str) -> str:
    head, args = split_type(t.rstrip("?"))
    if head == "list":
        return f"[]{go_type(args[0])}"
    if head == "dict":
        return f"map[{go_type(args[0])}]{go_type(args[1])}"
    if head in _GO:
        return _GO[head]
    raise CodescaleError(f"no Go type for .ped type {t!r}")


def lit_go(v: Any, t: str) -> str:
    if v is None:
        return "nil"
    head, args = split_type(t.rstrip("?"))
    if head == "any":
        return lit_go(v, _infer(v))
    if head == "int":
        return str(v)
    if head == "double":
        return _num(v)
    if head == "bool":
        return "true" if v else "false"
    if head == "string":
        return c_string(v)
    if head == "list":
        return f"{go_type(t)}{{" + ", ".join(lit_go(x, args[0]) for x in v) + "}"
    if head == "dict":
        items = ", ".join(f"{lit_go(k, args[0])}: {lit_go(x, args[1])}" for k, x in v.items())
        return f"{go_type(t)}{{{items}}}"
    raise CodescaleError(f"no Go literal for .ped type {t!r}")


_RUST_INTS = {
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
}


def lit_rust(v: Any, rt: str) -> str:
    """A Rust expression of Rust type `rt` (as written in the signature) for the value v."""
    rt = rt.strip()
    if rt.startswith("&"):
        inner = rt[1:].strip()
        inner = inner[3:].strip() if inner.startswith("mut ") else inner
        if inner == "str":
            return rust_string(v)
        if inner.startswith("["):
            return "&" + lit_rust(v, "Vec<" + inner[1:-1] + ">")
        return "&" + lit_rust(v, inner)
    head, args = split_type(rt)
    if head == "Option":
        return "None" if v is None else f"Some({lit_rust(v, args[0])})"
    if v is None:
        raise CodescaleError(f"null test value for non-Option Rust type {rt!r}")
    if head in _RUST_INTS:
        return f"{v}{head}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
    if head in ("f64", "f32"):
        return _num(v) + head
    if head == "bool":
        return "true" if v else "false"
    if head == "String":
        return f"String::from({rust_string(v)})"
    if head == "char":
        return "'" + (v.replace("\\", "\\\\").replace("'", "\\'")) + "'"
    if head == "Vec":
        return "vec![" + ", ".join(lit_rust(x, args[0]) for x in v) + "]"
    if head in ("HashMap", "BTreeMap"):
        if not v:
            return f"{head}::new()"
        items = ", ".join(f"({lit_rust(k, args[0])}, {lit_rust(x, args[1])})" for k, x in v.items())
        return f"{head}::from([{items}])"
    if head == "Box" and args and args[0].replace(" ", "") == "dynAny":
        inner = {"int": "i32", "double": "f64", "bool": "bool", "string": "String"}.get(_infer(v))
        if inner is None:
            raise CodescaleError(f"no Rust Any value for {v!r}")
        return f"(Box::new({lit_rust(v, inner)}) as Box<dyn Any>)"
    raise CodescaleError(f"no Rust literal for type {rt!r}")


def rust_signature(code: str, name: str) -> list[str]:
    """Parameter types of `fn name(...)` in a Rust program."""
    m = re.search(rf"fn\s+{re.escape(name)}\s*(?:<[^>]*>)?\s*\(", code)
    if m is None:
        raise CodescaleError(f"no `fn {name}` in the Rust program")
    depth, i = 1, m.end()
    while i < len(code) and depth:
        depth += code[i] in "(<["
        depth -= code[i] in ")>]"
        i += 1
    params = split_type("x<" + code[m.end() : i - 1] + ">")[1]
    return [p.split(":", 1)[1].strip() for p in params if ":" in p]


PY_PRELUDE = (
    "from typing import *\n"
    "import math, re, sys, string, hashlib, itertools, functools, collections, heapq, bisect\n"
    "from math import floor, ceil, sqrt, gcd, factorial, isqrt, log, log2, log10, inf, pi, prod\n"
    "from functools import reduce, cmp_to_key, lru_cache\n"
    "from collections import Counter, defaultdict, deque, OrderedDict\n"
)
JS_PRELUDE = 'import * as crypto from "node:crypto";\n'
# no @types/node in the sandbox: declare the two Node globals the solutions use
TS_PRELUDE = (
    "declare const require: any;\ndeclare const Buffer: any;\ndeclare const console: any;\n"
    'const crypto: any = require("crypto");\n'
)
JAVA_PRELUDE = (
    "import java.util.*;\nimport java.util.stream.*;\nimport java.util.function.*;\n"
    "import java.security.*;\nimport java.math.*;\n"
)
CS_PRELUDE = (
    "using System;\nusing System.Collections.Generic;\nusing System.Linq;\nusing System.Text;\n"
    "using System.Text.RegularExpressions;\nusing System.Security.Cryptography;\n"
)
RUST_PRELUDE = (
    "#![allow(unused_imports, dead_code, unused_variables, unused_mut, non_snake_case)]\n"
    "use std::collections::*;\nuse std::any::*;\nuse std::cmp::*;\nuse std::fmt::Write as _;\n"
)
GO_PACKAGES = {
    "strings": "strings",
    "strconv": "strconv",
    "math": "math",
    "sort": "sort",
    "fmt": "fmt",
    "unicode": "unicode",
    "utf8": "unicode/utf8",
    "regexp": "regexp",
    "bytes": "bytes",
    "md5": "crypto/md5",
    "hex": "encoding/hex",
    "big": "math/big",
    "bits": "math/bits",
    "heap": "container/heap",
    "reflect": "reflect",
    "os": "os",
    "net": "net",
    "time": "time",
    "io": "io",
    "bufio": "bufio",
    "errors": "errors",
    "rand": "math/rand",
    "slices": "golang.org/x/exp/slices",
}


def _strip_comments_strings(code: str) -> str:
    code = re.sub(r"/\*.*?\*/", " ", code, flags=re.S)
    code = re.sub(r"//[^\n]*", " ", code)
    return re.sub(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`', '""', code)


def go_imports(code: str) -> list[str]:
    bare = _strip_comments_strings(code)
    return [path for name, path in GO_PACKAGES.items() if re.search(rf"\b{name}\.\w", bare)]


GO_ORDERED = (
    "interface{ ~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32"
    " | ~uint64 | ~float32 | ~float64 | ~string }"
)


def go_minmax(code: str) -> str:
    """Go 1.21's min/max builtins as generic functions, for older Go (Debian 12 ships 1.19).

    Added only when the program calls min( / max( and defines no function of that name.
    """
    out = ""
    bare = _strip_comments_strings(code)
    for name, op in (("min", "<"), ("max", ">")):
        if re.search(rf"(?<![\w.]){name}\(", bare) and not re.search(rf"func\s+{name}\b", bare):
            out += (
                f"\n\nfunc {name}[T {GO_ORDERED}](a T, rest ...T) T {{\n"
                f"    for _, b := range rest {{\n        if b {op} a {{\n"
                "            a = b\n        }\n"
                "    }\n    return a\n}\n"
            )
    return out


def strip_nullable_refs(code: str) -> str:
    """C# 8 nullable reference annotations (`string?`, `object?`, `List<int>?`) for mcs."""
    return re.sub(r"\b(string|object|dynamic)\?(?=[\s>,)\[])|(>)\?(?=\s+\w)", r"\1\2", code)


# ---------------------------------------------------------------- languages
@dataclass(frozen=True)
class Language:
    """How to build and run one language in the sandbox; `tools` are resolved on the host."""

    name: str
    source: str  # file name of the program
    tools: tuple[str, ...]  # executables that must exist (first one located for its directory)
    script: str  # sh script run in the sandbox's working dir; {tool} placeholders
    env: tuple[tuple[str, str], ...] = ()


LANGUAGES: dict[str, Language] = {
    "python": Language(
        "python", "main.py", ("python3",), 'cp "$SRC"/main.py . && {python3} main.py'
    ),
    "javascript": Language(
        "javascript", "main.mjs", ("node",), 'cp "$SRC"/main.mjs . && {node} main.mjs'
    ),
    "typescript": Language(
        "typescript",
        "main.ts",
        ("node", "tsc"),
        'cp "$SRC"/main.ts . && {node} {tsc} --target es2021 --lib es2021 --module commonjs'
        " --noEmitOnError"
        " --skipLibCheck --outDir out main.ts >&2 || exit 97\n{node} out/main.js",
    ),
    "java": Language(
        "java",
        "Main.java",
        ("java",),
        'cp "$SRC"/Main.java . && {java} -Xmx512m -Xss16m -XX:+UseSerialGC -XX:TieredStopAtLevel=1'
        " -XX:CICompilerCount=2 -Xshare:auto Main.java",
    ),
    "csharp": Language(
        "csharp",
        "main.cs",
        ("mcs", "mono"),
        'cp "$SRC"/main.cs . && {mcs} -nologo -nowarn:0162,0168,0219,0414,0649 -r:System.Numerics'
        " -out:main.exe main.cs >&2 || exit 97\n{mono} main.exe",
    ),
    "go": Language(
        "go",
        "main.go",
        ("go",),
        'cp "$SRC"/main.go . && {go} build -o main main.go >&2 || exit 97\n./main',
        (
            ("GOCACHE", "/tmp/.gocache"),
            ("GOPATH", "/tmp/.gopath"),
            ("GO111MODULE", "off"),
            ("CGO_ENABLED", "0"),
            ("GOFLAGS", "-buildvcs=false"),
            ("GOTOOLCHAIN", "local"),
        ),
    ),
    "rust": Language(
        "rust",
        "main.rs",
        ("rustc",),
        'cp "$SRC"/main.rs . && {rustc} --edition 2021 -C opt-level=1 -C debuginfo=0 -A warnings'
        " -o main main.rs >&2 || exit 97\n./main",
    ),
}


@cache
def _locate(tool: str) -> tuple[str, list[str]] | None:
    """(absolute path to run, directories to bind read-only) for a tool, or None if missing."""
    if tool == "python3":  # a system interpreter: pyenv shims and venvs do not work inside
        for p in ("/usr/bin/python3", "/usr/local/bin/python3"):
            if os.access(p, os.X_OK):
                return p, []
        return None
    if tool == "rustc" and shutil.which("rustc"):
        try:
            sysroot = subprocess.run(
                ["rustc", "--print", "sysroot"], capture_output=True, text=True, timeout=60
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None
        exe = os.path.join(sysroot, "bin", "rustc")
        return (exe, [sysroot]) if os.access(exe, os.X_OK) else None
    found = shutil.which(tool)
    if found is None:
        return None
    real = os.path.realpath(found)
    # the installation prefix (JDK home, GOROOT, the typescript package, /usr): what lies outside
    # /usr and /etc is bound read-only into the sandbox
    return real, [os.path.dirname(os.path.dirname(real))]


def in_system_dirs(path: str) -> bool:
    """True for /usr, /etc and what lies under them (bound read-only in every sandbox)."""
    return any(path == d or path.startswith(d + "/") for d in ("/usr", "/etc"))


def toolchain(lang: str) -> tuple[dict[str, str], list[str]] | str:
    """({tool: path}, read-only dirs) when every tool of `lang` exists, else a reason string."""
    paths, ro = {}, []
    for tool in LANGUAGES[lang].tools:
        loc = _locate(tool)
        if loc is None:
            where = "/usr/bin or /usr/local/bin" if tool == "python3" else "PATH"
            return f"{tool} not found on {where} (scripts/setup-toolchains.sh {lang} installs it)"
        paths[tool], dirs = loc
        ro += dirs
    return paths, ro


# ---------------------------------------------------------------- program assembly
def _calls(problem: Problem, lang: str, code: str) -> list[tuple[str, list[str]]]:
    """(entry name in the program, [argument literals]) for every test case."""
    out = []
    rust_types: dict[str, list[str]] = {}
    for case in problem.tests:
        fn = problem.function(case.entry)
        name = entry_name(lang, code, fn.name)
        types = [t for _, t in fn.params]
        if lang == "python":
            args = [lit_python(v) for v in case.args]
        elif lang in ("javascript", "typescript"):
            args = [lit_js(v, t) for v, t in zip(case.args, types, strict=True)]
        elif lang == "java":
            args = [lit_java(v, t) for v, t in zip(case.args, types, strict=True)]
        elif lang == "csharp":
            args = [lit_cs(v, t) for v, t in zip(case.args, types, strict=True)]
        elif lang == "go":
            args = [lit_go(v, t) for v, t in zip(case.args, types, strict=True)]
        elif lang == "rust":
            if name not in rust_types:
                rust_types[name] = rust_signature(code, name)
            rts = rust_types[name]
            if len(rts) != len(case.args):
                raise CodescaleError(f"{problem.task_id}: fn {name} takes {len(rts)} parameters")
            args = [lit_rust(v, t) for v, t in zip(case.args, rts, strict=True)]
        else:
            raise CodescaleError(f"unknown language {lang!r}")
        out.append((name, args))
    return out


def assemble(problem: Problem, lang: str, code: str) -> str:
    """The full source file: prelude + program + test main (see the module doc)."""
    try:
        calls = _calls(problem, lang, code)
    except CodescaleError:
        if lang != "rust":
            raise
        # a program whose signature cannot be read cannot be called: it fails to compile
        return RUST_PRELUDE + code + '\nfn main() { compile_error!("no callable entry point"); }\n'
    if lang == "python":
        lines = [f"print({MARK!r} + __j.dumps({n}({', '.join(a)})), flush=True)" for n, a in calls]
        return PY_PRELUDE + code + "\n\nimport json as __j\n" + "\n".join(lines) + "\n"
    if lang in ("javascript", "typescript"):
        rep = "(k, v) => (v instanceof Map ? Object.fromEntries(v) : v)"
        lines = [
            f"console.log({MARK!r} + JSON.stringify({n}({', '.join(a)}), {rep}));" for n, a in calls
        ]
        prelude = JS_PRELUDE if lang == "javascript" else TS_PRELUDE
        return prelude + code + "\n\n" + "\n".join(lines) + "\n"
    if lang == "java":
        body = "\n".join(
            f'        System.out.println("{MARK}"'
            f" + CodescaleJson.dump(Global.{n}({', '.join(a)})));"
            for n, a in calls
        )
        main = (
            "public class Main {\n    public static void main(String[] args) {\n"
            f"{body}\n    }}\n}}\n"
        )
        return JAVA_PRELUDE + main + code + "\n" + JAVA_PRINTER
    if lang == "csharp":
        body = "\n".join(
            f'        Console.WriteLine("{MARK}" + CodescaleJson.Dump(Global.{n}({", ".join(a)})));'
            for n, a in calls
        )
        main = f"class CodescaleMain {{\n    static void Main() {{\n{body}\n    }}\n}}\n"
        return CS_PRELUDE + strip_nullable_refs(code) + "\n" + main + CS_PRINTER
    if lang == "go":
        imports = "".join(f'    "{p}"\n' for p in go_imports(code))
        code = code + go_minmax(code)
        body = "\n".join(f"    codescaleOut({n}({', '.join(a)}))" for n, a in calls)
        return (
            f'package main\n\nimport (\n{imports}    cjson "encoding/json"\n    cos "os"\n)\n\n'
            f"{code}\n\nfunc codescaleOut(v interface{{}}) {{\n"
            "    b, err := cjson.Marshal(v)\n    if err != nil {\n        panic(err)\n    }\n"
            f'    cos.Stdout.WriteString("{MARK}" + string(b) + "\\n")\n}}\n\n'
            f"func main() {{\n{body}\n}}\n"
        )
    if lang == "rust":
        body = "\n".join(
            f'    println!("{MARK}{{}}", codescale_json::ToJson::to_json(&{n}({", ".join(a)})));'
            for n, a in calls
        )
        return RUST_PRELUDE + code + "\n" + RUST_PRINTER + f"\nfn main() {{\n{body}\n}}\n"
    raise CodescaleError(f"unknown language {lang!r}")


# ---------------------------------------------------------------- verdicts
def values_equal(actual: Any, expected: Any, nil_is_empty: bool = False) -> bool:
    """The harness's comparison (see the module doc)."""
    if expected is None:
        return actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and math.isclose(
            actual, expected, rel_tol=1e-6, abs_tol=1e-6
        )
    if isinstance(expected, str):
        return actual == expected
    if isinstance(expected, list):
        if actual is None and nil_is_empty and not expected:
            return True
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(values_equal(a, e, nil_is_empty) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, dict):
        if actual is None and nil_is_empty and not expected:
            return True
        return (
            isinstance(actual, dict)
            and set(actual) == set(expected)
            and all(values_equal(actual[k], expected[k], nil_is_empty) for k in expected)
        )
    return False


@dataclass
class Verdict:
    """One program on one task: passed, why not, cases passed, the execution's outcome."""

    passed: bool
    reason: str  # pass | compile_error | runtime_error | wrong_answer | timeout | output_limit ...
    cases_passed: int
    cases: int
    wall_s: float
    stderr_tail: str = ""


def judge(problem: Problem, lang: str, outcome: Outcome) -> Verdict:
    lines = [ln[len(MARK) :] for ln in outcome.stdout.splitlines() if ln.startswith(MARK)]
    n = len(problem.tests)
    good = 0
    for line, case in zip(lines, problem.tests, strict=False):
        try:
            actual = json.loads(line)
        except json.JSONDecodeError:
            continue
        good += values_equal(actual, case.expected, nil_is_empty=lang == "go")
    tail = outcome.stderr[-400:]
    if outcome.status in ("timeout", "output_limit", "signal"):
        reason = outcome.status
    elif outcome.status == "exit":
        compiled = outcome.returncode != COMPILE_FAILED and not any(
            sign in outcome.stderr for sign in COMPILE_SIGNS.get(lang, ())
        )
        reason = "runtime_error" if compiled else "compile_error"
    elif good == n and len(lines) == n:
        return Verdict(True, "pass", good, n, outcome.wall_s, tail)
    else:
        reason = "wrong_answer"
    return Verdict(False, reason, good, n, outcome.wall_s, tail)


def execute_program(
    problem: Problem,
    lang: str,
    code: str,
    sandbox: Sandbox,
    limits: Limits,
    slot: int = 0,
) -> Verdict:
    """Assemble, run in the sandbox and judge one program; a missing toolchain is an error."""
    tc = toolchain(lang)
    if isinstance(tc, str):
        raise CodescaleError(f"cannot execute {lang}: {tc}")
    paths, ro = tc
    spec = LANGUAGES[lang]
    try:
        source = assemble(problem, lang, code)
    except CodescaleError as err:
        return Verdict(False, "harness_error", 0, len(problem.tests), 0.0, str(err))
    mounts = []
    if sandbox.mode == "bwrap":  # toolchains outside /usr (rustup under /root) get a neutral path
        outside = dict.fromkeys(d for d in ro if not in_system_dirs(d))
        for i, d in enumerate(outside):
            inside = f"/opt/codescale-toolchain-{i}"
            mounts.append((d, inside))
            paths = {
                t: inside + p[len(d) :] if p.startswith(d + "/") else p for t, p in paths.items()
            }
    script = spec.script.format(**paths)
    sb = Sandbox(sandbox.mode, [*sandbox.ro_paths, *mounts], sandbox.uid_base)
    files = {spec.source: source, "run.sh": script + "\n"}
    argv = ["/bin/sh", "-c", '. "$SRC/run.sh"']
    outcome = run_sandboxed(sb, files, argv, limits, dict(spec.env), slot)
    return judge(problem, lang, outcome)
