"""Writes the small test shards of tests/data/layouts (rerun to regenerate; output is stable).

Our own rows (short functions written for these tests), in the column layouts of real corpora:

- the-stack-v1/data/<lang>/train-00000-of-00001.parquet: The Stack v1 (bigcode/the-stack), one
  folder per language, columns hexsha, size, ext, lang, max_stars_repo_path, max_stars_repo_name,
  max_stars_count, content; `lang` holds display names (Python, Java, Go).
- starcoderdata/<lang>/train-00000-of-00001.parquet: StarCoderData (bigcode/starcoderdata), one
  folder per language and no language column; columns max_stars_repo_path, max_stars_repo_name,
  max_stars_count, id, content.
- the-stack-v2/train-0000{0,1}-of-00002.parquet: The Stack v2 with contents fetched (repo_name,
  path, language, content, blob_id, ...), languages mixed in each shard, one a Rust row.
- the-stack-v2-ids/train-00000-of-00001.parquet: The Stack v2 main release: blob_id and metadata,
  no content (it lives in Software Heritage's bucket).

    python tests/data/layouts/make_layouts.py
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent
LANGS = {"python": ("Python", ".py"), "java": ("Java", ".java"), "go": ("Go", ".go")}


def source(lang: str, name: str, k: int) -> str:
    """A short function in `lang`, different for each (name, k)."""
    if lang == "python":
        return (
            f"def {name}(values):\n    total = 0\n    for value in values:\n"
            f"        total += value * {k}\n    return total\n"
        )
    if lang == "java":
        return (
            f"public class {name.title()} {{\n    static int apply(int[] values) {{\n"
            f"        int total = 0;\n        for (int v : values) {{\n"
            f"            total += v * {k};\n        }}\n        return total;\n    }}\n}}\n"
        )
    return (
        f"package main\n\nfunc {name}(values []int) int {{\n\ttotal := 0\n"
        f"\tfor _, v := range values {{\n\t\ttotal += v * {k}\n\t}}\n\treturn total\n}}\n"
    )


def rows(lang: str, repos: int = 4, files: int = 2) -> list[dict]:
    """Files of `repos` repositories, `files` each: repo, path, content, sha."""
    out = []
    for r in range(repos):
        for f in range(files):
            name = f"scale_{lang}_{r}_{f}"
            content = source(lang, name, 3 * r + f + 2)
            out.append(
                {
                    "repo": f"org{r}/{lang}-tools",
                    "path": f"src/{name}{LANGS[lang][1]}",
                    "content": content,
                    "sha": hashlib.sha1(content.encode()).hexdigest(),
                }
            )
    return out


def write(path: Path, table: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(table), path, compression="zstd")


def main() -> None:
    for lang, (display, ext) in LANGS.items():
        rs = rows(lang)
        write(
            HERE / "the-stack-v1" / "data" / lang / "train-00000-of-00001.parquet",
            {
                "hexsha": [r["sha"] for r in rs],
                "size": [len(r["content"]) for r in rs],
                "ext": [ext[1:]] * len(rs),
                "lang": [display] * len(rs),
                "max_stars_repo_path": [r["path"] for r in rs],
                "max_stars_repo_name": [r["repo"] for r in rs],
                "max_stars_count": [3] * len(rs),
                "content": [r["content"] for r in rs],
            },
        )
        write(
            HERE / "starcoderdata" / lang / "train-00000-of-00001.parquet",
            {
                "max_stars_repo_path": [r["path"] for r in rs],
                "max_stars_repo_name": [r["repo"] for r in rs],
                "max_stars_count": [3] * len(rs),
                "id": [str(i) for i in range(len(rs))],  # per-language numbering: ids repeat
                "content": [r["content"] for r in rs],
            },
        )
    mixed = [
        {**r, "language": LANGS[lang][0]} for lang in LANGS for r in rows(lang, repos=5, files=1)
    ]
    rust = "fn scale(values: &[i64]) -> i64 {\n    values.iter().map(|v| v * 2).sum()\n}\n"
    mixed.append(
        {"repo": "org9/rs", "path": "src/lib.rs", "content": rust, "sha": "0" * 40,
         "language": "Rust"}
    )  # fmt: skip
    for part in range(2):
        rs = mixed[part::2]
        write(
            HERE / "the-stack-v2" / f"train-{part:05d}-of-00002.parquet",
            {
                "blob_id": [r["sha"] for r in rs],
                "repo_name": [r["repo"] for r in rs],
                "path": [r["path"] for r in rs],
                "language": [r["language"] for r in rs],
                "src_encoding": ["UTF-8"] * len(rs),
                "length_bytes": [len(r["content"]) for r in rs],
                "content": [r["content"] for r in rs],
            },
        )
    write(
        HERE / "the-stack-v2-ids" / "train-00000-of-00001.parquet",
        {
            "blob_id": [r["sha"] for r in mixed],
            "directory_id": [r["sha"][::-1] for r in mixed],
            "path": [r["path"] for r in mixed],
            "repo_name": [r["repo"] for r in mixed],
            "language": [r["language"] for r in mixed],
            "length_bytes": [len(r["content"]) for r in mixed],
        },
    )


if __name__ == "__main__":
    main()
