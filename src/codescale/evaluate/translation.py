"""Translation loss -log P(target | source) per direction, and the paper's aggregates.

Each test instance is encoded with `codescale.pairs.formats.encode_pair`; only the target tokens
(target code and the closing <|endoftext|>, the pair's target_mask) are scored. With m target
tokens and the model's window L:
- m <= L: one window, the L tokens before the last one; a source that does not fit is truncated
  from the LEFT (its beginning is dropped), the target never is;
- m > L (a target longer than the window): sliding windows with stride L // 2, each scoring L // 2
  new target tokens with at least L - L // 2 tokens of preceding context.
Per direction: `loss` = summed nats / target tokens over its instances (nats per target token),
`loss_per_instance` = mean over instances of the summed nats. Aggregates (over directions' `loss`):
seen_mean (Python on one side), unseen_mean (the rest; Figure 3), all_mean, nonpython_mean
(neither side Python; Figure 4's Non-Python -> Non-Python; equals unseen_mean under Python-pivot
training), x_to_all[X] (mean over targets of X -> *) and all_to_x[X] (mean over sources; Figure 4).
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean
from typing import Any

import numpy as np
import torch

from codescale.evaluate.losses import IGNORE, score_windows
from codescale.pairs.formats import encode_pair


def target_windows(
    ids: np.ndarray, mask: np.ndarray, max_seq_len: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], bool]:
    """(inputs, targets-with-IGNORE) windows scoring exactly the masked tokens; and truncated?"""
    n = len(ids)
    pos = np.flatnonzero(mask)
    if len(pos) == 0 or pos[0] == 0 or not np.array_equal(pos, np.arange(pos[0], n)):
        raise ValueError("target_mask must mark a non-empty suffix after the first token")
    first = int(pos[0])
    m = n - first
    L = max_seq_len
    ends = [n - 1] if m <= L else list(range(first - 1 + L // 2, n - 1, L // 2)) + [n - 1]
    ends = sorted(set(ends))
    windows = []
    scored_to = first - 1  # last position already scored
    for e in ends:
        s = max(0, e - L)
        inp = ids[s:e]
        tgt = ids[s + 1 : e + 1].astype(np.int64).copy()
        positions = np.arange(s + 1, e + 1)
        tgt[positions <= scored_to] = IGNORE
        windows.append((inp, tgt))
        scored_to = e
    return windows, (n - 1) > L


def translation_losses(
    model: torch.nn.Module,
    tok,
    rows: list[dict[str, Any]],
    fmt: str,
    template: str,
    max_seq_len: int,
    batch_size: int,
    pad_id: int,
    device: torch.device,
) -> list[dict[str, Any]]:
    """One record per instance: task_id, src_lang, tgt_lang, seen, nats, n_tokens, truncated."""
    windows: list[tuple[np.ndarray, np.ndarray]] = []
    owner: list[int] = []
    records = []
    for i, r in enumerate(rows):
        ids, mask = encode_pair(
            tok, fmt, r["src_lang"], r["src"], r["tgt_lang"], r["tgt"], template
        )
        ws, truncated = target_windows(ids.astype(np.int64), mask, max_seq_len)
        windows += ws
        owner += [i] * len(ws)
        records.append(
            {
                "task_id": r["task_id"],
                "src_lang": r["src_lang"],
                "tgt_lang": r["tgt_lang"],
                "seen": bool(r["seen"]),
                "nats": 0.0,
                "n_tokens": int(mask.sum()),
                "truncated": truncated,
            }
        )
    for i, nats in zip(
        owner, score_windows(model, windows, batch_size, pad_id, device), strict=True
    ):
        records[i]["nats"] += nats
    return records


def per_direction(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[(r["src_lang"], r["tgt_lang"])].append(r)
    out = []
    for (s, t), rs in groups.items():
        tokens = sum(r["n_tokens"] for r in rs)
        nats = sum(r["nats"] for r in rs)
        out.append(
            {
                "src_lang": s,
                "tgt_lang": t,
                "seen": rs[0]["seen"],
                "n_instances": len(rs),
                "n_target_tokens": tokens,
                "loss": nats / tokens,
                "loss_per_instance": nats / len(rs),
                "n_truncated": sum(r["truncated"] for r in rs),
            }
        )
    return out


def aggregates(directions: list[dict[str, Any]], languages: list[str]) -> dict[str, Any]:
    """The paper's summaries over per-direction losses (see the module docstring)."""

    def mean(sel: list[dict[str, Any]]) -> float | None:
        return fmean(d["loss"] for d in sel) if sel else None

    return {
        "seen_mean": mean([d for d in directions if d["seen"]]),
        "unseen_mean": mean([d for d in directions if not d["seen"]]),
        "all_mean": mean(directions),
        "nonpython_mean": mean(
            [d for d in directions if "python" not in (d["src_lang"], d["tgt_lang"])]
        ),
        "x_to_all": {x: mean([d for d in directions if d["src_lang"] == x]) for x in languages},
        "all_to_x": {x: mean([d for d in directions if d["tgt_lang"] == x]) for x in languages},
    }
