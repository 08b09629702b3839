"""The embedded default corpus: real source code downloaded from Debian and npm, pinned and cached.

Where the code comes from (see registry_sources.yaml, the pinned list):
- `deb`: `apt-get download NAME` (binary packages that ship sources: the Python stdlib, the JDK's
  src.zip, the Go and Rust standard sources). Debian replaces versions with security updates and
  has no snapshot archive here, so packages are pinned by name; the version and sha256 actually
  downloaded are recorded in the manifest.
- `deb-src`: `apt-get source --download-only --tar-only NAME` (C#: no binary package ships real C#).
  The host has no deb-src lines, so we run apt with a private state under DOWNLOAD_DIR/apt (source
  lists derived from the host's /etc/apt sources, nothing under /etc touched). `--tar-only` because
  the mirror lacks some .debian.tar files.
- `npm`: `npm pack NAME@VERSION` at exact pinned versions (sha1 from the registry is verified).

Every download is cached in DOWNLOAD_DIR/{kind}/ with a sidecar JSON (version, sha256); a rerun
re-downloads only what is missing or whose sha256 no longer matches. A failed download, or a package
whose pinned root/include paths match no source file, raises CodescaleError: nothing is skipped
silently. Archives are read as streams (tarfile; `dpkg-deb --fsys-tarfile` for .deb), not unpacked.

Repositories. The split stage splits by repository, so package-built corpora need a repository
unit. We define it as a folder inside a package: below the source's `root`, the first `repo_depth`
path components name the repository (prefixed by the package name); a file lying above that depth
is a repository of its own. Examples: the Python stdlib with depth 1 gives `asyncio/`, `email/`,
and `os.py` alone; java.base with depth 2 gives `java/util/` (with its subpackages), `sun/nio/`;
Go with depth 2 gives `net/http/`, `crypto/tls/`; Rust with depth 2 gives `library/core/`,
`compiler/rustc_middle/`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any

import yaml

from codescale import LANGUAGES
from codescale.data.readers import EXTENSION_LANGUAGE, Candidate, extension_language
from codescale.errors import CodescaleError
from codescale.io import sha256_file, write_json

log = logging.getLogger(__name__)

KINDS = ("deb", "deb-src", "npm")
DEFAULT_SOURCES = "registry_sources.yaml"


@dataclass(frozen=True)
class SourceSpec:
    """One pinned package and which of its files are corpus candidates."""

    package: str
    kind: str
    lang: str
    license: str
    root: str = ""
    include: tuple[str, ...] = ("",)
    exclude: tuple[str, ...] = ()
    repo_depth: int = 1
    version: str | None = None
    inner_zip: str | None = None

    @property
    def key(self) -> str:
        """File-system-safe cache key."""
        name = self.package if self.version is None else f"{self.package}@{self.version}"
        return name.replace("/", "__")


@dataclass(frozen=True)
class Download:
    """One downloaded file, as recorded in the manifest."""

    package: str
    version: str
    kind: str
    file: Path
    sha256: str
    size: int
    license: str


def load_sources(path: str | os.PathLike[str] | None = None) -> list[SourceSpec]:
    """Read and validate the pinned source list (the packaged default when `path` is None)."""
    if path is None:
        text = resources.files("codescale.data").joinpath(DEFAULT_SOURCES).read_text()
        where = f"codescale/data/{DEFAULT_SOURCES}"
    else:
        if not Path(path).is_file():
            raise CodescaleError(f"--registry-sources file does not exist: {path}")
        text, where = Path(path).read_text(), str(path)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise CodescaleError(f"{where}: invalid YAML ({err})") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("sources"), list):
        raise CodescaleError(f"{where}: expected a mapping with a list under 'sources'")
    fields = set(SourceSpec.__dataclass_fields__)
    specs = []
    for i, item in enumerate(doc["sources"]):
        at = f"{where}: sources[{i}]"
        if not isinstance(item, dict):
            raise CodescaleError(f"{at}: expected a mapping")
        unknown = set(item) - fields
        if unknown:
            raise CodescaleError(f"{at}: unknown keys {sorted(unknown)}")
        for key in ("package", "kind", "lang", "license"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise CodescaleError(f"{at}.{key}: required string")
        if item["kind"] not in KINDS:
            raise CodescaleError(f"{at}.kind: {item['kind']!r} is not one of {', '.join(KINDS)}")
        if item["lang"] not in LANGUAGES:
            raise CodescaleError(f"{at}.lang: {item['lang']!r} is not one of {LANGUAGES}")
        if item["kind"] == "npm" and not item.get("version"):
            raise CodescaleError(f"{at}.version: npm packages must pin an exact version")
        depth = item.get("repo_depth", 1)
        if not isinstance(depth, int) or depth < 1:
            raise CodescaleError(f"{at}.repo_depth: expected an integer >= 1")
        specs.append(
            SourceSpec(
                **{
                    **item,
                    "include": tuple(item.get("include", [""])),
                    "exclude": tuple(item.get("exclude", [])),
                }
            )
        )
    return specs


def _run(cmd: list[str], cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    log.info("%s: %s", what, " ".join(cmd))
    env = {**os.environ, "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    except FileNotFoundError as err:
        raise CodescaleError(f"{what}: {cmd[0]} is not installed") from err
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise CodescaleError(f"{what} failed (exit {proc.returncode}): {tail}")
    return proc


class Downloader:
    """Fetches pinned packages into a cache directory; one instance per corpus build."""

    def __init__(self, download_dir: str | os.PathLike[str]):
        self.dir = Path(download_dir).resolve()  # apt runs with another cwd
        self._apt_ready = False

    # -- cache -------------------------------------------------------------------------------
    def _sidecar(self, spec: SourceSpec) -> Path:
        return self.dir / spec.kind / f"{spec.key}.json"

    def cached(self, spec: SourceSpec) -> list[Download] | None:
        """The cached downloads of `spec`, if every file is present with its recorded sha256."""
        side = self._sidecar(spec)
        if not side.exists():
            return None
        entries = json.loads(side.read_text())
        out = []
        for e in entries:
            file = self.dir / spec.kind / e["file"]
            if not file.exists() or file.stat().st_size != e["size"]:
                return None
            if sha256_file(file) != e["sha256"]:
                return None
            version, sha, size = e["version"], e["sha256"], e["size"]
            out.append(Download(spec.package, version, spec.kind, file, sha, size, spec.license))
        return out

    def _record(self, spec: SourceSpec, files: list[tuple[Path, str]]) -> list[Download]:
        if not files:
            raise CodescaleError(f"{spec.kind} {spec.package}: download produced no file")
        downloads = [
            Download(spec.package, v, spec.kind, f, sha256_file(f), f.stat().st_size, spec.license)
            for f, v in files
        ]
        write_json(
            self._sidecar(spec),
            [
                {"file": d.file.name, "version": d.version, "sha256": d.sha256, "size": d.size}
                for d in downloads
            ],
        )
        return downloads

    # -- apt ---------------------------------------------------------------------------------
    def _apt_options(self) -> list[str]:
        apt = self.dir / "apt"
        return [
            "-o", "Dir::Etc::SourceList=/dev/null",
            "-o", f"Dir::Etc::SourceParts={apt / 'sources.list.d'}",
            "-o", f"Dir::State::Lists={apt / 'lists'}",
            "-o", f"Dir::Cache={apt / 'cache'}",
            "-q",
        ] + (["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else [])  # fmt: skip

    def _prepare_apt(self) -> None:
        """A private apt state with deb + deb-src lines derived from the host's sources."""
        if self._apt_ready:
            return
        apt = self.dir / "apt"
        parts = apt / "sources.list.d"
        for d in (parts, apt / "lists" / "partial", apt / "cache" / "archives" / "partial"):
            d.mkdir(parents=True, exist_ok=True)
        deb822, one_line = [], []
        etc = Path("/etc/apt")
        for f in sorted((etc / "sources.list.d").glob("*.sources")):
            deb822.append(re.sub(r"(?m)^Types:\s*deb\s*$", "Types: deb deb-src", f.read_text()))
        for f in [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]:
            if f.exists():
                for line in f.read_text().splitlines():
                    if line.strip().startswith("deb "):
                        one_line += [line.strip(), "deb-src " + line.strip()[4:]]
        if not any("Types:" in t for t in deb822) and not one_line:
            raise CodescaleError("no Debian apt sources under /etc/apt (needed for deb/deb-src)")
        for old in parts.iterdir():
            old.unlink()
        if deb822:
            (parts / "codescale.sources").write_text("\n\n".join(deb822))
        if one_line:
            (parts / "codescale.list").write_text("\n".join(one_line) + "\n")
        _run(["apt-get", *self._apt_options(), "update"], apt, "apt-get update (private state)")
        self._apt_ready = True

    def _fetch_deb(self, specs: list[SourceSpec]) -> dict[str, list[Download]]:
        out_dir = self.dir / "deb"
        out_dir.mkdir(parents=True, exist_ok=True)
        for spec in specs:
            for stale in out_dir.glob(f"{spec.package}_*.deb"):
                stale.unlink()
        self._prepare_apt()
        names = [s.package for s in specs]
        _run(["apt-get", *self._apt_options(), "download", *names], out_dir, "apt-get download")
        result = {}
        for spec in specs:
            files = sorted(out_dir.glob(f"{spec.package}_*.deb"))
            if len(files) != 1:
                raise CodescaleError(f"apt-get download {spec.package}: want one .deb, got {files}")
            version = _run(
                ["dpkg-deb", "-f", str(files[0]), "Version"], out_dir, "dpkg-deb -f"
            ).stdout.strip()
            result[spec.key] = self._record(spec, [(files[0], version)])
        return result

    def _fetch_deb_src(self, specs: list[SourceSpec]) -> dict[str, list[Download]]:
        out_dir = self.dir / "deb-src"
        out_dir.mkdir(parents=True, exist_ok=True)
        for spec in specs:
            for stale in out_dir.glob(f"{spec.package}_*"):
                if not stale.name.endswith(".json"):
                    stale.unlink()
        self._prepare_apt()
        names = [s.package for s in specs]
        proc = _run(
            ["apt-get", *self._apt_options(), "source", "--download-only", "--tar-only", *names],
            out_dir,
            "apt-get source",
        )
        # "Get:1 http://... bookworm/main nunit 2.6.4+dfsg-1.1 (tar) [2433 kB]"
        versions = dict(re.findall(r"^Get:\d+ \S+ \S+ (\S+) (\S+) \(tar\)", proc.stdout, re.M))
        result = {}
        for spec in specs:
            if spec.package not in versions:
                raise CodescaleError(f"apt-get source {spec.package}: no version in apt's output")
            files = sorted(
                f
                for f in out_dir.glob(f"{spec.package}_*.tar.*")
                if ".debian.tar." not in f.name and not f.name.endswith(".json")
            )
            result[spec.key] = self._record(spec, [(f, versions[spec.package]) for f in files])
        return result

    def _fetch_npm(self, specs: list[SourceSpec]) -> dict[str, list[Download]]:
        out_dir = self.dir / "npm"
        out_dir.mkdir(parents=True, exist_ok=True)
        cmd = ["npm", "pack", "--json", "--ignore-scripts", "--pack-destination", str(out_dir)]
        cmd += [f"{s.package}@{s.version}" for s in specs]
        # a throw-away npm cache: the .tgz files are our cache, npm's would only double the disk
        with tempfile.TemporaryDirectory(prefix="codescale-npm-") as npm_cache:
            proc = _run([*cmd, "--cache", npm_cache], out_dir, "npm pack")
        try:
            packed = {(p["name"], p["version"]): p for p in json.loads(proc.stdout)}
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise CodescaleError(f"npm pack: unexpected output ({err})") from err
        result = {}
        for spec in specs:
            info = packed.get((spec.package, spec.version))
            if info is None:
                raise CodescaleError(f"npm pack {spec.package}@{spec.version}: not in npm's output")
            file = out_dir / info["filename"]
            sha1 = hashlib.sha1(file.read_bytes()).hexdigest()
            if sha1 != info["shasum"]:
                raise CodescaleError(f"npm pack {spec.package}@{spec.version}: sha1 mismatch")
            result[spec.key] = self._record(spec, [(file, spec.version)])
        return result

    def fetch(self, specs: list[SourceSpec]) -> dict[str, list[Download]]:
        """Downloads for every spec (cache first), keyed by `SourceSpec.key`."""
        result: dict[str, list[Download]] = {}
        missing: dict[str, list[SourceSpec]] = {k: [] for k in KINDS}
        for spec in specs:
            hit = self.cached(spec)
            if hit is None:
                missing[spec.kind].append(spec)
            else:
                result[spec.key] = hit
        fetchers = {"deb": self._fetch_deb, "deb-src": self._fetch_deb_src, "npm": self._fetch_npm}
        for kind, todo in missing.items():
            if todo:
                result.update(fetchers[kind](todo))
        return result


