"""Corpus inputs other than the registries: local directories and shard files (parquet, jsonl).

Every reader yields `Candidate`s: one source file with its language, repository and content (or,
for a file on disk, where to read it: the corpus stage reads it only after the size check, so a
400 MB file is skipped by its `stat` size and never loaded). What a "repository" is (the unit the
split stage never cuts through):

- directory source: each immediate subfolder of a root in `corpus.paths` is one repository (named
  by the subfolder); a file lying directly in a root is a repository of its own. Language comes
  from the file extension (`EXTENSION_LANGUAGE`, extended by `.EXT: lang` items of
  `corpus.language_map`). doc_id = ROOT_NAME/relative path.
- shard source (parquet or jsonl[.gz]): the repo column. Language comes from the language column
  (values mapped by `SHARD_LANGUAGE_NAMES` and `corpus.language_map`); shards without one (e.g.
  StarCoderData) take it from the shard's folder when that folder is named after a language
  (`starcoderdata/python/train-00000.parquet`), else from the extension of the path column.
  doc_id = the id column's value, or (no id column) the shard's path relative to the folder that
  holds all shards, '#', the row number: per-language folders with the same file names
  (`data/python/train-00000.parquet`, `data/go/train-00000.parquet`) get different ids.

Column names are detected (`SHARD_COLUMNS`, first present wins), which covers The Stack v1
(content, lang, max_stars_repo_name, max_stars_repo_path, hexsha), StarCoderData (content,
max_stars_repo_name, max_stars_repo_path, id) and The Stack v2 with contents (content, language,
repo_name, path, blob_id); `corpus.columns.<logical>` names a column where detection would miss it.
A jsonl shard's columns are those of its first row.

Bad input is a counted skip or a clear error, never a traceback (reasons in
codescale.data.filters): a symlink is never followed (counted `symlink`: its target may be another
file of the corpus, outside it, or a loop; The Stack keeps no symlinks either), and a folder
symlink is not descended; a file that cannot be opened or is no regular file (FIFO, socket,
device: opening one could block) is counted `unreadable`; a folder that cannot be listed is
reported in the manifest and the log. File names that are not UTF-8 are read; in ids, paths and
messages their undecodable bytes appear as `\\xNN` (`shown`).
"""

from __future__ import annotations

import errno
import glob
import gzip
import hashlib
import json
import os
import stat
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from codescale import LANGUAGES

# Extensions of source files (.d.ts/.min.js end in these too: the filters drop them by name) and
# language-column values seen in code datasets: the study's one catalog of languages. Used here
# and as readers.EXTENSION_LANGUAGE by the corpus stage, the registry reader and the rules.
from codescale.catalog import EXTENSION_LANGUAGE as EXTENSION_LANGUAGE
from codescale.catalog import SHARD_LANGUAGE_NAMES
from codescale.errors import CodescaleError

# Logical shard columns -> column names tried in order (first present wins); corpus.columns (the
# command line's --column LOGICAL=NAME) names one explicitly.
SHARD_COLUMNS: dict[str, tuple[str, ...]] = {
    "content": ("content", "text", "code"),
    "language": ("language", "lang"),
    "repo": ("repo_name", "max_stars_repo_name", "repo"),
    "path": ("path", "max_stars_repo_path", "file_path"),
    "id": ("blob_id", "hexsha", "id"),
}
REQUIRED_SHARD_COLUMNS = ("content", "repo", "path")
COLUMN_MEANING = {
    "content": "the file's text",
    "repo": "the repository name (the unit of the train/validation/test split)",
    "path": "the file's path inside its repository",
}
SHARD_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".ndjson")
# Columns that address a file's content stored elsewhere (The Stack v2's main release).
CONTENT_ADDRESS_COLUMNS = ("blob_id", "content_id", "sha", "hexsha")


