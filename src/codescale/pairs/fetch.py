"""`codescale fetch-parallel`: bring the three parallel data sets into one verified directory.

Every file is pinned (upstream repository, commit, path, sha256) in the package file
`codescale/pairs/sources.yaml`. A file is copied from `--source-dir` when that directory holds it
(the read-only development copy), otherwise downloaded from its public URL at the pinned commit.
Either way its sha256 must match the pinned one before it is moved into place, so a tampered or
truncated file never reaches the pipeline. LICENSE files travel with the data.

Layout written: OUT/{polyhumaneval,humaneval-x,mbxp}/<name> plus OUT/manifest.json (per file:
dataset, name, sha256, origin = the path or URL it came from, license).
"""

from __future__ import annotations

import argparse
import gzip
import logging
import shutil
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from codescale.errors import CodescaleError
from codescale.io import atomic_path, sha256_file, write_json

log = logging.getLogger(__name__)

DEFAULT_URL_TEMPLATE = "https://raw.githubusercontent.com/{repo}/{commit}/{upstream}"


def load_sources() -> dict[str, Any]:
    """The pinned sources table shipped with the package."""
    text = resources.files("codescale.pairs").joinpath("sources.yaml").read_text()
    return yaml.safe_load(text)


def _check(path: Path, expected: str, what: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise CodescaleError(
            f"checksum mismatch for {what}: expected sha256 {expected}, got {actual}"
        )


def fetch_file(
    dataset: str,
    meta: dict[str, Any],
    entry: dict[str, Any],
    out_dir: Path,
    source_dir: Path | None,
    url_template: str,
) -> dict[str, Any]:
    """Copy or download one pinned file into out_dir/dataset/, verified; returns its manifest."""
    dest = out_dir / dataset / entry["name"]
    if dest.exists() and sha256_file(dest) == entry["sha256"]:
        return {
            "dataset": dataset,
            "name": entry["name"],
            "sha256": entry["sha256"],
            "origin": "already present",
        }
    local = source_dir / dataset / entry.get("local", entry["name"]) if source_dir else None
    with atomic_path(dest) as tmp:
        if local is not None and local.exists():
            origin = str(local)
            if entry.get("gunzip"):
                _check(local, entry["local_sha256"], str(local))
                with gzip.open(local, "rb") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            else:
                shutil.copyfile(local, tmp)
        else:
            origin = url_template.format(
                repo=meta["repo"],
                commit=meta["commit"],
                upstream=entry["upstream"],
                dataset=dataset,
                name=entry["name"],
            )
            log.info("downloading %s", origin)
            try:
                with urllib.request.urlopen(origin, timeout=60) as resp, open(tmp, "wb") as dst:
                    shutil.copyfileobj(resp, dst)
            except OSError as err:
                raise CodescaleError(f"cannot download {origin}: {err}") from err
        _check(tmp, entry["sha256"], f"{dataset}/{entry['name']} (from {origin})")
    return {"dataset": dataset, "name": entry["name"], "sha256": entry["sha256"], "origin": origin}


def fetch_all(out_dir: Path, source_dir: Path | None, url_template: str) -> list[dict[str, Any]]:
    """Fetch every pinned file; returns the manifest rows."""
    rows = []
    for dataset, meta in load_sources().items():
        for entry in meta["files"]:
            row = fetch_file(dataset, meta, entry, out_dir, source_dir, url_template)
            rows.append(
                {
                    **row,
                    "license": meta["license"],
                    "repo": meta["repo"],
                    "commit": meta["commit"],
                    "upstream": entry["upstream"],
                }
            )
    write_json(out_dir / "manifest.json", {"files": rows})
    return rows


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", type=Path, required=True, help="e.g. resources/parallel")
    parser.add_argument(
        "--source-dir",
        type=Path,
        default=None,
        help="local copy to take files from when present (else download)",
    )
    parser.add_argument(
        "--url-template",
        default=DEFAULT_URL_TEMPLATE,
        help="download URL; fields {repo} {commit} {upstream} {dataset} {name}",
    )


def run(args: argparse.Namespace) -> None:
    if args.source_dir is not None and not args.source_dir.is_dir():
        log.warning("--source-dir %s does not exist; downloading everything", args.source_dir)
        args.source_dir = None
    rows = fetch_all(args.out_dir, args.source_dir, args.url_template)
    log.info("verified %d files under %s", len(rows), args.out_dir)
