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
import contextlib
import hashlib
import heapq
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codescale import LANGUAGES
from codescale import config as cs_config
from codescale.data import readers, registry
from codescale.data.filters import (
    REASONS,
    Counter,
    FilterConfig,
    FilterStats,
    Verdict,
    check,
)
from codescale.errors import CodescaleError
from codescale.io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)

SOURCES = ("registry", "shards", "directory")
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


def scan(
    candidates: Iterable[readers.Candidate],
    languages: list[str],
    cfg: FilterConfig,
    offer: Callable[[bytes, Doc], None],
) -> dict[str, FilterStats]:
    """Filter every candidate and count why files go; hand each passing doc (with its selection
    key) to `offer`.

    Every candidate of a wanted language is counted under exactly one reason or as passed
    (codescale.data.filters). A file on disk (data None) is read only after its stat size passed
    `max_file_bytes`, so memory holds at most one file of that size at a time besides what
    `offer` keeps."""
    stats = {lang: FilterStats() for lang in languages}
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
        offer(readers.selection_key(c.doc_id), doc)
    for (lang, what), n in sorted(named.items()):
        if n > LOG_EXAMPLES:
            log.warning("%s: %d files in all: %s (only the first %d named)", lang, n, what,
                        LOG_EXAMPLES)  # fmt: skip
    return stats


def build(
    candidates: Iterable[readers.Candidate],
    languages: list[str],
    cfg: FilterConfig,
    cap: int | None,
) -> BuildResult:
    """Filter every candidate, count why files go, keep a capped deterministic sample per lang
    (the whole corpus in one process: memory about one cap of text per language)."""
    selectors = {lang: CapSelector(cap) for lang in languages}
    stats = scan(candidates, languages, cfg, lambda key, doc: selectors[doc.lang].offer(key, doc))
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


def _schema_fields() -> list[tuple[str, Any]]:
    import pyarrow as pa

    return [
        ("doc_id", pa.string()),
        ("lang", pa.string()),
        ("repo", pa.string()),
        ("path", pa.string()),
        ("content", pa.large_string()),
        ("n_bytes", pa.int64()),
        ("sha256", pa.string()),
        ("source", pa.string()),
    ]