def shown(path: str | os.PathLike[str]) -> str:
    """A path as valid UTF-8 text: bytes of a name that are not UTF-8 (a Latin-1 'é' is 0xE9)
    become `\\xNN` escapes. os.walk returns such names with surrogates (surrogateescape), which
    can be neither written to parquet/JSON nor printed safely; this is what ids, paths, repo names
    and messages use instead."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def safe_text(value: str) -> str:
    """A shard's repo/path/id value as valid UTF-8 text: a jsonl shard read with surrogateescape
    (bytes that were not UTF-8) or with JSON escapes of lone surrogates gives strings parquet cannot
    store; their bytes become `\\xNN` escapes, as in `shown`."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        pass
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class Candidate:
    """One file before filtering.

    `data` is raw bytes (archives, binary shard columns) or text (text columns of shards), or
    None for a file on disk (`file`, `file_size` bytes by stat) that the corpus stage reads after
    the size check. `reason` is set when the reader already knows the file goes (symlink,
    unreadable). `odd_name`: the file name was not UTF-8 (shown with `\\xNN` escapes).
    """

    doc_id: str
    lang: str
    repo: str
    path: str
    data: bytes | str | None
    source: str
    origin: str  # which input it came from (a download, a root, a shard file), for the manifest
    file: str | None = None
    file_size: int = 0
    reason: str | None = None
    odd_name: bool = False

    @property
    def raw_size(self) -> int:
        if self.data is None:
            return self.file_size
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
                f"corpus.language_map {item!r} (--language-map VALUE=lang): expected a column "
                f"value or .ext mapped to one of {', '.join(LANGUAGES)}"
            )
        if value.startswith("."):
            ext_map[value.lower()] = lang
        else:
            value_map[value.lower()] = lang
    return ext_map, value_map


def parse_columns(items: Iterable[str]) -> dict[str, str]:
    """--column LOGICAL=NAME items (corpus.columns) -> {logical: name}."""
    out: dict[str, str] = {}
    for item in items:
        logical, sep, name = item.partition("=")
        if not sep or not name or logical not in SHARD_COLUMNS:
            raise CodescaleError(
                f"corpus.columns {item!r} (--column LOGICAL=NAME): LOGICAL must be one of "
                f"{', '.join(SHARD_COLUMNS)}"
            )
        out[logical] = name
    return out


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """`corpus.paths` with glob patterns expanded (sorted; `**` recurses); every path must exist."""
    out: list[Path] = []
    given = [str(p) for p in paths]
    if not given:
        raise CodescaleError("corpus.paths is empty: list the shard files or folders to read")
    for p in given:
        if glob.has_magic(p):
            found = sorted(glob.glob(p, recursive=True))
            if not found:
                raise CodescaleError(f"corpus.paths: {shown(p)!r} matches no file")
            out.extend(Path(f) for f in found)
        elif not os.path.lexists(p):
            raise CodescaleError(f"corpus.paths: input path does not exist: {shown(p)}")
        else:
            out.append(Path(p))
    return out


