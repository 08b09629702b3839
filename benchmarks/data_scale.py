"""The data half (corpus -> dedup -> split -> tokenizer -> tokenize) at 1x, 4x and 16x corpus size.

Runs the real workflow through `snakemake --until tokenize` (local executor) on a generated
corpus of real-looking code and reads the `benchmark:` files of the data rules (logs/bench/RULE/
...tsv, one per job: wall seconds and max RSS). With a fixed `corpus.part_mb`, a bounded design
keeps every per-part job's peak RSS flat across sizes (ratio 16x/1x about 1) while the total CPU
time of the per-part rules grows linearly (about 16, plus a fixed start per job); per-language
gathers grow only with their small per-document records.

Corpus: a unit of Python files from the running Python's standard library (0.5-64 KB each,
sorted, about --unit-mb), copied `scale` times; copy c > 0 renames every identifier (`name_c`),
so each copy is new code; in every copy 1 file in 10 also appears as an exact duplicate and 1 in
10 as a near duplicate (one line changed) in another repository, so dedup removes the same share
at every size. 8 files per repository. One language (python) keeps the 16x run at a few minutes
on 2 CPUs.

    OMP_NUM_THREADS=1 nice python benchmarks/data_scale.py [--unit-mb 1] [--part-mb 1]
        [--scales 1 4 16] [--workdir /tmp/data-scale] [--json out.json] [--reread out.json]
"""

from __future__ import annotations

import sys

# benchmarks/ holds scripts named like stdlib modules (tokenize.py): keep it off the import path
sys.path[:] = [p for p in sys.path if p not in ("", __file__.rsplit("/", 1)[0])]

import argparse  # noqa: E402
import builtins  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import keyword  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
KEEP = set(keyword.kwlist) | set(dir(builtins)) | {"self", "cls"}
IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{2,}\b")
FILES_PER_REPO = 8


def unit_files(unit_mb: float) -> list[Path]:
    """Standard-library .py files (0.5-64 KB, sorted by path) up to unit_mb MB."""
    out, total = [], 0
    for path in sorted(Path(os.path.dirname(os.__file__)).rglob("*.py")):
        if "test" in path.parts or "site-packages" in path.parts or "dist-packages" in path.parts:
            continue
        try:
            size = path.stat().st_size
            path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if 500 <= size <= 64_000 and "idlelib" not in path.parts:
            out.append(path)
            total += size
            if total >= unit_mb * 1e6:
                break
    return out


def mutate(text: str, copy: int) -> str:
    """Copy 0 is the file itself; copy c renames every identifier that is not a keyword or a
    builtin to `name_c`, so its shingles are new (new code of the same shape)."""
    if copy == 0:
        return text
    return IDENT.sub(lambda m: m.group(0) if m.group(0) in KEEP else f"{m.group(0)}_{copy}", text)


