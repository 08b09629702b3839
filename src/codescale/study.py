"""A study's config -> the list of training runs it implies (the paper's four experiment families).

Run names are stable and readable (`mono/python/100K_d2M`), so a rerun with the same config maps
onto the same artifacts, and a new point in a grid adds runs without renaming old ones.

With `train.schedule: wsd` the runs of one (study, cell, size) that differ only in their budget
share one stable run (`stables`, named `{study}/{cell}/{size}_stable`): it trains at the
constant LR to the largest branch point and each run becomes a cooldown from its own branch
point (codescale.train.hparams). The runs, their names and outputs stay the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Run-level study names and pair formats: codescale.catalog (re-exported here).
from codescale.catalog import ALLOCATION_STRATEGIES, PAIR_FORMATS, STUDIES
from codescale.errors import CodescaleError

__all__ = ["PAIR_FORMATS", "STUDIES"]


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

    @property
    def from_advice(self) -> bool:
        """The optimised allocation run: its mixture is the allocation advice, known only once the
        other runs are fitted (weights None), so the fits never wait for it."""
        return self.weights is None

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

    per_language = studies.get("per_language")
    if per_language and per_language.get("enabled", True):
        for lang in per_language.get("languages") or languages:
            for size in per_language["sizes"]:
                for tokens in per_language["tokens"]:
                    runs.append(  # named and studied as "mono" (catalog.STUDY_CONFIG_KEYS)
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
        for strategy in ALLOCATION_STRATEGIES:
            name = _name("allocation", strategy, allocation["size"], int(allocation["tokens"]))
            for k in range(int(allocation.get("seeds", 1))):
                runs.append(
                    Run(
                        name + (f"_s{k}" if k else ""),
                        "allocation",
                        allocation["size"],
                        int(allocation["tokens"]),
                        uniform if strategy == "uniform" else None,
                        seed + k,
                        strategy=strategy,
                    )
                )
    return runs


@dataclass(frozen=True)
class Stable:
    """The shared stable phase of the WSD runs of one (study, cell, size): `runs[k]` has budget
    `budgets[k]` (ascending) and branches from this run at its branch step."""

    name: str
    study: str
    cell: str
    size: str
    budgets: tuple[int, ...]
    runs: tuple[str, ...]

    @property
    def tokens(self) -> int:
        """The budget whose schedule the stable run follows (its mixture's D): the largest."""
        return self.budgets[-1]

    def warmup_tokens(self, warmup_fraction: float) -> int:
        """One warmup for every branch: warmup_fraction of the smallest budget, in tokens."""
        return round(warmup_fraction * self.budgets[0])


STABLE_SUFFIX = "_stable"


def stables(config: dict[str, Any], runs: list[Run]) -> list[Stable]:
    """The stable runs of a study: none unless `train.schedule` is wsd; else one per (study,
    cell, size) with two or more budgets (a single budget trains as one plain WSD run).

    Runs grouped together must differ in nothing but name and budget (they do by construction
    in `expand`; anything else would make their shared trajectory a lie, so it raises)."""
    if config.get("train", {}).get("schedule", "cosine") != "wsd":
        return []
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for run in runs:
        cell = run.name.split("/")[1]
        groups.setdefault((run.study, cell, run.size), []).append(run)
    out = []
    for (family, cell, size), members in groups.items():
        if len(members) < 2:
            continue
        members = sorted(members, key=lambda r: r.tokens)
        shapes = {_shared_spec(r) for r in members}
        budgets = tuple(r.tokens for r in members)
        if len(shapes) != 1 or len(set(budgets)) != len(budgets):
            raise CodescaleError(f"runs of {family}/{cell}/{size} differ in more than their budget")
        out.append(
            Stable(
                f"{family}/{cell}/{size}{STABLE_SUFFIX}",
                family,
                cell,
                size,
                budgets,
                tuple(r.name for r in members),
            )
        )
    return out


def _shared_spec(run: Run) -> str:
    """A run's spec without its name and budget (what a stable run's members share)."""
    d = run.to_dict()
    d.pop("name")
    d.pop("tokens")
    return repr(sorted(d.items()))


def branch_of(stable_runs: list[Stable]) -> dict[str, tuple[Stable, int]]:
    """Run name -> (its stable run, its budget)."""
    return {
        name: (st, tokens)
        for st in stable_runs
        for name, tokens in zip(st.runs, st.budgets, strict=True)
    }


def by_name(runs: list[Run]) -> dict[str, Run]:
    table = {run.name: run for run in runs}
    if len(table) != len(runs):
        raise ValueError("duplicate run names in study")
    return table
