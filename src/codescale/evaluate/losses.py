"""Language-model loss on token shards: nats per token and bits per byte.

Windows: a document of n tokens has n - 1 predicted tokens (the leading language tag is given, not
predicted). They are scored in consecutive non-overlapping windows of the model's max_seq_len L:
window k feeds ids[kL : kL + L] and scores ids[kL + 1 : kL + L + 1], so every predicted token is
counted exactly once and context restarts at each window boundary (as in training on L-token
sequences; a sliding window would give slightly lower losses on long documents).

Bits per byte = total nats / ln 2 / bytes. A shard records only its total utf-8 bytes, so when
`max_tokens` stops early (whole documents are taken in shard order until the budget is reached) the
bytes are apportioned by tokens: n_bytes * (tokens of the documents evaluated / tokens in shard).
It is exact when the whole shard is evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from codescale.data.shards import Shard

IGNORE = -100


def document_windows(ids: np.ndarray, max_seq_len: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(inputs, targets) windows that score every token of a document after the first, once."""
    n = len(ids)
    for start in range(0, max(n - 1, 0), max_seq_len):
        end = min(start + max_seq_len, n - 1)
        yield ids[start:end], ids[start + 1 : end + 1]


@torch.no_grad()
def score_windows(
    model: torch.nn.Module,
    windows: Sequence[tuple[np.ndarray, np.ndarray]],
    batch_size: int,
    pad_id: int,
    device: torch.device,
) -> list[float]:
    """Summed nats of each window's targets (entries equal to IGNORE are not scored).

    Windows are right-padded to the batch's longest; a causal model's outputs at real positions do
    not depend on the padding after them. Batches are formed over length-sorted windows.
    """
    order = sorted(range(len(windows)), key=lambda i: len(windows[i][0]))
    out = [0.0] * len(windows)
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        width = max(len(windows[i][0]) for i in idx)
        x = torch.full((len(idx), width), pad_id, dtype=torch.long)
        y = torch.full((len(idx), width), IGNORE, dtype=torch.long)
        for row, i in enumerate(idx):
            inp, tgt = windows[i]
            x[row, : len(inp)] = torch.from_numpy(np.asarray(inp, dtype=np.int64))
            y[row, : len(tgt)] = torch.from_numpy(np.asarray(tgt, dtype=np.int64))
        x, y = x.to(device), y.to(device)
        logits = model(x)
        nll = F.cross_entropy(
            logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE, reduction="none"
        ).view(y.shape)
        sums = nll.sum(dim=1).double().cpu().tolist()
        for row, i in enumerate(idx):
            out[i] = sums[row]
    return out


def shard_loss(
    model: torch.nn.Module,
    shard: Shard,
    max_seq_len: int,
    batch_size: int,
    pad_id: int,
    device: torch.device,
    max_tokens: int | None = None,
) -> dict[str, float | int]:
    """Loss (nats/token) and bits/byte of the documents of a shard (see the module docstring)."""
    windows: list[tuple[np.ndarray, np.ndarray]] = []
    doc_tokens = 0
    n_docs = 0
    for i in range(len(shard)):
        if max_tokens is not None and doc_tokens >= max_tokens:
            break
        ids = shard.doc(i).astype(np.int64)
        windows.extend(document_windows(ids, max_seq_len))
        doc_tokens += len(ids)
        n_docs += 1
    nats = sum(score_windows(model, windows, batch_size, pad_id, device))
    n_pred = sum(len(t) for _, t in windows)
    total_tokens = max(shard.n_tokens, 1)
    n_bytes = float(shard.meta["n_bytes"]) * doc_tokens / total_tokens
    return {
        "loss": nats / n_pred if n_pred else float("nan"),
        "bpb": nats / math.log(2) / n_bytes if n_bytes else float("nan"),
        "nats": nats,
        "n_tokens": n_pred,
        "n_docs": n_docs,
        "n_bytes": n_bytes,
        "docs_fraction": n_docs / max(len(shard), 1),
    }