def generate(files: list[Path], scale: int, out: Path) -> dict[str, int]:
    """`scale` copies of the unit, 8 files per repository, with planted duplicates."""
    shutil.rmtree(out, ignore_errors=True)
    counts = {"files": 0, "bytes": 0, "exact": 0, "near": 0}

    def write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        counts["files"] += 1
        counts["bytes"] += len(text.encode())

    for copy in range(scale):
        for k, src in enumerate(files):
            text = mutate(src.read_text(encoding="utf-8"), copy)
            repo = out / f"r{copy:03d}_{k // FILES_PER_REPO:04d}"
            write(repo / f"{src.stem}_{k}.py", text)
            other = out / f"r{copy:03d}_{(k // FILES_PER_REPO + 1) % 1000:04d}"
            if k % 10 == 0:
                write(other / f"dup_{src.stem}_{k}.py", text)
                counts["exact"] += 1
            elif k % 10 == 5:
                lines = text.splitlines()
                lines[len(lines) // 2] += "  # changed"
                write(other / f"near_{src.stem}_{k}.py", "\n".join(lines) + "\n")
                counts["near"] += 1
    return counts


def config(corpus_dir: Path, part_mb: float) -> dict:
    """The smoke study's data settings on the generated corpus, one language."""
    cfg = yaml.safe_load((REPO / "config/smoke.yaml").read_text())
    cfg["languages"] = ["python"]
    cfg["corpus"] = {
        "source": "directory",
        "paths": [str(corpus_dir)],
        "cap_bytes_per_language": 10**12,
    }
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    if "part_mb" in schema["properties"]["corpus"]["properties"]:
        cfg["corpus"]["part_mb"] = part_mb
    cfg["split"] = {"validation": 0.05, "test": 0.05}
    cfg["tokenizer"] = {"vocab_size": 1024, "sample_bytes_per_language": 500_000}
    shared = REPO.parent / "shared/data/parallel"
    if shared.is_dir():
        cfg.setdefault("parallel", {})["path"] = str(shared)
    cfg.pop("execute", None)
    return cfg


def _number(value: str) -> float:
    return float(value) if value not in ("", "NA", "-") else float("nan")


def read_bench(workdir: Path) -> dict[str, list[tuple[float, float, float]]]:
    """rule -> [(wall s, max_rss MB, CPU s)] of every job's benchmark file."""
    out: dict[str, list[tuple[float, float, float]]] = {}
    for tsv in sorted((workdir / "logs/bench").rglob("*.tsv")):
        rule = tsv.relative_to(workdir / "logs/bench").parts[0]
        with open(tsv) as fh:
            row = next(csv.DictReader(fh, delimiter="\t"))
        job = (_number(row["s"]), _number(row["max_rss"]), _number(row["cpu_time"]))
        out.setdefault(rule, []).append(job)
    return out


def run_scale(files: list[Path], scale: int, args: argparse.Namespace) -> dict:
    wd = Path(args.workdir) / f"x{scale}"
    shutil.rmtree(wd, ignore_errors=True)
    wd.mkdir(parents=True)
    counts = generate(files, scale, wd / "corpus")
    cfg_path = wd / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(config(wd / "corpus", args.part_mb)))
    cmd = [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile")]
    cmd += ["--directory", str(wd), "--configfile", str(cfg_path), "--until", "tokenize"]
    cmd += ["-c", str(args.cores), "--quiet", "rules"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"snakemake failed at {scale}x:\n{proc.stderr[-4000:]}")
    return {"scale": scale, "corpus": counts, "wall_s": round(wall, 1), "jobs": read_bench(wd)}


def table(results: list[dict]) -> str:
    """Per rule: jobs, max per-job RSS (MB) and total job CPU seconds at each scale, and the
    ratios last/first scale. CPU time, not wall time: on shared cores a job's wall time is
    mostly waiting (the total wall time of the Snakemake run is the last line)."""
    scales = [r["scale"] for r in results]
    rules = list(dict.fromkeys(rule for r in results for rule in r["jobs"]))
    head = ["rule"] + [f"jobs {s}x" for s in scales] + [f"RSS MB {s}x" for s in scales]
    head += [f"CPU s {s}x" for s in scales]
    head += [f"RSS {scales[-1]}x/{scales[0]}x", f"CPU {scales[-1]}x/{scales[0]}x"]
    rows = []
    for rule in rules:
        per = [r["jobs"].get(rule, []) for r in results]
        rss = [max((job[1] for job in p), default=float("nan")) for p in per]
        sec = [sum(job[2] for job in p) for p in per]
        rows.append(
            [rule]
            + [str(len(p)) for p in per]
            + [f"{m:.0f}" for m in rss]
            + [f"{s:.1f}" for s in sec]
            + [f"{rss[-1] / rss[0]:.2f}" if rss[0] else "-"]
            + [f"{sec[-1] / sec[0]:.1f}" if sec[0] else "-"]
        )
    wall = [r["wall_s"] for r in results]
    rows.append(
        ["(snakemake wall)"] + [""] * len(scales) * 2 + [f"{w:.1f}" for w in wall]
        + ["", f"{wall[-1] / wall[0]:.1f}"]
    )  # fmt: skip
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unit-mb", type=float, default=1.0, help="corpus MB at 1x")
    parser.add_argument("--part-mb", type=float, default=1.0, help="corpus.part_mb (fixed)")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", default="/tmp/data-scale")
    parser.add_argument("--json", help="also write the measurements here")
    parser.add_argument(
        "--reread", help="a --json of an earlier run: read its workdir's benchmark files again"
    )
    args = parser.parse_args()
    if args.reread:
        results = json.loads(Path(args.reread).read_text())
        for res in results:
            res["jobs"] = read_bench(Path(args.workdir) / f"x{res['scale']}")
        print(table(results))
        return
    files = unit_files(args.unit_mb)
    results = []
    for scale in args.scales:
        res = run_scale(files, scale, args)
        c = res["corpus"]
        print(
            f"{scale}x: {c['files']} files, {c['bytes'] / 1e6:.1f} MB ({c['exact']} exact and "
            f"{c['near']} near duplicates planted), snakemake {res['wall_s']} s",
            flush=True,
        )
        results.append(res)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