def write_parquet(path: Path, docs: list[Doc]) -> None:
    """One language's documents, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(_schema_fields())
    table = pa.Table.from_pylist([d.row() for d in docs], schema=schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


# -- parts: the corpus as many bounded jobs ---------------------------------------------------
#
# At scale the corpus is read as parts (groups of input files of about `corpus.part_mb` MiB, one
# Snakemake job each) and a small gather: every part writes *all* its passing documents per
# language (uncapped, plus the selection key and the few per-document fields the stats need);
# the gather reads only those small per-document records of every part and decides, per language,
# the cutoff key of the cap (the longest prefix in key order that fits, exactly CapSelector's
# choice) and which repeated doc_ids go (the first part's copy stays). Consumers (dedup) read a
# part's documents and keep those `selected` says; so a part job's memory is bounded by its write
# buffer and one file, the gather's by a few dozen bytes per document, and no job's by the cap.

PART_EXTRA = ("sel_hi", "sel_lo", "raw_bytes", "fallback", "origin")
PART_FLUSH_BYTES = 16 << 20  # content buffered per language before a row group is written


def part_name(index: int) -> str:
    return f"p{index:05d}"


def input_files(
    source: str, paths: list[str], languages: list[str], ext_map: dict[str, str]
) -> list[tuple[str, int]]:
    """(file, size in bytes) of every input file the parts divide, in the readers' order: the
    shard files (sorted within each path), or the regular files of a study language under the
    directory roots (symlinks and special files are no part's: the first part counts them).
    Empty for the registry (one part)."""
    if source == "shards":
        out = []
        for f in readers.shard_files(paths):
            try:
                out.append((str(f), os.stat(f).st_size))
            except OSError:
                out.append((str(f), 0))  # the reader names it
        return out
    if source == "directory":
        cands = readers.read_directories(paths, languages, ext_map)
        return [(c.file, c.file_size) for c in cands if c.reason is None and c.file is not None]
    return []


def part_groups(files: list[tuple[str, int]], part_mb: float) -> dict[str, list[str]]:
    """Part name -> its files: consecutive files (in the given order) grouped greedily into
    groups of at most `part_mb` MiB; a file is never split (a larger one is a part alone), so
    every part is at most max(part_mb, its largest file). No files: one empty part p00000."""
    if part_mb <= 0:
        raise CodescaleError(f"corpus.part_mb (--part-mb) must be positive, got {part_mb}")
    limit = part_mb * 2**20
    groups: list[list[str]] = [[]]
    size = 0
    for f, n in files:
        if groups[-1] and size + n > limit:
            groups.append([])
            size = 0
        groups[-1].append(f)
        size += n
    return {part_name(i): g for i, g in enumerate(groups)}


class PartWriter:
    """Streams one part's passing documents of every language into {lang}.parquet (row groups of
    about PART_FLUSH_BYTES of content), so memory does not grow with the part."""

    def __init__(self, out_dir: Path, languages: list[str], stack: contextlib.ExitStack):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.schema = pa.schema(
            [*_schema_fields(), ("sel_hi", pa.uint64()), ("sel_lo", pa.uint64()),
             ("raw_bytes", pa.int64()), ("fallback", pa.bool_()), ("origin", pa.string())]
        )  # fmt: skip
        self.writers = {}
        for lang in languages:
            tmp = stack.enter_context(atomic_path(out_dir / f"{lang}.parquet"))
            self.writers[lang] = stack.enter_context(
                pq.ParquetWriter(tmp, self.schema, compression="zstd")
            )
        self.buffers: dict[str, list[tuple[bytes, Doc]]] = {lang: [] for lang in languages}
        self.sizes = dict.fromkeys(languages, 0)
        self.kept: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
        # per language: files, UTF-8 bytes, raw bytes, fallback-decoded files
        self.totals = {lang: [0, 0, 0, 0] for lang in languages}

    def offer(self, key: bytes, doc: Doc) -> None:
        self.buffers[doc.lang].append((key, doc))
        self.sizes[doc.lang] += doc.n_bytes
        tot = self.totals[doc.lang]
        tot[0] += 1
        tot[1] += doc.n_bytes
        tot[2] += doc.raw_bytes
        tot[3] += int(doc.fallback)
        slot = self.kept[doc.origin].setdefault(doc.lang, {"files": 0, "bytes": 0})
        slot["files"] += 1
        slot["bytes"] += doc.n_bytes
        if self.sizes[doc.lang] >= PART_FLUSH_BYTES:
            self.flush(doc.lang)

    def flush(self, lang: str) -> None:
        import pyarrow as pa

        rows = []
        for key, d in self.buffers[lang]:
            hi, lo = int.from_bytes(key[:8], "big"), int.from_bytes(key[8:16], "big")
            rows.append({**d.row(), "sel_hi": hi, "sel_lo": lo, "raw_bytes": d.raw_bytes,
                         "fallback": d.fallback, "origin": d.origin})  # fmt: skip
        self.writers[lang].write_table(pa.Table.from_pylist(rows, schema=self.schema))
        self.buffers[lang].clear()
        self.sizes[lang] = 0

    def close(self) -> None:
        for lang in self.writers:
            self.flush(lang)


def selected(table: Any, selection: dict[str, Any], part: str) -> Any:
    """Bool numpy mask of a corpus part's rows (one language; columns doc_id, sel_hi, sel_lo)
    that the corpus keeps: below the language's cutoff key and not a repeated doc_id of an
    earlier part (`selection` = selection.json's entry of the language)."""
    import numpy as np

    hi = table.column("sel_hi").to_numpy(zero_copy_only=False).astype(np.uint64)
    lo = table.column("sel_lo").to_numpy(zero_copy_only=False).astype(np.uint64)
    mask = np.ones(len(hi), dtype=bool)
    if selection.get("cutoff") is not None:
        c_hi, c_lo = (np.uint64(v) for v in selection["cutoff"])
        mask = (hi < c_hi) | ((hi == c_hi) & (lo < c_lo))
    dropped = set(selection.get("repeated", {}).get(part, []))
    if dropped:
        ids = table.column("doc_id").to_pylist()
        mask &= np.fromiter((i not in dropped for i in ids), dtype=bool, count=len(ids))
    return mask


def _add(total: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """Leaf-wise sum of two stats dicts of the same shape."""
    out = dict(total)
    for k, v in part.items():
        out[k] = _add(total.get(k, {}), v) if isinstance(v, dict) else total.get(k, 0) + v
    return out


def gather(
    part_dirs: list[Path], parts: list[str], languages: list[str], cap: int | None, out: Path
) -> dict[str, Any]:
    """The corpus's stats.json, manifest.json and selection.json from its parts' outputs.

    Reads per document only its key, sizes, fallback flag and origin (numpy, ~45 bytes per
    document of the largest language plus sort indices); doc_id strings only of the repeated
    ones; never the text."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    part_stats = [read_json(d / "stats.json") for d in part_dirs]
    manifests = [read_json(d / "manifest.json") for d in part_dirs]
    stats: dict[str, Any] = {}
    selection: dict[str, Any] = {}
    kept_by_origin: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    cols = ["sel_hi", "sel_lo", "n_bytes", "raw_bytes", "fallback", "origin"]
    for lang in languages:
        st: dict[str, Any] = {}
        for ps in part_stats:
            st = _add(st, ps[lang])
        # numpy columns only (~45 bytes per document): no doc_id strings, no text
        arrays: dict[str, list[Any]] = {c: [] for c in (*cols, "part")}
        origins: dict[str, int] = {}
        sizes = []
        for k, d in enumerate(part_dirs):
            t = pq.read_table(d / f"{lang}.parquet", columns=cols, read_dictionary=["origin"])
            for c in cols[:-1]:
                arrays[c].append(t.column(c).to_numpy())
            for chunk in t.column("origin").chunks:
                names = chunk.dictionary.to_pylist()
                codes = np.array([origins.setdefault(v, len(origins)) for v in names] or [0])
                arrays["origin"].append(codes[chunk.indices.to_numpy(zero_copy_only=False)])
            arrays["part"].append(np.full(t.num_rows, k, np.int32))
            sizes.append(t.num_rows)
            del t
        hi, lo, nb, raw, fb, origin, part_of = (
            np.concatenate(arrays[c]) if arrays[c] else np.zeros(0, np.int64)
            for c in (*cols, "part")
        )
        fb = fb.astype(bool)
        del arrays
        n = len(hi)
        # a doc_id repeated in a later part (same selection key: a 128-bit hash of the doc_id):
        # the first part's copy stays, as in one reading
        order = np.lexsort((part_of, lo, hi))
        repeated = np.zeros(n, dtype=bool)
        if n > 1:
            same = (hi[order][1:] == hi[order][:-1]) & (lo[order][1:] == lo[order][:-1])
            repeated[order[1:][same]] = True
        del order
        if repeated.any():
            r_files, r_bytes = int(repeated.sum()), int(raw[repeated].sum())
            st["passed_filters"]["files"] -= r_files
            st["passed_filters"]["bytes"] -= r_bytes
            st["duplicate_id"]["files"] += r_files
            st["duplicate_id"]["bytes"] += r_bytes
            st["fallback_decoded"]["files"] -= int((repeated & fb).sum())
            st["fallback_decoded"]["bytes"] -= int(raw[repeated & fb].sum())
            log.warning("%s: %d doc_ids repeated in later parts: counted duplicate_id", lang,
                        r_files)  # fmt: skip
        # the cap: the longest prefix in key order that fits (CapSelector's choice)
        cand = np.flatnonzero(~repeated)
        by_key = cand[np.lexsort((lo[cand], hi[cand]))]
        m = len(by_key)
        if cap is not None:
            m = int(np.searchsorted(np.cumsum(nb[by_key]), cap, side="right"))
        keep = np.zeros(n, dtype=bool)
        keep[by_key[:m]] = True
        cutoff = None if m == len(by_key) else [int(hi[by_key[m]]), int(lo[by_key[m]])]
        del by_key, cand
        starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        rep_ids: dict[str, list[str]] = {}
        for k in np.unique(part_of[repeated]).tolist():
            rows = np.flatnonzero(repeated & (part_of == k)) - starts[k]
            ids = pq.read_table(part_dirs[k] / f"{lang}.parquet", columns=["doc_id"]).column(0)
            rep_ids[parts[k]] = sorted(ids.take(pa.array(rows)).to_pylist())
        selection[lang] = {"cutoff": cutoff, "repeated": rep_ids}
        st["kept"] = {"files": int(keep.sum()), "bytes": int(nb[keep].sum())}
        st["over_cap"] = {
            "files": st["passed_filters"]["files"] - st["kept"]["files"],
            "bytes": st["passed_filters"]["bytes"] - int(raw[keep].sum()),
        }
        st["fallback_decoded"]["kept"] = int((keep & fb).sum())
        stats[lang] = st
        files = np.bincount(origin[keep], minlength=len(origins))
        kept_bytes = np.bincount(origin[keep], weights=nb[keep], minlength=len(origins))
        for name, code in origins.items():
            if files[code]:
                kept_by_origin[str(name)][lang] = {
                    "files": int(files[code]), "bytes": int(kept_bytes[code])
                }  # fmt: skip
    empty = [lang for lang in languages if not stats[lang]["kept"]["files"]]
    if empty:
        detail = "; ".join(
            f"{lang}: {stats[lang]['seen']['files']} candidate files"
            + "".join(
                f", {r} {stats[lang][r]['files']}" for r in REASONS if stats[lang][r]["files"]
            )
            for lang in empty
        )
        raise CodescaleError(f"no documents kept for language(s) {', '.join(empty)} ({detail})")

    manifest: dict[str, Any] = {
        "source": manifests[0]["source"],
        "settings": {**manifests[0]["settings"], "cap_bytes_per_language": cap},
        "parts": len(parts),
    }
    for what in ("inputs", "downloads"):
        if what not in manifests[0]:
            continue
        rows: dict[str, dict[str, Any]] = {}
        for mf in manifests:
            for row in mf.get(what, []):
                origin = row.pop("_origin", row.get("path"))
                key = f"{origin}\0{row.get('file', '')}"
                rows.setdefault(key, {**row, "kept": kept_by_origin.get(origin, {})})
        manifest[what] = list(rows.values())
    unlisted = [f for mf in manifests for f in mf.get("unlisted_folders", [])]
    if unlisted:
        manifest["unlisted_folders"] = unlisted
    manifest["elapsed_s"] = round(
        time.perf_counter() - t0 + sum(mf.get("elapsed_s", 0) for mf in manifests), 2
    )
    write_json(out / "stats.json", stats)
    write_json(out / "selection.json", selection)
    write_json(out / "manifest.json", manifest)
    return stats


# -- CLI -------------------------------------------------------------------------------------


# fmt: off
def configure(parser: argparse.ArgumentParser) -> None:
    # options that set a config key (its x-cli in the schema) default to the schema's
    d, D = FilterConfig(), cs_config.default  # noqa: N806
    cap = D("corpus.cap_bytes_per_language")
    add = parser.add_argument
    add("--source", choices=SOURCES, default=D("corpus.source"),
        help=f"input kind (default {D('corpus.source')})")
    add("--languages", nargs="+", default=list(LANGUAGES), metavar="LANG",
        help=f"languages to build (default: {' '.join(LANGUAGES)})")
    add("--out-dir", required=True, type=Path, help="where the parquet/json outputs go")
    add("--cap-bytes-per-language", type=int, default=cap, metavar="N",
        help=f"keep at most N UTF-8 bytes per language (deterministic sample); 0 = no cap "
        f"(default {cap})")
    add("--max-file-bytes", type=int, default=D("corpus.max_file_bytes"), metavar="N",
        help=f"drop files larger than N raw bytes (default {D('corpus.max_file_bytes')})")
    add("--fallback-encoding", default=D("corpus.fallback_encoding"), metavar="ENC",
        help=f"decode non-UTF-8 files with ENC (counted); 'none' drops them "
        f"(default {D('corpus.fallback_encoding')})")
    add("--max-line-length", type=int, default=d.max_line_length, metavar="N",
        help=f"drop files with a longer line (default {d.max_line_length})")
    add("--max-mean-line-length", type=float, default=d.max_mean_line_length, metavar="X",
        help=f"drop files with a longer mean line (default {d.max_mean_line_length})")
    add("--min-alnum-fraction", type=float, default=d.min_alnum_fraction, metavar="F",
        help=f"drop files with fewer alphanumerics (default {d.min_alnum_fraction})")
    add("--marker-lines", type=int, default=d.marker_lines, metavar="N",
        help=f"search generated-code markers in N head lines (default {d.marker_lines})")
    add("--registry-sources", type=Path, default=D("corpus.registry_sources"), metavar="FILE",
        help="pinned source list (default: the packaged registry_sources.yaml)")
    add("--download-dir", type=Path, default=None, metavar="DIR",
        help="download cache of --source registry (default: OUT_DIR/../downloads)")
    add("--paths", nargs="+", default=D("corpus.paths"), metavar="P",
        help="root directories (--source directory) or shard files, folders or glob patterns "
        "(--source shards)")
    add("--column", nargs="+", action="extend", default=[], metavar="LOGICAL=NAME",
        help="shard column name (default: detected); LOGICAL is content, language, repo, path "
        "or id")
    add("--language-map", nargs="+", action="extend", default=[], metavar="VALUE=LANG",
        help="shard language value -> lang, or .ext=lang for file extensions")
    add("--part", default=None, metavar="NAME",
        help="read one part (p00000, ...) of the input files and write all its passing documents "
        "with their selection keys, uncapped (`codescale corpus-gather` applies the cap)")
    add("--part-mb", type=float, default=D("corpus.part_mb"), metavar="MB",
        help=f"input MiB per part, with --part (default {D('corpus.part_mb')})")
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
    out: Path = args.out_dir
    part: str | None = args.part
    only: set[str] | None = None
    if part is not None:
        # one part: its files only, the cap left to `codescale corpus-gather`
        settings["cap_bytes_per_language"] = None
        groups = part_groups(
            input_files(args.source, args.paths, languages, ext_map), args.part_mb
        )
        if part not in groups:
            raise CodescaleError(
                f"--part {part}: the corpus has {len(groups)} part(s) ({next(iter(groups))}.."
                f"{list(groups)[-1]}) at --part-mb {args.part_mb}; its files changed since the "
                "workflow was planned: run snakemake again"
            )
        only = set(groups[part])
        manifest["part"] = {"name": part, "files": len(only)}
    first = part is None or part == part_name(0)

    stack = contextlib.ExitStack()
    with stack:
        writer = PartWriter(out, languages, stack) if part is not None else None

        def process(cands: Iterable[readers.Candidate]) -> BuildResult:
            if writer is None:
                return build(cands, languages, cfg, cap)
            stats = scan(cands, languages, cfg, writer.offer)
            writer.close()
            for lang, (files, n_bytes, raw, fallback) in writer.totals.items():
                stats[lang].kept = Counter(files, n_bytes)
                stats[lang].kept_raw_bytes = raw
                stats[lang].fallback_kept = fallback
            return BuildResult({}, stats, dict(writer.kept))

        if args.source == "registry":
            if part is not None and part != part_name(0):
                raise CodescaleError(f"--part {part}: the registry source is one part, p00000")
            specs = [s for s in registry.load_sources(args.registry_sources) if s.lang in languages]
            missing = [lang for lang in languages if not any(s.lang == lang for s in specs)]
            if missing:
                raise CodescaleError(f"registry sources list no package for {', '.join(missing)}")
            download_dir = args.download_dir or args.out_dir.parent / "downloads"
            downloads = registry.Downloader(download_dir).fetch(specs)
            settings["registry_sources"] = str(args.registry_sources or "(packaged default)")
            result = process(registry.registry_candidates(specs, downloads))
            rows = registry.manifest_entries(specs, downloads, result.kept_by_origin)
            if part is not None:  # the gather recomputes `kept` per origin after the cap
                origins = [spec.key for spec in specs for _ in downloads[spec.key]]
                rows = [{**r, "_origin": o} for r, o in zip(rows, origins, strict=True)]
            manifest["downloads"] = rows
        else:
            unlisted: list[str] = []
            if args.source == "directory":
                if value_map:
                    raise CodescaleError(
                        "corpus.language_map: source 'directory' takes '.ext: lang' items only "
                        f"(the language comes from the file extension); got {sorted(value_map)}"
                    )
                inputs = readers.expand_paths(args.paths)
                cands = readers.read_directories(args.paths, languages, ext_map, unlisted)
                if only is not None:
                    # a part's regular files; symlinks and special files: the first part's
                    cands = (
                        c for c in cands if (c.file in only if c.reason is None else first)
                    )
            else:
                settings["columns"] = columns
                inputs = readers.shard_files(args.paths)
                if only is not None:
                    inputs = [p for p in inputs if str(p) in only]
                cands = readers.read_shards(
                    args.paths, languages, columns, value_map, ext_map, only=only
                )
            settings["language_map"] = list(args.language_map)
            result = process(cands)
            kept = result.kept_by_origin
            manifest["inputs"] = [
                {"path": readers.shown(p), "kind": args.source,
                 "kept": kept.get(readers.shown(p), {})}
                for p in inputs
            ]  # fmt: skip
            if unlisted and first:
                # their files could not even be counted: named here and in the log
                manifest["unlisted_folders"] = unlisted
                for folder in unlisted:
                    log.warning("cannot list folder %s: its files are not in the corpus", folder)

        for lang in languages:
            if writer is None:
                write_parquet(out / f"{lang}.parquet", result.docs[lang])
            st = result.stats[lang]
            log.info(
                "%s: %s %d files / %d bytes of %d candidates (%s)",
                lang, "kept" if writer is None else "passed", st.kept.files, st.kept.bytes,
                st.seen.files,
                ", ".join(f"{r} {c.files}" for r, c in st.dropped.items() if c.files)
                or "no drops",
            )  # fmt: skip
        write_json(out / "stats.json", {lang: result.stats[lang].to_dict() for lang in languages})
        manifest["elapsed_s"] = round(time.perf_counter() - t0, 2)
        write_json(out / "manifest.json", manifest)


# -- `codescale corpus-gather` ---------------------------------------------------------------


def configure_gather(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--parts", nargs="+", required=True, type=Path, metavar="DIR",
        help="the output folders of `codescale corpus --part`, in part order")
    add("--languages", nargs="+", default=list(LANGUAGES), metavar="LANG",
        help=f"languages (default: {' '.join(LANGUAGES)})")
    cap = cs_config.default("corpus.cap_bytes_per_language")
    add("--cap-bytes-per-language", type=int, default=cap, metavar="N",
        help=f"keep at most N UTF-8 bytes per language; 0 = no cap (default {cap})")
    add("--out-dir", required=True, type=Path,
        help="where stats.json, manifest.json and selection.json go")  # fmt: skip


def run_gather(args: argparse.Namespace) -> None:
    languages = _check_languages(args.languages)
    if args.cap_bytes_per_language < 0:
        raise CodescaleError("--cap-bytes-per-language must be >= 0 (0 = no cap)")
    for d in args.parts:
        for name in ("stats.json", "manifest.json", *(f"{lang}.parquet" for lang in languages)):
            if not (d / name).is_file():
                raise CodescaleError(f"corpus part {d}: {name} is missing")
    stats = gather(
        args.parts, [d.name for d in args.parts], languages, args.cap_bytes_per_language or None,
        args.out_dir,
    )  # fmt: skip
    for lang in languages:
        st = stats[lang]
        log.info("%s: kept %d files / %d bytes of %d passed (%d over the cap)", lang,
                 st["kept"]["files"], st["kept"]["bytes"], st["passed_filters"]["files"],
                 st["over_cap"]["files"])  # fmt: skip
