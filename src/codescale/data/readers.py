"""Corpus inputs other than the registries: local directories and Stack-v2-style shards.

Every reader yields `Candidate`s: one source file with its language, repository and raw content,
before any filter ran. What a "repository" is (the unit the split stage never cuts through):

- directory source: each immediate subfolder of a root given in --paths is one repository (named by
  the subfolder); a file lying directly in a root is a repository of its own. Language comes from
  the file extension (`EXTENSION_LANGUAGE`, extended by --language-map .EXT=lang).
- shard source (parquet or jsonl[.gz], e.g. The Stack v2 layout): the repo column. Language comes
  from the language column, mapped by `SHARD_LANGUAGE_NAMES` and --language-map VALUE=lang, or, if
  the shards have no language column, from the path's extension.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from codescale import LANGUAGE_NAMES, LANGUAGES
from codescale.errors import CodescaleError

# Extensions of source files. .d.ts/.min.js end in these too: the filters drop them by name.
EXTENSION_LANGUAGE: dict[str, str] = {
    ".py": "python",
    ".java": "java",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".cs": "csharp",
    ".go": "go",
    ".rs": "rust",
}

# Language-column values seen in code datasets (The Stack v1/v2 use the display names).
SHARD_LANGUAGE_NAMES: dict[str, str] = {
    **{lang: lang for lang in LANGUAGES},
    **{name.lower(): lang for lang, name in LANGUAGE_NAMES.items()},
    "c-sharp": "csharp",
    "cs": "csharp",
    "py": "python",
    "js": "javascript",
    "ts": "typescript",
    "golang": "go",
    "rs": "rust",
}

# Logical shard columns -> column names tried in order (first present wins); --column overrides.
SHARD_COLUMNS: dict[str, tuple[str, ...]] = {
    "content": ("content", "text", "code"),
    "language": ("language", "lang"),
    "repo": ("repo_name", "max_stars_repo_name", "repo"),
    "path": ("path", "max_stars_repo_path", "file_path"),
    "id": ("blob_id", "hexsha", "id"),
}
REQUIRED_SHARD_COLUMNS = ("content", "repo", "path")
SHARD_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".ndjson")


@dataclass(frozen=True)
class Candidate:
    """One file before filtering. `data` is raw bytes (files) or text (text columns of shards)."""

    doc_id: str
    lang: str
    repo: str
    path: str
    data: bytes | str
    source: str
    origin: str  # which input it came from (a download, a root, a shard file), for the manifest

    @property
    def raw_size(self) -> int:
        if isinstance(self.data, bytes):
            return len(self.data)
        return len(self.data.encode("utf-8", errors="surrogatepass"))


def selection_key(*parts: str) -> bytes:
    """A stable pseudo-random order: the per-language cap keeps the smallest keys."""
    return hashlib.blake2b("\0".join(parts).encode("utf-8"), digest_size=16).digest()


def extension_language(path: str, ext_map: Mapping[str, str]) -> str | None:
    name = PurePosixPath(path).name.lower()
    # longest matching suffix wins, so a user's ".d.ts=..." could beat ".ts"
    for ext in sorted(ext_map, key=len, reverse=True):
        if name.endswith(ext):
            return ext_map[ext]
    return None


def parse_language_map(items: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split VALUE=lang items into (extension map additions, shard value map additions)."""
    ext_map: dict[str, str] = {}
    value_map: dict[str, str] = {}
    for item in items:
        value, sep, lang = item.partition("=")
        if not sep or not value or lang not in LANGUAGES:
            raise CodescaleError(
                f"--language-map {item!r}: expected VALUE=lang, lang in {', '.join(LANGUAGES)}"
            )
        if value.startswith("."):
            ext_map[value.lower()] = lang
        else:
            value_map[value.lower()] = lang
    return ext_map, value_map


def parse_columns(items: Iterable[str]) -> dict[str, str]:
    """--column LOGICAL=NAME items -> {logical: name}."""
    out: dict[str, str] = {}
    for item in items:
        logical, sep, name = item.partition("=")
        if not sep or not name or logical not in SHARD_COLUMNS:
            raise CodescaleError(
                f"--column {item!r}: expected LOGICAL=NAME with LOGICAL one of "
                f"{', '.join(SHARD_COLUMNS)}"
            )
        out[logical] = name
    return out