def read_file(path: str, limit: int) -> tuple[bytes | None, str | None, int]:
    """A regular file's bytes, reading at most `limit` + 1: (data, None, size) or
    (None, reason, size) with reason `too_large` (by fstat, before reading, or grown since),
    `unreadable` (no permission, vanished, I/O error, or no regular file) or `symlink` (swapped in
    since the listing). O_NOFOLLOW: never through a link; O_NONBLOCK: a FIFO cannot block."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        return None, "symlink" if err.errno == errno.ELOOP else "unreadable", 0
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, "unreadable", 0
        if st.st_size > limit:
            return None, "too_large", st.st_size
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            return None, "too_large", total
        return b"".join(chunks), None, total
    except OSError:
        return None, "unreadable", 0
    finally:
        os.close(fd)


def read_directories(
    roots: Iterable[str | os.PathLike[str]],
    languages: Iterable[str],
    ext_map: Mapping[str, str],
    unlisted: list[str] | None = None,
) -> Iterator[Candidate]:
    """Every file under each root whose extension maps to a wanted language, in sorted order.

    Regular files come with data=None (read later, after the size check); symlinks and special
    files come with their reason. Folders that cannot be listed are appended to `unlisted`
    (shown names), since their files cannot even be counted.
    """
    wanted = set(languages)
    roots = expand_paths(roots)
    names: dict[str, Path] = {}
    for root in roots:
        if not root.is_dir():
            raise CodescaleError(
                f"corpus.paths: source 'directory' reads folders (each subfolder a repository); "
                f"not a folder: {shown(root)}"
            )
        name = shown(root.name or root.resolve().name)
        if name in names:
            raise CodescaleError(
                f"corpus.paths: two folders are named {name!r} ({shown(names[name])}, "
                f"{shown(root)}); doc_ids are FOLDER_NAME/relative path, so they would collide: "
                "rename one, or list a common parent folder instead"
            )
        names[name] = root

    def onerror(err: OSError) -> None:
        if unlisted is not None:
            unlisted.append(f"{shown(err.filename or '?')} ({err.strerror})")

    for root in roots:
        name = shown(root.name or root.resolve().name)
        for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fname in sorted(filenames):
                full = os.path.join(dirpath, fname)
                rel = Path(os.path.relpath(full, root)).as_posix()
                lang = extension_language(rel, ext_map)
                if lang not in wanted:
                    continue
                reason, size = None, 0
                try:
                    st = os.lstat(full)
                    size = st.st_size
                    if stat.S_ISLNK(st.st_mode):
                        reason, size = "symlink", 0
                    elif not stat.S_ISREG(st.st_mode):
                        reason, size = "unreadable", 0
                except OSError:
                    reason = "unreadable"
                safe = shown(rel)
                assert lang is not None
                yield Candidate(
                    doc_id=f"{name}/{safe}",
                    lang=lang,
                    repo=safe.split("/")[0],
                    path=safe,
                    data=None,
                    source=f"directory:{name}",
                    origin=shown(root),
                    file=full,
                    file_size=size,
                    reason=reason,
                    odd_name=safe != rel,
                )


def shard_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The shard files named by `corpus.paths` (files, folders searched recursively, globs)."""
    files: list[Path] = []
    for p in expand_paths(paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.name.endswith(SHARD_SUFFIXES))
            if not found:
                raise CodescaleError(
                    f"corpus.paths: no shard files ({', '.join(SHARD_SUFFIXES)}) under {shown(p)}"
                )
            files.extend(found)
        elif p.name.endswith(SHARD_SUFFIXES):
            files.append(p)
        else:
            raise CodescaleError(
                f"corpus.paths: not a shard file (want {', '.join(SHARD_SUFFIXES)}): {shown(p)}"
            )
    return files


def shard_root(files: list[Path]) -> str:
    """The deepest folder holding every shard file: ids without an id column are relative to
    it (one file alone: its own folder, so its ids are NAME#ROW)."""
    return os.path.commonpath([os.path.dirname(os.path.abspath(f)) for f in files])


def _missing_column_message(file: Path, logical: str, available: list[str]) -> str:
    cols = ", ".join(available)
    if logical == "content":
        address = [c for c in CONTENT_ADDRESS_COLUMNS if c in available]
        if address:
            return (
                f"{shown(file)}: no content column, only {address[0]!r}, which addresses file "
                "contents stored elsewhere (The Stack v2's main release keeps them in Software "
                "Heritage's S3 bucket, s3://softwareheritage/content/<blob_id>). codescale reads "
                "the text itself: download the contents into a 'content' column of these shards "
                "and point corpus.paths at them, or set corpus.columns.content if another column "
                f"holds the text; its columns are {cols}"
            )
    tried = ", ".join(SHARD_COLUMNS[logical])
    return (
        f"{shown(file)}: no {logical} column (looked for {tried}); set corpus.columns.{logical} to "
        f"the column holding {COLUMN_MEANING[logical]} (--column {logical}=NAME on the command "
        f"line); its columns are {cols}"
    )


def _resolve_columns(file: Path, available: Iterable[str], override: Mapping[str, str]) -> dict:
    available = list(available)
    resolved: dict[str, str | None] = {}
    for logical, candidates in SHARD_COLUMNS.items():
        if logical in override:
            if override[logical] not in available:
                raise CodescaleError(
                    f"{shown(file)}: corpus.columns.{logical} is {override[logical]!r}, but the "
                    f"shard has no such column; its columns are {', '.join(available)}"
                )
            resolved[logical] = override[logical]
            continue
        resolved[logical] = next((c for c in candidates if c in available), None)
        if resolved[logical] is None and logical in REQUIRED_SHARD_COLUMNS:
            raise CodescaleError(_missing_column_message(file, logical, available))
    return resolved


def _guarded(file: Path, kind: str, step: Callable[[], Any]) -> Any:
    """Run one read step; whatever pyarrow/gzip/OS raise becomes an error naming the file."""
    try:
        return step()
    except CodescaleError:
        raise
    except (OSError, EOFError, zlib.error, ValueError) as err:  # ArrowInvalid is a ValueError
        raise CodescaleError(f"{shown(file)}: not a readable {kind} file ({err})") from err


