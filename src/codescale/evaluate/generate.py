"""Greedy translation and BLEU per direction (optional: `codescale evaluate --bleu`).

Prompt: the pair document of `codescale.pairs.formats.encode_pair` up to and including the target
language tag (direct: `<|lang:S|> src <|lang:T|>`; prompt: the rendered template between source
and tag), i.e. exactly the tokens before the pair's target_mask.

Decoding: greedy (argmax of the logits at the last position) with `generate`, the one decoder
(also used by `codescale execute`): a KV cache by default (`use_cache=False` re-runs the whole
context at every step and returns the same tokens, tested, up to floating-point rounding in
near-ties), and optional temperature sampling. An instance stops at `<|endoftext|>` (not
part of the output) or after max_new_tokens = reference target tokens + 32, capped by `cap`
(--bleu-max-new-tokens).

Context longer than the model's max_seq_len L: two positions are pinned, the source language tag
(position 0, as every training document starts with a tag) and the target language tag (the
instruction which language to write). The oldest other tokens are dropped: first the source code
from its beginning, then the template, and only once the generated code alone exceeds L - 2
tokens, the oldest generated tokens. (The translation *loss* instead truncates plainly from the
left, dropping the source tag too; see codescale.evaluate.translation.)

Batching: instances are sorted by prompt length and decoded `batch_size` at a time; rows are
padded on the LEFT and passed with doc_ids (0 on padding, 1 on the instance), so a real token never
attends to padding (document masking) and RoPE, being relative, is unaffected by the offset.
Outputs equal unbatched decoding up to floating-point rounding. Finished rows leave the batch.

BLEU: sacrebleu.corpus_bleu(hypotheses, [references]) per direction, sacrebleu's default '13a'
tokenisation (splits punctuation from words, which suits code well enough; BLEU is on the 0-100
scale). The generated ids (the stopping eod excluded) are decoded with `tok.decode`, special
tokens kept as text (a stray language tag counts against the hypothesis); references are the test
table's `tgt` text. `seen_mean` / `unseen_mean` are plain means over directions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from statistics import fmean
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from codescale.data.tokenizer import special_ids
from codescale.errors import CodescaleError
from codescale.pairs.formats import encode_pair

EXTRA_NEW_TOKENS = 32


def prompt_and_reference(
    tok: Tokenizer, fmt: str, row: dict[str, Any], template: str
) -> tuple[list[int], int]:
    """(prompt ids ending with the target language tag, reference target tokens without eod)."""
    ids, mask = encode_pair(
        tok, fmt, row["src_lang"], row["src"], row["tgt_lang"], row["tgt"], template
    )
    head = int(np.argmax(mask))  # mask is a non-empty suffix: the target and its eod
    return [int(i) for i in ids[:head]], int(mask.sum()) - 1


def crop_context(ids: Sequence[int], tag_pos: int, max_seq_len: int) -> list[int]:
    """At most max_seq_len tokens of `ids`, keeping positions 0 and tag_pos (see module doc)."""
    n = len(ids)
    if n <= max_seq_len:
        return list(ids)
    drop = n - max_seq_len
    middle = list(ids[1:tag_pos])  # source code (and template) between the two tags
    generated = list(ids[tag_pos + 1 :])
    return [
        ids[0],
        *middle[drop:],
        ids[tag_pos],
        *generated[max(0, drop - len(middle)) :],
    ]


def _pick(last: torch.Tensor, temperature: float, gen: torch.Generator | None) -> list[int]:
    """Next token per row from last-position logits [B, V]: argmax, or a temperature sample."""
    if temperature <= 0:
        return last.argmax(dim=-1).tolist()
    probs = torch.softmax(last.float() / temperature, dim=-1)
    return torch.multinomial(probs.cpu(), 1, generator=gen).flatten().tolist()


def _check_prompts(model: torch.nn.Module, prompts, max_new) -> int:
    L = model.cfg.max_seq_len
    if L < 3:
        raise CodescaleError(f"decoding needs max_seq_len >= 3, the model has {L}")
    if len(prompts) != len(max_new):
        raise CodescaleError(f"{len(prompts)} prompts but {len(max_new)} max_new_tokens")
    for i, p in enumerate(prompts):
        if len(p) < 2:
            raise CodescaleError(f"prompt {i} has {len(p)} tokens; expected two language tags")
    return L


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    max_new: Sequence[int],
    eod_id: int,
    pad_id: int,
    batch_size: int,
    device: torch.device,
    *,
    use_cache: bool = True,
    temperature: float = 0.0,
    seed: int = 0,
    stop: Callable[[int, list[int]], bool] | None = None,
) -> list[list[int]]:
    """Continuation ids of each prompt (without the stopping eod).

    Prompts are decoded in batches of similar length with left padding, cropped as the module
    doc says (positions 0 and len(prompt) - 1 pinned), each stopping at eod or max_new; plus:
    `temperature` > 0 samples from softmax(logits / temperature) with a torch.Generator seeded
    by `seed` (sampling draws in batch order, so the samples depend on batch_size); `stop(i,
    out_i)` ends instance i early (e.g. once the function is complete); `use_cache` decodes with
    the model's KV cache (`Transformer.forward_cached`): the prompts are prefilled once, then
    one token per row and step; a row whose context would pass max_seq_len triggers a re-prefill
    of the cropped contexts, so outputs equal the uncached loop.
    """
    L = _check_prompts(model, prompts, max_new)
    gen = torch.Generator().manual_seed(seed) if temperature > 0 else None
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[list[int]] = [[] for _ in prompts]

    def finished(i: int, t: int) -> bool:
        if t == eod_id:
            return True
        out[i].append(int(t))
        return len(out[i]) >= max_new[i] or (stop is not None and stop(i, out[i]))

    for b in range(0, len(order), batch_size):
        active = [i for i in order[b : b + batch_size] if max_new[i] > 0]
        cache = None
        while active:
            ctx = [crop_context([*prompts[i], *out[i]], len(prompts[i]) - 1, L) for i in active]
            if use_cache and cache is not None and cache.length < L:
                x = torch.tensor([[out[i][-1]] for i in active], dtype=torch.long)
                logits = model.forward_cached(x.to(device), cache)
            else:
                width = max(len(c) for c in ctx)
                x = torch.full((len(ctx), width), pad_id, dtype=torch.long)
                doc = torch.zeros((len(ctx), width), dtype=torch.long)
                for row, c in enumerate(ctx):
                    x[row, width - len(c) :] = torch.tensor(c, dtype=torch.long)
                    doc[row, width - len(c) :] = 1
                if use_cache:
                    cache = model.new_cache(len(ctx))
                    logits = model.forward_cached(x.to(device), cache, doc.bool().to(device))
                else:
                    padded = any(len(c) < width for c in ctx)
                    logits = model(x.to(device), doc.to(device) if padded else None)
            nxt = _pick(logits[:, -1], temperature, gen)
            keep = [
                row
                for row, (i, t) in enumerate(zip(active, nxt, strict=True))
                if not finished(i, t)
            ]
            if cache is not None and len(keep) < len(active) and keep:
                cache.select(torch.tensor(keep, device=device))
            active = [active[row] for row in keep]
    return out


def task_key(task_id: str) -> tuple:
    """Natural order of task ids: HumanEval/2 before HumanEval/10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(task_id)))


