"""`codescale corpus`: source files per language -> filtered, capped parquet documents.

Three sources feed one pipeline (read -> filter -> cap -> write):
- registry: the embedded default, pinned Debian/npm packages (codescale.data.registry)
- directory: local folders, language from file extension (codescale.data.readers)
- shards: parquet/jsonl shards: The Stack v1/v2, StarCoderData, or any layout with named columns
  (codescale.data.readers)

The per-language byte cap is deterministic and independent of input order: files that passed the
filters are ordered by a hash of their doc_id (for packages "package/path") and the longest prefix
of that order whose UTF-8 size fits the cap is kept. So a bigger cap keeps a superset, and a new
package version changes only the files that changed. Selection streams with bounded memory (about
one cap of text per language), which is what lets the same code read large shard sets.

Every candidate file of a study language is counted under exactly one reason of
codescale.data.filters.REASONS or as passed (then kept or over the cap); bad input (unreadable,
special, symlinked, oversized, UTF-16, badly named files) is such a counted skip or a clear error,
never a traceback. Files on disk are read one at a time after their stat size passed.

Outputs in --out-dir: {lang}.parquet (doc_id, lang, repo, path, content, n_bytes, sha256, source;
sorted by doc_id), stats.json ({lang: files and bytes per reason, passed_filters, over_cap, kept,
fallback_decoded, bom_decoded, non_utf8_names}) and manifest.json (source, settings, every download
or input with files/bytes kept per language; unlisted_folders: folders that could not be listed).
"""

from __future__ import annotations

import argparse
import codecs
import hashlib
import heapq
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codescale import LANGUAGES
from codescale.data import readers, registry
from codescale.data.filters import FilterConfig, FilterStats, Verdict, check
from codescale.errors import CodescaleError
from codescale.io import atomic_path, write_json

log = logging.getLogger(__name__)

SOURCES = ("registry", "shards", "directory")
DEFAULT_CAP = 3_000_000
COLUMNS = ("doc_id", "lang", "repo", "path", "content", "n_bytes", "sha256", "source")


@dataclass
class Doc:
    """A kept document (one parquet row) plus where it came from."""

    doc_id: str
    lang: str
    repo: str
    path: str
    content: str
    n_bytes: int
    sha256: str
    source: str
    origin: str
    fallback: bool
    raw_bytes: int

    def row(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in COLUMNS}


@dataclass(order=True)
class _Entry:
    neg_key: bytes  # inverted key: heapq is a min-heap, we pop the largest key
    doc: Doc = field(compare=False)


class CapSelector:
    """Keeps the longest prefix (in key order) of all offered docs whose sizes fit in `cap` bytes.

    Streaming invariant: the heap holds every offered doc with key < `cutoff`, where `cutoff` is
    the smallest key ever evicted; so docs at or above it can never enter again.
    """

    def __init__(self, cap: int | None):
        self.cap = cap
        self.total = 0
        self.cutoff: bytes | None = None
        self._heap: list[_Entry] = []

    def offer(self, key: bytes, doc: Doc) -> None:
        if self.cutoff is not None and key >= self.cutoff:
            return
        heapq.heappush(self._heap, _Entry(bytes(255 - b for b in key), doc))
        self.total += doc.n_bytes
        while self.cap is not None and self.total > self.cap:
            out = heapq.heappop(self._heap)
            self.total -= out.doc.n_bytes
            self.cutoff = bytes(255 - b for b in out.neg_key)

    def docs(self) -> list[Doc]:
        return sorted((e.doc for e in self._heap), key=lambda d: d.doc_id)


@dataclass
class BuildResult:
    docs: dict[str, list[Doc]]
    stats: dict[str, FilterStats]
    kept_by_origin: dict[str, dict[str, dict[str, int]]]


# Reasons and odd names whose files the log names (a few per language: a safe repr each).
NAMED_IN_LOG = ("duplicate_id", "unreadable")
LOG_EXAMPLES = 5


