"""Checkpoints that a kill at any instant cannot corrupt, full or sharded, plus exact-resume state.

`last.ckpt` in the checkpoint dir is always either absent, the previous complete checkpoint or the
new complete one, never a half-written one:

- full (one process, DDP: the weights are replicated): rank 0 writes one torch.save file through
  codescale.io.atomic_path (temporary file in the same dir, fsync, rename onto last.ckpt). Keys:
  global_step, state_dict (the Transformer's own key names), optimizer (torch AdamW state dict),
  codescale (see `extra` below).
- sharded (FSDP): every rank writes its own shard of weights and AdamW state with
  torch.distributed.checkpoint (DCP) into `.sharded-step{k}.tmp/`; after a barrier rank 0 writes
  `meta.pt` (global_step, codescale) into it, renames the directory to `sharded-step{k}/`, then
  points last.ckpt at it with an atomic symlink swap and deletes older `sharded-step*/` dirs. A
  kill before the swap leaves last.ckpt on the previous checkpoint (the leftover directory is
  removed by the next save). DCP reshards on load, so a resumed job may have another world size.

`extra` (the "codescale" entry) holds what exact resume needs beyond weights and optimizer: the
configuration fingerprint, RNG states, the loss curve so far, train time, stops and segments.
The data order needs nothing: it is a function of the step.

WSD branch checkpoints (hparams.py): a stable run saves each branch point into its own checkpoint
dir (same layout: `last.ckpt`, a file or a sharded directory) under its --checkpoint-dir, and
moves them onto the declared outputs only once it is complete (`publish_dir`): Snakemake deletes
a failed job's outputs, and a stable run stopped at a time limit is such a job until its last
segment. The codescale entry then also holds `trajectory`, the fingerprint a branch shares with
every budget's run; a cooldown resumes from a branch checkpoint only with the same trajectory and
only at its own branch step (`check_branch`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codescale.errors import CodescaleError
from codescale.io import atomic_path

LAST = "last.ckpt"
META = "meta.pt"
SHARDED_PREFIX = "sharded-step"


def last_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """The checkpoint a resubmitted job resumes from (a file or a sharded directory), if any."""
    path = Path(ckpt_dir) / LAST
    return path if path.exists() else None


def is_sharded(path: Path) -> bool:
    return path.is_dir()


def read_meta(path: Path) -> dict[str, Any]:
    """global_step and the codescale entry of a full or sharded checkpoint (no tensors loaded)."""
    target = path / META if is_sharded(path) else path
    try:
        ckpt = torch.load(target, map_location="cpu", weights_only=False, mmap=True)
    except Exception as err:  # a corrupt file must name itself
        raise CodescaleError(f"cannot read checkpoint {target}: {err}") from None
    return ckpt


def fingerprint(payload: dict[str, Any]) -> str:
    """A hash of everything that determines the trajectory (model, mixture, hyper-parameters).

    Stored in each checkpoint; a checkpoint from another configuration must not be resumed.
    """
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_fingerprint(path: Path, expected: str) -> int:
    """Raise unless the checkpoint at `path` was written by this configuration; return its step."""
    ckpt = read_meta(path)
    found = ckpt.get("codescale", {}).get("fingerprint")
    if found != expected:
        raise CodescaleError(
            f"checkpoint {path} was written by a different configuration (fingerprint {found}, "
            f"this run {expected}); delete it to start fresh"
        )
    return int(ckpt.get("global_step", 0))


def check_branch(path: Path, trajectory: str, step: int) -> None:
    """Raise unless the branch checkpoint at `path` continues this run: written on the same
    trajectory (model, data, batch, LR, warmup, precision) and at this run's branch step."""
    ckpt = read_meta(path)
    info = ckpt.get("codescale", {})
    found = info.get("trajectory")
    if found != trajectory:
        raise CodescaleError(
            f"branch checkpoint {path} was written on another trajectory (fingerprint {found}, "
            f"this run {trajectory}): the stable run and its cooldown differ in model, data, "
            "batch, learning rate, warmup or precision"
        )
    saved = int(ckpt.get("global_step", -1))
    if saved != step:
        raise CodescaleError(
            f"branch checkpoint {path} is at step {saved}, but this run's cooldown starts at step "
            f"{step} (its budget or cooldown fraction differs from the stable run's)"
        )