# -- reading archives -------------------------------------------------------------------------


def _relative(name: str, root: str) -> str | None:
    """`name` below the glob-ish `root` (each component fnmatch'ed), or None if outside it."""
    root_parts = [p for p in root.split("/") if p]
    parts = name.split("/")
    if len(parts) <= len(root_parts):
        return None
    for pat, part in zip(root_parts, parts, strict=False):
        if not fnmatch.fnmatchcase(part, pat):
            return None
    return "/".join(parts[len(root_parts) :])


def _wanted(spec: SourceSpec, rel: str) -> bool:
    if not any(rel.startswith(prefix) for prefix in spec.include):
        return False
    if any(fnmatch.fnmatchcase("/" + rel, pat) for pat in spec.exclude):
        return False
    return extension_language(rel, EXTENSION_LANGUAGE) == spec.lang


def repo_of(spec: SourceSpec, rel: str) -> str:
    """The repository of a file: the first `repo_depth` components below root (see module doc)."""
    return f"{spec.package}/" + "/".join(rel.split("/")[: spec.repo_depth])


def _tar_members(stream: IO[bytes] | Path) -> Iterator[tuple[str, tarfile.TarFile, Any]]:
    opened = {"name": stream} if isinstance(stream, Path) else {"fileobj": stream}
    with tarfile.open(mode="r|*", **opened) as tf:
        for member in tf:
            if member.isfile():
                yield member.name, tf, member


