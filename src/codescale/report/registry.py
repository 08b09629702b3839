"""The one registry of report items: which function draws each figure and which builds its tables.

An item is a name of codescale.catalog.REPORT_ITEMS (`codescale figures --only ITEM`). Its figure
function (`(table, fits) -> (Figure, notes)`, saved as catalog.FIGURE_STEMS[item].png/.pdf) and its
tables function (`(table, fits) -> [Table]`, stems in catalog.TABLE_STEMS[item]) register
themselves with the decorators below, in their figure family's module, together with the fit
files they read (catalog.FIT_FILES keys). So adding a figure is one decorated function in its
family's module plus its catalog entries; `items()` fails naming any catalog item nobody draws.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from codescale.catalog import FIGURE_STEMS, FIT_FILES, REPORT_ITEMS
from codescale.errors import CodescaleError

# The modules whose functions register items: one per figure family.
FAMILIES: tuple[str, ...] = (
    "codescale.report.per_language",
    "codescale.report.synergy",
    "codescale.report.pairing",
    "codescale.report.table3",
    "codescale.report.allocation",
)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Item:
    """One report item: its figure function and/or tables function and the fits they read."""

    name: str
    figure: Callable[..., Any] | None = None
    tables: Callable[..., Any] | None = None
    needs: set[str] = field(default_factory=set)


_ITEMS: dict[str, Item] = {}


def _register(item: str, kind: str, fn: Callable[..., Any], needs: Iterable[str]) -> None:
    where = f"{fn.__module__}.{fn.__qualname__}"
    if item not in REPORT_ITEMS:
        raise CodescaleError(f"{where}: report item {item!r} is not in catalog.REPORT_ITEMS")
    if kind == "figure" and item not in FIGURE_STEMS:
        raise CodescaleError(f"{where}: report item {item!r} has no catalog.FIGURE_STEMS entry")
    bad = sorted(set(needs) - set(FIT_FILES))
    if bad:
        raise CodescaleError(f"{where}: needs {bad}, not keys of catalog.FIT_FILES")
    entry = _ITEMS.setdefault(item, Item(item))
    old = getattr(entry, kind)
    if old is not None and f"{old.__module__}.{old.__qualname__}" != where:
        raise CodescaleError(
            f"report item {item!r}: two {kind} functions, "
            f"{old.__module__}.{old.__qualname__} and {where}"
        )
    setattr(entry, kind, fn)
    entry.needs |= set(needs)


def figure(item: str, needs: Iterable[str] = ()) -> Callable[[F], F]:
    """Register the decorated `(table, fits) -> (Figure, notes)` as the figure of `item`."""

    def register(fn: F) -> F:
        _register(item, "figure", fn, needs)
        return fn

    return register


def tables(item: str, needs: Iterable[str] = ()) -> Callable[[F], F]:
    """Register the decorated `(table, fits) -> list[Table]` as the tables of `item`."""

    def register(fn: F) -> F:
        _register(item, "tables", fn, needs)
        return fn

    return register


def items() -> dict[str, Item]:
    """Every catalog.REPORT_ITEMS item in the catalog's order, with the functions that make it."""
    for module in FAMILIES:
        importlib.import_module(module)
    missing = [item for item in REPORT_ITEMS if item not in _ITEMS]
    if missing:
        raise CodescaleError(
            f"report items {missing} (catalog.REPORT_ITEMS) have no figure or tables function "
            f"in {', '.join(FAMILIES)}"
        )
    return {item: _ITEMS[item] for item in REPORT_ITEMS}
