"""The edit script of a ruleset diff: frozen values, in the spirit of sqlglot's ``diff.py``.

One edit per declaration (input, param, lookup table, derived value, rule, result), one per
import (by its alias) and one for the header (metadata, entities):

* :class:`Insert` — declared only in the new revision;
* :class:`Remove` — declared only in the old revision;
* :class:`Move` — the same declaration under a new name (a rename), possibly with changes;
* :class:`Update` — the same name, with semantic changes;
* :class:`Keep` — the same name and the same meaning (formatting, comments, the units a limit
  is written in and declaration order do not count).

The changes of an :class:`Update` or :class:`Move` are :class:`Change` values, each naming one
aspect (``threshold``, ``strictness``, ``direction``, ``judgement``, ``precision``,
``applicability``, ``severity``, ``unit``, ``formula``, ``clause``, ``title``, ``range``,
``categories``, ``type``, ``labels``, ``branches``, ``metadata``, ``entity``, ``rows``,
``values``, ``schema``, ``provenance``, ``content``; of an import: ``ruleset``, ``version``,
``revision``, ``override``) and,
for a moved bound on a single quantity, the :class:`Flip` intervals whose outcome changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Ruleset
    from .impact import Impact

#: The order in which kinds of declarations are reported.
KINDS = ("header", "import", "input", "param", "table", "value", "rule", "result")

#: What a change can do: change computed values/verdicts, change only how values are shown
#: (a derived value's display unit), or change only the document's text.
EFFECTS = ("behaviour", "display", "documentation")


def _num(x: float) -> str:
    from ..explain import format_number

    return format_number(x)


@dataclass(frozen=True)
class Interval:
    """A range of a quantity, in its display unit; ``None`` is an infinite end."""

    low: float | None
    high: float | None
    low_closed: bool
    high_closed: bool

    @property
    def is_point(self) -> bool:
        return self.low is not None and self.low == self.high

    def text(self, unit: str = "", fmt=_num) -> str:
        """``(0.2, 0.3] t CO2/tce``, ``= 0.2 t CO2/tce``, ``≥ 5 t``, ``(-∞, ∞)``."""
        u = f" {unit}" if unit and unit != "1" else ""
        if self.is_point:
            return f"= {fmt(self.low)}{u}"
        if self.low is None and self.high is None:
            return "any value"
        if self.low is None:
            return f"{'≤' if self.high_closed else '<'} {fmt(self.high)}{u}"
        if self.high is None:
            return f"{'≥' if self.low_closed else '>'} {fmt(self.low)}{u}"
        return f"{'[' if self.low_closed else '('}{fmt(self.low)}, {fmt(self.high)}{']' if self.high_closed else ')'}{u}"

    def to_dict(self) -> dict:
        return {"low": _finite(self.low), "high": _finite(self.high),
                "low_closed": self.low_closed, "high_closed": self.high_closed}


def _finite(x):
    return None if x is None or not math.isfinite(x) else x


@dataclass(frozen=True)
class Flip:
    """Values of one quantity for which an output's outcome changes.

    ``output`` is the rule, value or result whose outcome flips; ``before``/``after`` are the
    outcomes (``pass``/``fail``, ``applies``/``not_applicable``, a value, a result label);
    ``condition`` is the scope in which the statement holds (``for parks with energy ≥ …``),
    or ``None`` when it holds for every entity.
    """

    output: str
    quantity: str
    unit: str
    interval: Interval
    before: str
    after: str
    condition: str | None = None
    interval_text: str = ""

    @property
    def text(self) -> str:
        where = self.interval_text
        sep = " in " if not where.startswith(("=", "≤", "<", "≥", ">", "any")) else " "
        out = f"`{self.quantity}`{sep}{where}: {self.before} → {self.after}"
        return out + (f", {self.condition}" if self.condition else "")

    def to_dict(self) -> dict:
        return {"output": self.output, "quantity": self.quantity, "unit": self.unit,
                **self.interval.to_dict(), "interval": self.interval_text,
                "before": self.before, "after": self.after, "condition": self.condition, "text": self.text}


@dataclass(frozen=True)
class Change:
    """One semantic difference of a matched declaration."""

    aspect: str                          # the main aspect (see the module docstring)
    where: str                           # require | applies | formula | judge | branch "met" | meta key …
    before: str                          # as written in the old revision ("" when absent)
    after: str                           # as written in the new revision
    effect: str = "behaviour"            # one of EFFECTS
    aspects: tuple[str, ...] = ()        # every aspect (e.g. threshold and strictness)
    note: str = ""
    flips: tuple[Flip, ...] = ()
    affects: tuple[str, ...] = ()        # rules and results whose outcome can change

    def __post_init__(self):
        if not self.aspects:
            object.__setattr__(self, "aspects", (self.aspect,))

    def to_dict(self) -> dict:
        return {"aspect": self.aspect, "aspects": list(self.aspects), "where": self.where,
                "before": self.before, "after": self.after, "effect": self.effect, "note": self.note,
                "flips": [f.to_dict() for f in self.flips], "affects": list(self.affects)}


# ------------------------------------------------------------------ edits


@dataclass(frozen=True)
class Insert:
    """A declaration only the new revision has."""

    kind: str
    name: str
    item: object = field(compare=False, repr=False)
    text: str = ""                       # the declaration as written
    affects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Remove:
    """A declaration only the old revision has."""

    kind: str
    name: str
    item: object = field(compare=False, repr=False)
    text: str = ""
    affects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Update:
    """The same declaration (same name) whose meaning changed."""

    kind: str
    name: str
    source: object = field(compare=False, repr=False)
    target: object = field(compare=False, repr=False)
    changes: tuple[Change, ...] = ()
    affects: tuple[str, ...] = ()

    @property
    def old_name(self) -> str:
        return self.name


@dataclass(frozen=True)
class Move:
    """A renamed declaration (matched by content), possibly also changed."""

    kind: str
    old_name: str
    name: str
    source: object = field(compare=False, repr=False)
    target: object = field(compare=False, repr=False)
    similarity: float = 1.0
    changes: tuple[Change, ...] = ()
    affects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Keep:
    """The same declaration, unchanged in meaning."""

    kind: str
    name: str
    source: object = field(compare=False, repr=False)
    target: object = field(compare=False, repr=False)


Edit = Union[Insert, Remove, Update, Move, Keep]

EDIT_NAMES = {Insert: "insert", Remove: "remove", Update: "update", Move: "move", Keep: "keep"}


def edit_name(edit: Edit) -> str:
    return EDIT_NAMES[type(edit)]


# ------------------------------------------------------------------ the diff


@dataclass(frozen=True)
class RulesetDiff:
    """Everything :func:`normrules.diff.diff` found. ``edits`` includes :class:`Keep` edits;
    ``changes`` leaves them out."""

    old: "Ruleset" = field(repr=False)
    new: "Ruleset" = field(repr=False)
    edits: tuple[Edit, ...]
    impact: "Impact | None" = None

    @property
    def changes(self) -> tuple[Edit, ...]:
        return tuple(e for e in self.edits if not isinstance(e, Keep))

    @property
    def is_empty(self) -> bool:
        """No semantic change (the impact, if computed, then shows no changed entity either)."""
        return not self.changes

    def __bool__(self) -> bool:  # `if diff(...)`: true when something changed
        return not self.is_empty

    def of(self, kind: str) -> tuple[Edit, ...]:
        return tuple(e for e in self.changes if e.kind == kind)

    def edit_for(self, name: str, kind: str | None = None) -> Edit | None:
        """The edit of the declaration called ``name`` (new name, or old name of a removal/rename)."""
        for e in self.edits:
            if kind is not None and e.kind != kind:
                continue
            if e.name == name or getattr(e, "old_name", None) == name:
                return e
        return None

    def summary(self) -> dict[str, int]:
        out = {"insert": 0, "remove": 0, "move": 0, "update": 0, "keep": 0}
        for e in self.edits:
            out[edit_name(e)] += 1
        return out

    # rendering lives in report.py
    def to_dict(self) -> dict:
        from .report import to_dict

        return to_dict(self)

    def to_json(self, indent: int | None = 1) -> str:
        from .report import to_json

        return to_json(self, indent)

    def to_text(self, limit: int = 20) -> str:
        from .report import to_text

        return to_text(self, limit)

    def to_markdown(self, limit: int = 20) -> str:
        from .report import to_markdown

        return to_markdown(self, limit)

    def to_html(self, limit: int = 500) -> str:
        from .report import to_html

        return to_html(self, limit)

    def to_csv(self) -> str:
        from .report import to_csv

        return to_csv(self)


__all__ = ["Interval", "Flip", "Change", "Insert", "Remove", "Update", "Move", "Keep", "Edit",
           "RulesetDiff", "KINDS", "EFFECTS", "edit_name"]