def _zip_files(path: Path) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.is_dir():
                yield info.filename, zf.read(info)


def archive_files(spec: SourceSpec, download: Download) -> Iterator[tuple[str, bytes]]:
    """(relative path, bytes) of every candidate file in one download."""
    proc = None
    if download.kind == "deb":
        proc = subprocess.Popen(
            ["dpkg-deb", "--fsys-tarfile", str(download.file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        members = _tar_members(proc.stdout)
    else:
        members = _tar_members(download.file)
    try:
        for name, tf, member in members:
            name = name[2:] if name.startswith("./") else name
            if spec.inner_zip is not None:
                if fnmatch.fnmatchcase(name, spec.inner_zip):
                    yield from _inner_zip(spec, tf, member)
                continue
            rel = _relative(name, spec.root)
            if rel is not None and _wanted(spec, rel):
                fh = tf.extractfile(member)
                assert fh is not None
                yield rel, fh.read()
    finally:
        if proc is not None:
            proc.stdout.close()  # type: ignore[union-attr]
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            if proc.wait() not in (0, -13) and err:  # -13: we closed the pipe early
                raise CodescaleError(f"dpkg-deb --fsys-tarfile {download.file}: {err.strip()}")


def _inner_zip(spec: SourceSpec, tf: tarfile.TarFile, member: tarfile.TarInfo) -> Iterator:
    fh = tf.extractfile(member)
    assert fh is not None
    with tempfile.TemporaryDirectory(prefix="codescale-zip-") as tmp:
        zpath = Path(tmp) / "inner.zip"
        with open(zpath, "wb") as out:
            shutil.copyfileobj(fh, out, 1 << 20)
        for name, data in _zip_files(zpath):
            rel = _relative(name, spec.root)
            if rel is not None and _wanted(spec, rel):
                yield rel, data


def registry_candidates(
    specs: list[SourceSpec], downloads: dict[str, list[Download]]
) -> Iterator[Candidate]:
    """Candidates of every spec; a spec whose paths match no file is an error, not a skip."""
    for spec in specs:
        n = 0
        for download in downloads[spec.key]:
            source = f"{spec.kind}:{spec.package}@{download.version}"
            for rel, data in archive_files(spec, download):
                n += 1
                yield Candidate(
                    doc_id=f"{spec.package}/{rel}",
                    lang=spec.lang,
                    repo=repo_of(spec, rel),
                    path=rel,
                    data=data,
                    source=source,
                    origin=spec.key,
                )
        if n == 0:
            raise CodescaleError(
                f"{spec.kind} {spec.package}: no {spec.lang} files under root {spec.root!r} "
                f"matching include {list(spec.include)} (did the package layout change?)"
            )


def manifest_entries(
    specs: list[SourceSpec], downloads: dict[str, list[Download]], kept: dict[str, Any]
) -> list[dict[str, Any]]:
    """One manifest row per downloaded file; `kept[spec.key]` = {lang: {files, bytes}}."""
    rows = []
    for spec in specs:
        for d in downloads[spec.key]:
            rows.append(
                {
                    "package": d.package,
                    "version": d.version,
                    "kind": d.kind,
                    "file": d.file.name,
                    "sha256": d.sha256,
                    "size_bytes": d.size,
                    "license": d.license,
                    "kept": kept.get(spec.key, {}),
                }
            )
    return rows