def _parquet_rows(file: Path, override: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    # opened here, not by pyarrow: pyarrow cannot open a name that is not UTF-8
    try:
        fh = open(file, "rb")  # noqa: SIM115 (closed by the with below)
    except OSError as err:
        raise CodescaleError(f"{shown(file)}: not a readable parquet file ({err})") from err
    with fh:
        pf = _guarded(file, "parquet", lambda: pq.ParquetFile(fh))
        cols = _resolve_columns(file, pf.schema_arrow.names, override)
        wanted = [c for c in cols.values() if c is not None]
        batches = iter(pf.iter_batches(batch_size=1024, columns=sorted(set(wanted))))
        while True:
            batch = _guarded(file, "parquet", lambda: next(batches, None))
            if batch is None:
                return
            data = batch.to_pydict()
            for i in range(batch.num_rows):
                yield {k: (data[c][i] if c is not None else None) for k, c in cols.items()}


def _jsonl_rows(file: Path, override: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    # surrogateescape: bytes that are not UTF-8 survive as surrogates, and the filters turn them
    # back into bytes (then UTF-8, then the fallback encoding), as for files on disk
    def opener() -> Any:
        if file.name.endswith(".gz"):
            return gzip.open(file, "rt", encoding="utf-8", errors="surrogateescape")
        return open(file, encoding="utf-8", errors="surrogateescape")

    fh = _guarded(file, "jsonl", opener)
    cols: dict[str, str | None] | None = None
    lineno = 0
    with fh:
        while True:
            line = _guarded(file, "jsonl", fh.readline)
            if not line:
                return
            lineno += 1
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise CodescaleError(f"{shown(file)}:{lineno}: invalid JSON ({err.msg})") from err
            if not isinstance(row, dict):
                raise CodescaleError(f"{shown(file)}:{lineno}: expected a JSON object per line")
            if cols is None:
                cols = _resolve_columns(file, row.keys(), override)
            yield {k: (row.get(c) if c is not None else None) for k, c in cols.items()}


def read_shards(
    paths: Iterable[str | os.PathLike[str]],
    languages: Iterable[str],
    columns: Mapping[str, str],
    value_map: Mapping[str, str],
    ext_map: Mapping[str, str],
    only: Collection[str] | None = None,
) -> Iterator[Candidate]:
    """Rows of parquet / jsonl shards as candidates, for the wanted languages only; with `only`,
    of those files alone (one corpus part; ids stay relative to the folder holding all shards)."""
    wanted = set(languages)
    names = {**SHARD_LANGUAGE_NAMES, **{k.lower(): v for k, v in value_map.items()}}
    files = shard_files(paths)
    root = shard_root(files)
    for file in files:
        if only is not None and str(file) not in only:
            continue
        rel = shown(Path(os.path.relpath(os.path.abspath(file), root)).as_posix())
        folder_lang = names.get(shown(file.parent.name).lower())
        reader = _parquet_rows if file.name.endswith(".parquet") else _jsonl_rows
        for row_no, row in enumerate(reader(file, columns)):
            path = row["path"]
            if row["language"] is not None:
                lang = names.get(str(row["language"]).lower())
            else:
                lang = folder_lang or extension_language(str(path or ""), ext_map)
            if lang not in wanted:
                continue
            content = row["content"]
            if content is None:
                content = b""
            if not isinstance(content, (str, bytes)):
                raise CodescaleError(
                    f"{shown(file)} row {row_no}: the content column holds "
                    f"{type(content).__name__} values, not text; set corpus.columns.content to "
                    "the column holding the file's text"
                )
            for logical, value in (("repo", row["repo"]), ("path", path)):
                if value is None:
                    raise CodescaleError(
                        f"{shown(file)} row {row_no}: the {logical} column is null; every row "
                        f"needs {COLUMN_MEANING[logical]} (corpus.columns.{logical})"
                    )
            doc_id = safe_text(str(row["id"])) if row["id"] is not None else f"{rel}#{row_no}"
            safe_path = safe_text(str(path))
            yield Candidate(
                doc_id=doc_id,
                lang=lang,
                repo=safe_text(str(row["repo"])),
                path=safe_path,
                data=content,
                source=f"shards:{rel}",
                origin=shown(file),
                odd_name=safe_path != str(path),
            )
