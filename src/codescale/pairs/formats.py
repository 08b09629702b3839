"""Pair documents (paper section 5): a program followed by its translation, as token ids.

- direct:  `<|lang:S|> src <|lang:T|> tgt <|endoftext|>`
- prompt:  `<|lang:S|> src` + encode(template.format(src=S name, tgt=T name)) +
           `<|lang:T|> tgt <|endoftext|>`
- shuffled: no pair; each program is its own corpus-style document (see `encode_program`), and a
  shuffled-trained model is evaluated with the direct format.

`target_mask` marks the tokens of tgt and the closing <|endoftext|>: exactly the tokens whose
-log P counts in the translation loss. The target language tag is not in it: it is part of the
instruction (which language to write), not of the translation.
"""

from __future__ import annotations

import numpy as np
from tokenizers import Tokenizer

from codescale import LANGUAGE_NAMES, LANGUAGES
from codescale import config as cs_config
from codescale.catalog import PAIR_FORMATS as FORMATS
from codescale.data.tokenizer import encode_documents, special_ids
from codescale.errors import CodescaleError

# The formats that have a pair document (a shuffled run trains on the two languages' programs
# apart, and is evaluated in the direct format).
PAIR_FORMATS = tuple(f for f in FORMATS if f != "shuffled")
DEFAULT_TEMPLATE = cs_config.default("parallel.prompt_template")


def _text_ids(tok: Tokenizer, text: str) -> list[int]:
    if not tok.encode_special_tokens:
        raise CodescaleError("load the tokenizer with codescale.data.tokenizer.load_tokenizer")
    return tok.encode(text, add_special_tokens=False).ids


def render_template(template: str, src_lang: str, tgt_lang: str) -> str:
    """The prompt text between source and target; `{src}`/`{tgt}` become language names."""
    try:
        return template.format(src=LANGUAGE_NAMES[src_lang], tgt=LANGUAGE_NAMES[tgt_lang])
    except (KeyError, IndexError, ValueError) as err:
        raise CodescaleError(
            f"bad prompt template {template!r}: only {{src}} and {{tgt}} may appear ({err})"
        ) from err


def encode_pair(
    tok: Tokenizer,
    fmt: str,
    src_lang: str,
    src: str,
    tgt_lang: str,
    tgt: str,
    template: str = DEFAULT_TEMPLATE,
) -> tuple[np.ndarray, np.ndarray]:
    """(ids uint32 [n], target_mask bool [n]) of one pair document in format `fmt`."""
    if fmt not in PAIR_FORMATS:
        raise CodescaleError(
            f"pair format {fmt!r} has no pair document; expected one of {PAIR_FORMATS} "
            "(a shuffled-trained model is evaluated with 'direct')"
        )
    for lang in (src_lang, tgt_lang):
        if lang not in LANGUAGES:
            raise CodescaleError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
    sp = special_ids(tok)
    head = [sp["lang"][src_lang], *_text_ids(tok, src)]
    if fmt == "prompt":
        head += _text_ids(tok, render_template(template, src_lang, tgt_lang))
    head.append(sp["lang"][tgt_lang])
    target = [*_text_ids(tok, tgt), sp["eod"]]
    ids = np.asarray(head + target, dtype=np.uint32)
    mask = np.zeros(len(ids), dtype=bool)
    mask[len(head) :] = True
    return ids, mask


def pair_text(fmt: str, src_lang: str, src: str, tgt_lang: str, tgt: str, template: str) -> str:
    """The plain text a pair document encodes (for its byte count)."""
    middle = render_template(template, src_lang, tgt_lang) if fmt == "prompt" else ""
    return src + middle + tgt


def encode_program(tok: Tokenizer, lang: str, content: str) -> np.ndarray:
    """A single program as a corpus document (the shuffled format)."""
    return encode_documents(tok, lang, [content])[0]