def build(
    candidates: Iterable[readers.Candidate],
    languages: list[str],
    cfg: FilterConfig,
    cap: int | None,
) -> BuildResult:
    """Filter every candidate, count why files go, keep a capped deterministic sample per lang.

    Every candidate of a wanted language is counted under exactly one reason or as passed
    (codescale.data.filters). A file on disk (data None) is read only after its stat size passed
    `max_file_bytes`, so memory holds at most one file of that size at a time besides the kept
    sample."""
    stats = {lang: FilterStats() for lang in languages}
    selectors = {lang: CapSelector(cap) for lang in languages}
    seen_ids: dict[str, set[str]] = {lang: set() for lang in languages}
    named: dict[tuple[str, str], int] = defaultdict(int)

    def note(lang: str, what: str, message: str) -> None:
        named[lang, what] += 1
        if named[lang, what] <= LOG_EXAMPLES:
            log.warning("%s: %s", lang, message)

    for c in candidates:
        if c.lang not in stats:
            continue
        st = stats[c.lang]
        if c.odd_name:
            st.non_utf8_names.add(c.raw_size)
            note(c.lang, "non_utf8_name", f"file name is not UTF-8, read as {c.path!r}")
        if c.doc_id in seen_ids[c.lang]:
            st.record(Verdict("duplicate_id"), c.raw_size)
            note(c.lang, "duplicate_id", f"doc_id {c.doc_id!r} seen before; skipped {c.origin!r}")
            continue
        seen_ids[c.lang].add(c.doc_id)
        raw, raw_size, reason = c.data, c.raw_size, c.reason
        if reason is None and raw is None:
            if raw_size == 0:
                reason = "empty"  # by stat: nothing to read
            elif raw_size > cfg.max_file_bytes:
                reason = "too_large"  # by stat: never read
            else:
                assert c.file is not None
                raw, reason, raw_size = readers.read_file(c.file, cfg.max_file_bytes)
                raw_size = raw_size or c.raw_size
        if reason is not None:
            st.record(Verdict(reason), raw_size)
            if reason in NAMED_IN_LOG and reason != "duplicate_id":
                note(c.lang, reason, f"{reason} file {c.path!r} in {c.origin!r}")
            continue
        assert raw is not None
        verdict = check(c.path, raw, cfg)
        st.record(verdict, raw_size)
        if verdict.reason is not None:
            continue
        assert verdict.text is not None
        data = verdict.text.encode("utf-8")
        doc = Doc(
            doc_id=c.doc_id,
            lang=c.lang,
            repo=c.repo,
            path=c.path,
            content=verdict.text,
            n_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            source=c.source,
            origin=c.origin,
            fallback=verdict.fallback,
            raw_bytes=raw_size,
        )
        selectors[c.lang].offer(readers.selection_key(c.doc_id), doc)
    for (lang, what), n in sorted(named.items()):
        if n > LOG_EXAMPLES:
            log.warning("%s: %d files in all: %s (only the first %d named)", lang, n, what,
                        LOG_EXAMPLES)  # fmt: skip

    docs = {lang: selectors[lang].docs() for lang in languages}
    kept_by_origin: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for lang, lang_docs in docs.items():
        st = stats[lang]
        for d in lang_docs:
            st.kept.add(d.n_bytes)
            st.kept_raw_bytes += d.raw_bytes
            st.fallback_kept += int(d.fallback)
            slot = kept_by_origin[d.origin].setdefault(lang, {"files": 0, "bytes": 0})
            slot["files"] += 1
            slot["bytes"] += d.n_bytes
    empty = [lang for lang in languages if not docs[lang]]
    if empty:
        detail = "; ".join(
            f"{lang}: {stats[lang].seen.files} candidate files"
            + "".join(f", {r} {c.files}" for r, c in stats[lang].dropped.items() if c.files)
            for lang in empty
        )
        raise CodescaleError(f"no documents kept for language(s) {', '.join(empty)} ({detail})")
    return BuildResult(docs, stats, dict(kept_by_origin))


