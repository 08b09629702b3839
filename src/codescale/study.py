"""A study's config -> the list of training runs it implies (the paper's four experiment families).

Run names are stable and readable (`mono/python/100K_d2M`), so a rerun with the same config maps
onto the same artifacts, and a new point in a grid adds runs without renaming old ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STUDIES = ("mono", "synergy", "pairing", "allocation")
PAIR_FORMATS = ("shuffled", "direct", "prompt")


@dataclass(frozen=True)
class Run:
    """One training run: a model size, a token budget and a data mixture."""

    name: str
    study: str
    size: str
    tokens: int
    weights: dict[str, float] | None  # proportions of the code languages; None = from allocation
    seed: int = 0
    pair_format: str | None = None
    parallel_share: float = 0.0
    unique_tokens: dict[str, int] = field(default_factory=dict)
    target: str | None = None
    auxiliary: str | None = None
    strategy: str | None = None  # allocation: uniform | optimised

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fmt_count(n: float) -> str:
    """100000 -> '100K', 1.5e6 -> '1.5M', 6.4e10 -> '64B': short, exact, filesystem-safe."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            value = n / scale
            text = f"{value:.3f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return str(int(n))


def _name(study: str, group: str, size: str, tokens: int) -> str:
    return f"{study}/{group}/{size}_d{fmt_count(tokens)}"


def expand(config: dict[str, Any]) -> list[Run]:
    """All runs of every enabled study, in a stable order."""
    languages: list[str] = list(config["languages"])
    studies = config.get("studies", {})
    seed = int(config.get("seed", 0))
    runs: list[Run] = []

    mono = studies.get("per_language")
    if mono and mono.get("enabled", True):
        for lang in mono.get("languages") or languages:
            for size in mono["sizes"]:
                for tokens in mono["tokens"]:
                    runs.append(
                        Run(
                            _name("mono", lang, size, int(tokens)),
                            "mono",
                            size,
                            int(tokens),
                            {lang: 1.0},
                            seed,
                            target=lang,
                        )
                    )

    synergy = studies.get("synergy")
    if synergy and synergy.get("enabled", True):
        # Table 1: a run mixing L_i and L_j (D tokens each) fills two cells, (i, j) from its loss
        # on L_i and (j, i) from its loss on L_j; the diagonal repeats D tokens of L_i twice.
        # So L languages need L + L(L-1)/2 runs (7 + 21 for the paper).
        d = int(synergy["tokens"])
        chosen = [lang for lang in languages if lang in (synergy.get("languages") or languages)]
        for i, first in enumerate(chosen):
            for second in chosen[i:]:
                weights = {first: 1.0} if first == second else {first: 0.5, second: 0.5}
                runs.append(
                    Run(
                        _name("synergy", f"{first}+{second}", synergy["size"], d),
                        "synergy",
                        synergy["size"],
                        2 * d,
                        weights,
                        seed,
                        unique_tokens={lang: d for lang in weights},
                        target=first,
                        auxiliary=second,
                    )
                )

    pairing = studies.get("pairing")
    if pairing and pairing.get("enabled", True):
        uniform = {lang: 1.0 / len(languages) for lang in languages}
        for fmt in pairing["formats"]:
            for size in pairing["sizes"]:
                for tokens in pairing["tokens"]:
                    runs.append(
                        Run(
                            _name("pairing", fmt, size, int(tokens)),
                            "pairing",
                            size,
                            int(tokens),
                            uniform,
                            seed,
                            pair_format=fmt,
                            parallel_share=float(pairing["parallel_share"]),
                        )
                    )

    allocation = studies.get("allocation")
    if allocation and allocation.get("enabled", True):
        uniform = {lang: 1.0 / len(languages) for lang in languages}
        for strategy in ("uniform", "optimised"):
            runs.append(
                Run(
                    _name("allocation", strategy, allocation["size"], int(allocation["tokens"])),
                    "allocation",
                    allocation["size"],
                    int(allocation["tokens"]),
                    uniform if strategy == "uniform" else None,
                    seed,
                    strategy=strategy,
                )
            )
    return runs


def by_name(runs: list[Run]) -> dict[str, Run]:
    table = {run.name: run for run in runs}
    if len(table) != len(runs):
        raise ValueError("duplicate run names in study")
    return table