def publish_dir(src: Path, dest: Path) -> None:
    """Move the checkpoint dir `src` onto `dest` (replacing it): a rename on one filesystem,
    else a copy then delete (the copy goes to a temporary name first, so `dest` is never half
    there)."""
    src, dest = Path(src), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        shutil.rmtree(dest)
    try:
        os.replace(src, dest)
    except OSError:  # another filesystem (EXDEV)
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp, symlinks=True)
        os.replace(tmp, dest)
        shutil.rmtree(src)
    _fsync_dir(dest.parent)


def save_full(
    path: Path, step: int, model: torch.nn.Module, optimizer: Any, extra: dict[str, Any]
) -> None:
    """Rank 0 only: one atomic torch.save file (weights are replicated on every rank)."""
    state = {
        "global_step": step,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "codescale": extra,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_full(path: Path, model: torch.nn.Module, optimizer: Any) -> dict[str, Any]:
    """Every rank: weights and optimizer state from a full checkpoint; returns the whole dict."""
    if is_sharded(path):
        raise CodescaleError(
            f"checkpoint {path} is sharded (written by --strategy fsdp); resume it with "
            "--strategy fsdp or delete it"
        )
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(ckpt["state_dict"])
    optimizer.load_state_dict(ckpt["optimizer"])
    return ckpt


def save_sharded(
    ckpt_dir: Path,
    step: int,
    model: torch.nn.Module,
    optimizer: Any,
    extra: dict[str, Any],
    rank: int,
    barrier: Any,
) -> Path:
    """Every rank: DCP-save its shards, then rank 0 publishes the directory (module docstring)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    tmp = ckpt_dir / f".{SHARDED_PREFIX}{step:09d}.tmp"
    final = ckpt_dir / f"{SHARDED_PREFIX}{step:09d}"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    barrier()
    model_sd, optim_sd = get_state_dict(model, optimizer)
    dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=str(tmp))
    barrier()  # every shard is on disk before the directory is published
    if rank == 0:
        torch.save({"global_step": step, "codescale": extra}, tmp / META)
        _fsync_dir(tmp)
        last = ckpt_dir / LAST
        current = last.resolve() if last.is_symlink() else None
        if final.exists() and final != current:
            shutil.rmtree(final)
        if final != current:
            os.replace(tmp, final)
        else:  # the same step saved twice (a rerun after completion): keep the published one
            shutil.rmtree(tmp)
        link = ckpt_dir / f".{LAST}.link.tmp"
        link.unlink(missing_ok=True)
        os.symlink(final.name, link)
        os.replace(link, last)
        _fsync_dir(ckpt_dir)
        for old in ckpt_dir.glob(f"{SHARDED_PREFIX}*"):
            if old != final:
                shutil.rmtree(old, ignore_errors=True)
        for old in ckpt_dir.glob(f".{SHARDED_PREFIX}*.tmp"):
            shutil.rmtree(old, ignore_errors=True)
    barrier()
    return final


def load_sharded(path: Path, model: torch.nn.Module, optimizer: Any) -> dict[str, Any]:
    """Every rank: its shards of weights and optimizer state (DCP reshards across world sizes)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    if not is_sharded(path):
        raise CodescaleError(
            f"checkpoint {path} is a full (unsharded) checkpoint; resume it with --strategy "
            "auto/ddp or delete it"
        )
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {"model": model_sd, "optim": optim_sd}
    dcp.load(state, checkpoint_id=str(path.resolve()))
    set_state_dict(
        model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"]
    )
    return read_meta(path)


def remove_checkpoint(ckpt_dir: Path) -> None:
    """Delete last.ckpt and any sharded directories (once the run's outputs exist)."""
    (ckpt_dir / LAST).unlink(missing_ok=True)
    for old in [*ckpt_dir.glob(f"{SHARDED_PREFIX}*"), *ckpt_dir.glob(f".{SHARDED_PREFIX}*")]:
        shutil.rmtree(old, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) RNG states."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