def select_instances(rows: list[dict[str, Any]], max_instances: int | None) -> list[dict[str, Any]]:
    """Per direction, the first `max_instances` rows by task id (natural order); all if None."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["src_lang"], r["tgt_lang"])].append(r)
    out = []
    for rs in groups.values():
        rs = sorted(rs, key=lambda r: task_key(r["task_id"]))
        out += rs if max_instances is None else rs[:max_instances]
    return out


def bleu_by_direction(
    rows: Sequence[dict[str, Any]], hypotheses: Sequence[str]
) -> list[dict[str, Any]]:
    """[{src_lang, tgt_lang, seen, bleu, n_instances}] in order of first appearance."""
    try:
        import sacrebleu
    except ImportError as err:
        raise CodescaleError(
            "BLEU needs sacrebleu: install codescale's `train` extra (pip install -e '.[train]')"
        ) from err
    if len(rows) != len(hypotheses):
        raise CodescaleError(f"{len(rows)} instances but {len(hypotheses)} hypotheses")
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[(r["src_lang"], r["tgt_lang"])].append(i)
    out = []
    for (s, t), idx in groups.items():
        score = sacrebleu.corpus_bleu([hypotheses[i] for i in idx], [[rows[i]["tgt"] for i in idx]])
        out.append(
            {
                "src_lang": s,
                "tgt_lang": t,
                "seen": bool(rows[idx[0]]["seen"]),
                "bleu": float(score.score),
                "n_instances": len(idx),
            }
        )
    return out


def translation_bleu(
    model: torch.nn.Module,
    tok: Tokenizer,
    rows: list[dict[str, Any]],
    fmt: str,
    template: str,
    batch_size: int,
    device: torch.device,
    max_instances: int | None = None,
    max_new_tokens: int | None = None,
) -> dict[str, Any]:
    """The eval JSON's translation.bleu: {directions, seen_mean, unseen_mean, max_new_tokens}."""
    if max_instances is not None and max_instances < 1:
        raise CodescaleError(f"--bleu-max-instances must be >= 1, got {max_instances}")
    if max_new_tokens is not None and max_new_tokens < 1:
        raise CodescaleError(f"--bleu-max-new-tokens must be >= 1, got {max_new_tokens}")
    sp = special_ids(tok)
    chosen = select_instances(rows, max_instances)
    prompts, budgets = [], []
    for r in chosen:
        prompt, n_ref = prompt_and_reference(tok, fmt, r, template)
        prompts.append(prompt)
        budget = n_ref + EXTRA_NEW_TOKENS
        budgets.append(budget if max_new_tokens is None else min(budget, max_new_tokens))
    generated = generate(model, prompts, budgets, sp["eod"], sp["pad"], batch_size, device)
    hypotheses = [tok.decode(g, skip_special_tokens=False) for g in generated]
    directions = bleu_by_direction(chosen, hypotheses)

    def mean(sel: list[dict[str, Any]]) -> float | None:
        return fmean(d["bleu"] for d in sel) if sel else None

    return {
        "directions": directions,
        "seen_mean": mean([d for d in directions if d["seen"]]),
        "unseen_mean": mean([d for d in directions if not d["seen"]]),
        "max_new_tokens": max_new_tokens,
    }
