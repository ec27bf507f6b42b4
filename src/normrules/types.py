"""Types of values and the checked (typed) expression tree.

The checker turns :mod:`normrules.ast` expressions into these nodes: every node knows its type,
number constants are already in canonical (pint base) units, text constants are category codes.
Both the vectorized executor and the scalar reference interpreter evaluate this tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .errors import Span
from .units import Unit

# ------------------------------------------------------------------ types


@dataclass(frozen=True, slots=True)
class NumT:
    unit: Unit                 # the display unit; values are carried in base units

    def __str__(self) -> str:
        return self.unit.text if self.unit.text != "1" else "number"


@dataclass(frozen=True, slots=True)
class BoolT:
    def __str__(self) -> str:
        return "boolean"


@dataclass(frozen=True, slots=True)
class TextT:
    categories: tuple[str, ...]

    def __str__(self) -> str:
        return "text {" + ", ".join(f'"{c}"' for c in self.categories) + "}"


@dataclass(frozen=True, slots=True)
class DateT:
    precision: str             # "day" (days since 1970-01-01) | "month" (months since year 0)

    def __str__(self) -> str:
        return "date" if self.precision == "day" else "date(month)"


@dataclass(frozen=True, slots=True)
class VerdictT:
    def __str__(self) -> str:
        return "verdict"


@dataclass(frozen=True, slots=True)
class LabelT:
    labels: tuple[str, ...]

    def __str__(self) -> str:
        return "result {" + ", ".join(f'"{c}"' for c in self.labels) + "}"


@dataclass(frozen=True, slots=True)
class ErrorT:
    """The type of an expression that already produced a diagnostic; suppresses follow-on errors."""

    def __str__(self) -> str:
        return "<error>"


Type = Union[NumT, BoolT, TextT, DateT, VerdictT, LabelT, ErrorT]

# Verdict codes at run time.
PASS, FAIL, NOT_APPLICABLE, UNKNOWN = 0, 1, 2, 3
VERDICT_NAMES = ("pass", "fail", "not_applicable", "unknown")

# ------------------------------------------------------------------ typed expressions


@dataclass(frozen=True, slots=True)
class Const:
    type: Type
    value: object              # float (base units), bool, int (category code / date ordinal)
    span: Span
    text: str = ""             # as written, for explanations


@dataclass(frozen=True, slots=True)
class Load:
    type: Type
    name: str
    kind: str                  # "input" | "value" | "rule" | "result"
    span: Span


@dataclass(frozen=True, slots=True)
class Neg:
    type: Type
    operand: "TExpr"
    span: Span


@dataclass(frozen=True, slots=True)
class Arith:
    type: Type
    op: str                    # + - * /
    left: "TExpr"
    right: "TExpr"
    span: Span


@dataclass(frozen=True, slots=True)
class Rounding:
    """GB/T 8170 rounded-value judgement: round to ``decimals`` in a unit of ``factor`` base units."""

    factor: float
    decimals: int
    unit_text: str


@dataclass(frozen=True, slots=True)
class Cmp:
    type: Type
    op: str                    # < <= > >= == !=
    left: "TExpr"
    right: "TExpr"
    span: Span
    rounding: Rounding | None = None


@dataclass(frozen=True, slots=True)
class BoolOp:
    type: Type
    op: str                    # "and" | "or"
    left: "TExpr"
    right: "TExpr"
    span: Span


@dataclass(frozen=True, slots=True)
class NotOp:
    type: Type
    operand: "TExpr"
    span: Span


@dataclass(frozen=True, slots=True)
class IsState:
    """Always a known boolean: ``rule is fail``, ``value is unknown``, ``value is known``."""

    type: Type
    operand: "TExpr"
    state: str
    span: Span


@dataclass(frozen=True, slots=True)
class InSet:
    type: Type
    operand: "TExpr"
    codes: tuple[int, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class IfElse:
    type: Type
    cond: "TExpr"
    then: "TExpr"
    else_: "TExpr"
    span: Span


@dataclass(frozen=True, slots=True)
class CaseWhen:
    type: Type
    whens: tuple[tuple["TExpr", "TExpr"], ...]
    else_: "TExpr"
    span: Span


@dataclass(frozen=True, slots=True)
class Func:
    type: Type
    name: str                  # "min" | "max" | "abs"
    args: tuple["TExpr", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class VerdictSet:
    """``all(core.*, guide.x)`` / ``any(...)`` over rule verdicts: itself a verdict."""

    type: Type
    func: str                  # "all" | "any"
    rules: tuple[str, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Up:
    """A parent's value read in a child row (``rated_power`` inside a BOM-line formula)."""

    type: Type
    operand: "TExpr"           # evaluated in the parent entity
    child: str                 # the entity of the context
    span: Span


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``sum(line.emissions where process == "cell") default 0 kg CO2e`` over a parent's child rows."""

    type: Type
    func: str                  # sum | mean | min | max | count | any | all | share
    child: str                 # the child entity aggregated over
    value: "TExpr | None"      # None for count
    where: "TExpr | None"
    default: "Const | None"
    span: Span


@dataclass(frozen=True, slots=True)
class Lookup:
    """A lookup-table read: ``factor[process, country].value``; unknown when no row matches.

    ``keys`` are evaluated per entity; ``key_maps`` translate each text key's category codes
    into the table's codes for that key (-1: not in the table). A ``latest`` lookup has one
    numeric/date key and takes the row with the greatest key satisfying ``key latest-op value``.
    """

    type: Type
    table: str
    keys: tuple["TExpr", ...]
    key_maps: tuple[tuple[int, ...] | None, ...]
    latest: str | None
    column: str
    span: Span


TExpr = Union[Const, Load, Neg, Arith, Cmp, BoolOp, NotOp, IsState, InSet, IfElse, CaseWhen, Func, VerdictSet,
              Up, Aggregate, Lookup]

EXPRESSION_NODE_TYPES = (Const, Load, Neg, Arith, Cmp, BoolOp, NotOp, IsState, InSet, IfElse, CaseWhen, Func, VerdictSet,
                         Up, Aggregate, Lookup)


def texpr_children(e) -> tuple:
    if isinstance(e, (Neg, NotOp, IsState, InSet)):
        return (e.operand,)
    if isinstance(e, (Arith, Cmp, BoolOp)):
        return (e.left, e.right)
    if isinstance(e, IfElse):
        return (e.cond, e.then, e.else_)
    if isinstance(e, CaseWhen):
        return tuple(x for pair in e.whens for x in pair) + (e.else_,)
    if isinstance(e, Func):
        return e.args
    if isinstance(e, Up):
        return (e.operand,)
    if isinstance(e, Aggregate):
        return tuple(x for x in (e.value, e.where, e.default) if x is not None)
    if isinstance(e, Lookup):
        return e.keys
    return ()


def texpr_walk(e):
    yield e
    for c in texpr_children(e):
        yield from texpr_walk(c)


def dependencies(e) -> set[tuple[str, str]]:
    """(kind, name) of every input, value, rule and result an expression reads."""
    deps: set[tuple[str, str]] = set()
    for node in texpr_walk(e):
        if isinstance(node, Load):
            deps.add((node.kind, node.name))
        elif isinstance(node, VerdictSet):
            deps.update(("rule", r) for r in node.rules)
        elif isinstance(node, Lookup):
            deps.add(("table", node.table))
    return deps