def write_parquet(path: Path, docs: list[Doc]) -> None:
    """One language's documents, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("doc_id", pa.string()),
            ("lang", pa.string()),
            ("repo", pa.string()),
            ("path", pa.string()),
            ("content", pa.large_string()),
            ("n_bytes", pa.int64()),
            ("sha256", pa.string()),
            ("source", pa.string()),
        ]
    )
    table = pa.Table.from_pylist([d.row() for d in docs], schema=schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


# -- CLI -------------------------------------------------------------------------------------


# fmt: off
def configure(parser: argparse.ArgumentParser) -> None:
    d = FilterConfig()
    add = parser.add_argument
    add("--source", choices=SOURCES, default="registry", help="input kind (default registry)")
    add("--languages", nargs="+", default=list(LANGUAGES), metavar="LANG",
        help=f"languages to build (default: {' '.join(LANGUAGES)})")
    add("--out-dir", required=True, type=Path, help="where the parquet/json outputs go")
    add("--cap-bytes-per-language", type=int, default=DEFAULT_CAP, metavar="N",
        help=f"keep at most N UTF-8 bytes per language (deterministic sample); 0 = no cap "
        f"(default {DEFAULT_CAP})")
    add("--max-file-bytes", type=int, default=d.max_file_bytes, metavar="N",
        help=f"drop files larger than N raw bytes (default {d.max_file_bytes})")
    add("--fallback-encoding", default=d.fallback_encoding, metavar="ENC",
        help=f"decode non-UTF-8 files with ENC (counted); 'none' drops them "
        f"(default {d.fallback_encoding})")
    add("--max-line-length", type=int, default=d.max_line_length, metavar="N",
        help=f"drop files with a longer line (default {d.max_line_length})")
    add("--max-mean-line-length", type=float, default=d.max_mean_line_length, metavar="X",
        help=f"drop files with a longer mean line (default {d.max_mean_line_length})")
    add("--min-alnum-fraction", type=float, default=d.min_alnum_fraction, metavar="F",
        help=f"drop files with fewer alphanumerics (default {d.min_alnum_fraction})")
    add("--marker-lines", type=int, default=d.marker_lines, metavar="N",
        help=f"search generated-code markers in N head lines (default {d.marker_lines})")
    add("--registry-sources", type=Path, default=None, metavar="FILE",
        help="pinned source list (default: the packaged registry_sources.yaml)")
    add("--download-dir", type=Path, default=None, metavar="DIR",
        help="download cache of --source registry (default: OUT_DIR/../downloads)")
    add("--paths", nargs="+", default=[], metavar="P",
        help="root directories (--source directory) or shard files, folders or glob patterns "
        "(--source shards)")
    add("--column", nargs="+", action="extend", default=[], metavar="LOGICAL=NAME",
        help="shard column name (default: detected); LOGICAL is content, language, repo, path "
        "or id")
    add("--language-map", nargs="+", action="extend", default=[], metavar="VALUE=LANG",
        help="shard language value -> lang, or .ext=lang for file extensions")
    # fmt: on


def _filter_config(args: argparse.Namespace) -> FilterConfig:
    enc = args.fallback_encoding
    enc = None if enc is None or enc.lower() == "none" else enc
    if enc is not None:
        try:
            codecs.lookup(enc)
        except LookupError as err:
            raise CodescaleError(
                f"corpus.fallback_encoding (--fallback-encoding) {enc!r}: unknown encoding; "
                "a Python codec name such as latin-1 or cp1252, or null"
            ) from err
    for name in ("max_file_bytes", "max_line_length", "marker_lines"):
        if getattr(args, name) <= 0:
            raise CodescaleError(f"--{name.replace('_', '-')} must be positive")
    return FilterConfig(
        max_file_bytes=args.max_file_bytes,
        fallback_encoding=enc,
        max_line_length=args.max_line_length,
        max_mean_line_length=args.max_mean_line_length,
        min_alnum_fraction=args.min_alnum_fraction,
        marker_lines=args.marker_lines,
    )


def _check_languages(languages: list[str]) -> list[str]:
    bad = [lang for lang in languages if lang not in LANGUAGES]
    if bad:
        raise CodescaleError(f"--languages: unknown {bad}; choose from {', '.join(LANGUAGES)}")
    return [lang for lang in LANGUAGES if lang in languages]  # canonical order, no repeats


def run(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    languages = _check_languages(args.languages)
    cfg = _filter_config(args)
    if args.cap_bytes_per_language < 0:
        raise CodescaleError("--cap-bytes-per-language must be >= 0 (0 = no cap)")
    cap = args.cap_bytes_per_language or None
    if args.source == "registry" and args.paths:
        raise CodescaleError("--paths is for --source directory/shards, not registry")
    if args.source != "shards" and args.column:
        raise CodescaleError("corpus.columns (--column) only applies to source 'shards'")
    ext_extra, value_map = readers.parse_language_map(args.language_map)
    ext_map = {**readers.EXTENSION_LANGUAGE, **ext_extra}
    columns = readers.parse_columns(args.column)
    settings: dict[str, Any] = {
        "languages": languages,
        "cap_bytes_per_language": cap,
        "filters": cfg.to_dict(),
    }
    manifest: dict[str, Any] = {"source": args.source, "settings": settings}

    if args.source == "registry":
        specs = [s for s in registry.load_sources(args.registry_sources) if s.lang in languages]
        missing = [lang for lang in languages if not any(s.lang == lang for s in specs)]
        if missing:
            raise CodescaleError(f"registry sources list no package for {', '.join(missing)}")
        download_dir = args.download_dir or args.out_dir.parent / "downloads"
        downloads = registry.Downloader(download_dir).fetch(specs)
        settings["registry_sources"] = str(args.registry_sources or "(packaged default)")
        result = build(registry.registry_candidates(specs, downloads), languages, cfg, cap)
        manifest["downloads"] = registry.manifest_entries(specs, downloads, result.kept_by_origin)
    else:
        unlisted: list[str] = []
        if args.source == "directory":
            if value_map:
                raise CodescaleError(
                    "corpus.language_map: source 'directory' takes '.ext: lang' items only (the "
                    f"language comes from the file extension); got {sorted(value_map)}"
                )
            inputs = readers.expand_paths(args.paths)
            cands = readers.read_directories(args.paths, languages, ext_map, unlisted)
        else:
            settings["columns"] = columns
            inputs = readers.shard_files(args.paths)
            cands = readers.read_shards(args.paths, languages, columns, value_map, ext_map)
        settings["language_map"] = list(args.language_map)
        result = build(cands, languages, cfg, cap)
        kept = result.kept_by_origin
        manifest["inputs"] = [
            {"path": readers.shown(p), "kind": args.source, "kept": kept.get(readers.shown(p), {})}
            for p in inputs
        ]
        if unlisted:
            # their files could not even be counted: named here and in the log
            manifest["unlisted_folders"] = unlisted
            for folder in unlisted:
                log.warning("cannot list folder %s: its files are not in the corpus", folder)

    out: Path = args.out_dir
    for lang in languages:
        write_parquet(out / f"{lang}.parquet", result.docs[lang])
        st = result.stats[lang]
        log.info(
            "%s: kept %d files / %d bytes of %d candidates (%s)",
            lang, st.kept.files, st.kept.bytes, st.seen.files,
            ", ".join(f"{r} {c.files}" for r, c in st.dropped.items() if c.files) or "no drops",
        )  # fmt: skip
    write_json(out / "stats.json", {lang: result.stats[lang].to_dict() for lang in languages})
    manifest["elapsed_s"] = round(time.perf_counter() - t0, 2)
    write_json(out / "manifest.json", manifest)