def _require_exists(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    out = [Path(p) for p in paths]
    if not out:
        raise CodescaleError("--paths is required for this source")
    for p in out:
        if not p.exists():
            raise CodescaleError(f"input path does not exist: {p}")
    return out


def read_directories(
    roots: Iterable[str | os.PathLike[str]], languages: Iterable[str], ext_map: Mapping[str, str]
) -> Iterator[Candidate]:
    """Every file under each root whose extension maps to a wanted language, in sorted order."""
    wanted = set(languages)
    for root in _require_exists(roots):
        if not root.is_dir():
            raise CodescaleError(f"--source directory needs directories, got a file: {root}")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                full = Path(dirpath) / name
                rel = full.relative_to(root).as_posix()
                lang = extension_language(rel, ext_map)
                if lang not in wanted or not full.is_file() or full.is_symlink():
                    continue
                parts = rel.split("/")
                yield Candidate(
                    doc_id=f"{root.name}/{rel}",
                    lang=lang,
                    repo=parts[0],
                    path=rel,
                    data=full.read_bytes(),
                    source=f"directory:{root.name}",
                    origin=str(root),
                )


def shard_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The shard files named by --paths (files, or directories searched recursively), sorted."""
    files: list[Path] = []
    for p in _require_exists(paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.name.endswith(SHARD_SUFFIXES))
            if not found:
                raise CodescaleError(f"no shard files ({', '.join(SHARD_SUFFIXES)}) under {p}")
            files.extend(found)
        elif p.name.endswith(SHARD_SUFFIXES):
            files.append(p)
        else:
            raise CodescaleError(f"not a shard file (want {', '.join(SHARD_SUFFIXES)}): {p}")
    return files


def _resolve_columns(file: Path, available: Iterable[str], override: Mapping[str, str]) -> dict:
    available = list(available)
    resolved: dict[str, str | None] = {}
    for logical, candidates in SHARD_COLUMNS.items():
        if logical in override:
            if override[logical] not in available:
                raise CodescaleError(
                    f"{file}: column {override[logical]!r} (--column {logical}=...) not found; "
                    f"columns are {', '.join(available)}"
                )
            resolved[logical] = override[logical]
            continue
        resolved[logical] = next((c for c in candidates if c in available), None)
        if resolved[logical] is None and logical in REQUIRED_SHARD_COLUMNS:
            raise CodescaleError(
                f"{file}: no {logical} column (tried {', '.join(candidates)}; "
                f"pass --column {logical}=NAME); columns are {', '.join(available)}"
            )
    return resolved


def _parquet_rows(file: Path, override: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(file)
    except Exception as err:  # pyarrow raises several types for a bad file
        raise CodescaleError(f"{file}: not a readable parquet file ({err})") from err
    cols = _resolve_columns(file, pf.schema_arrow.names, override)
    wanted = [c for c in cols.values() if c is not None]
    for batch in pf.iter_batches(batch_size=1024, columns=wanted):
        data = batch.to_pydict()
        for i in range(batch.num_rows):
            yield {k: (data[c][i] if c is not None else None) for k, c in cols.items()}


def _jsonl_rows(file: Path, override: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    opener = gzip.open if file.name.endswith(".gz") else open
    cols: dict[str, str | None] | None = None
    with opener(file, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise CodescaleError(f"{file}:{lineno}: invalid JSON ({err.msg})") from err
            if not isinstance(row, dict):
                raise CodescaleError(f"{file}:{lineno}: expected a JSON object per line")
            if cols is None:
                cols = _resolve_columns(file, row.keys(), override)
            yield {k: (row.get(c) if c is not None else None) for k, c in cols.items()}


def read_shards(
    paths: Iterable[str | os.PathLike[str]],
    languages: Iterable[str],
    columns: Mapping[str, str],
    value_map: Mapping[str, str],
    ext_map: Mapping[str, str],
) -> Iterator[Candidate]:
    """Rows of parquet / jsonl shards as candidates, for the wanted languages only."""
    wanted = set(languages)
    names = {**SHARD_LANGUAGE_NAMES, **{k.lower(): v for k, v in value_map.items()}}
    for file in shard_files(paths):
        reader = _parquet_rows if file.name.endswith(".parquet") else _jsonl_rows
        for row_no, row in enumerate(reader(file, columns)):
            path = row["path"]
            if row["language"] is not None:
                lang = names.get(str(row["language"]).lower())
            else:
                lang = extension_language(str(path or ""), ext_map)
            if lang not in wanted:
                continue
            content = row["content"]
            if content is None:
                content = b""
            if not isinstance(content, (str, bytes)):
                raise CodescaleError(f"{file} row {row_no}: content is {type(content).__name__}")
            if path is None or row["repo"] is None:
                raise CodescaleError(f"{file} row {row_no}: missing repo or path value")
            doc_id = str(row["id"]) if row["id"] is not None else f"{file.name}#{row_no}"
            yield Candidate(
                doc_id=doc_id,
                lang=lang,
                repo=str(row["repo"]),
                path=str(path),
                data=content,
                source=f"shards:{file.name}",
                origin=str(file),
            )
