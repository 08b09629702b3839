"""Checkpoints that a kill at any instant cannot corrupt, plus what exact resume needs beyond them.

Lightning's TorchCheckpointIO writes the file in place, so a job killed mid-write (SIGKILL, node
failure) leaves a truncated last.ckpt that the resubmitted job then fails to load.
AtomicCheckpointIO writes through codescale.io.atomic_path instead: last.ckpt is always either the
previous or the new complete checkpoint.

Lightning checkpoints hold weights, optimizer state and loop counters but no RNG state; `rng_state`
/ `set_rng_state` add it (the data order needs none: it is a function of the step).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from codescale.errors import CodescaleError
from codescale.io import atomic_path

LAST = "last.ckpt"


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO whose writes are atomic (tmp file in the same dir, fsync, rename)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)


def last_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """The checkpoint a resubmitted job resumes from, if any."""
    path = Path(ckpt_dir) / LAST
    return path if path.exists() else None


def fingerprint(payload: dict[str, Any]) -> str:
    """A hash of everything that determines the trajectory (model, mixture, hyper-parameters).

    Stored in each checkpoint; a checkpoint from another configuration must not be resumed.
    """
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_fingerprint(path: Path, expected: str) -> int:
    """Raise unless the checkpoint at `path` was written by this configuration; return its step."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as err:  # a corrupt file must name itself
        raise CodescaleError(f"cannot read checkpoint {path}: {err}") from None
    found = ckpt.get("codescale", {}).get("fingerprint")
    if found != expected:
        raise CodescaleError(
            f"checkpoint {path} was written by a different configuration (fingerprint {found}, "
            f"this run {expected}); delete it to start fresh"
        )
    return int(ckpt.get("global_step", 0))


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
