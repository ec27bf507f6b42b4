"""The syntax tree of a ruleset: frozen dataclasses, each with the source span it came from.

Produced by :mod:`normrules.parse`, read by :mod:`normrules.resolve` and :mod:`normrules.check`.
Expressions keep their written form (unit text, number text) so diagnostics and rendering can
quote the author exactly; meaning (canonical values, types) is attached by the checker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .errors import Span


@dataclass(frozen=True, slots=True)
class Label:
    zh: str
    en: str | None
    span: Span


# ------------------------------------------------------------------ expressions


@dataclass(frozen=True, slots=True)
class Number:
    text: str            # as written, e.g. "1_000_000"
    value: float
    unit: str | None     # as written, e.g. "t CO2/tce"; None for a plain number
    span: Span



@dataclass(frozen=True, slots=True)
class String:
    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class DateLit:
    text: str            # "2025-07-08" or "2025-07"
    span: Span

    @property
    def precision(self) -> str:
        return "day" if len(self.text) == 10 else "month"


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Ref:
    """A name: an input, a value, a rule id (``core.intensity``) or a result."""

    parts: tuple[str, ...]
    span: Span

    @property
    def name(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Glob:
    """``core.*`` — every rule whose id starts with ``core.`` (only inside all/any)."""

    prefix: str
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    op: str              # "-"
    operand: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    op: str              # + - * /
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class Compare:
    op: str              # < <= > >= == !=
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class Logic:
    op: str              # "and" | "or"
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class Not:
    operand: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class IsState:
    """``core.intensity is fail`` — a known boolean about a verdict or about missing data."""

    operand: "Expr"
    state: str
    state_span: Span
    span: Span


@dataclass(frozen=True, slots=True)
class InSet:
    operand: "Expr"
    options: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class If:
    cond: "Expr"
    then: "Expr"
    else_: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class Case:
    whens: tuple[tuple["Expr", "Expr"], ...]
    else_: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class Where:
    """``sum(emissions where process == "cell")`` — an aggregate's argument with a filter."""

    value: "Expr"
    cond: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    func_span: Span
    args: tuple[Union["Expr", Glob, Where], ...]
    span: Span
    default: "Expr | None" = None    # `count(line) default 0`


@dataclass(frozen=True, slots=True)
class Lookup:
    """``factor[process, country].value`` or ``grid[latest <= year].factor``."""

    table: str
    table_span: Span
    keys: tuple["Expr", ...]
    latest: str | None              # the comparison of a `latest` lookup, e.g. "<="
    column: str
    column_span: Span
    span: Span


Expr = Union[Number, String, DateLit, Bool, Ref, Unary, Binary, Compare, Logic, Not, IsState, InSet, If, Case, Call,
             Lookup, Where]

# ------------------------------------------------------------------ declarations


@dataclass(frozen=True, slots=True)
class TypeSpec:
    kind: str                        # "unit" | "number" | "boolean" | "text" | "date"
    unit: str | None = None          # for kind "unit"
    categories: tuple[str, ...] = ()
    precision: str = "day"           # for kind "date": "day" | "month"
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class Bound:
    value: float
    inclusive: bool
    text: str


@dataclass(frozen=True, slots=True)
class Range:
    low: Bound
    high: Bound
    span: Span


@dataclass(frozen=True, slots=True)
class Meta:
    key: str
    value: object                    # str, Label, tuple[str, str] for supersedes
    span: Span


@dataclass(frozen=True, slots=True)
class Header:
    id: str
    id_span: Span
    fields: tuple[Meta, ...]
    span: Span

    def get(self, key: str):
        for f in self.fields:
            if f.key == key:
                return f
        return None


@dataclass(frozen=True, slots=True)
class EntityDecl:
    name: str
    label: Label | None
    key: str
    span: Span
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class ParamDecl:
    name: str
    type: TypeSpec
    label: Label | None
    expr: "Expr"
    span: Span
    name_span: Span
    entity: str | None = None


@dataclass(frozen=True, slots=True)
class TableField:
    name: str
    type: TypeSpec
    span: Span


@dataclass(frozen=True, slots=True)
class TableDecl:
    name: str
    label: Label | None
    keys: tuple[TableField, ...]
    columns: tuple[TableField, ...]
    rows: tuple[tuple["Expr", ...], ...]
    file: str | None
    file_span: Span | None
    provenance: tuple[tuple[str, str], ...]    # (field, value): document, clause, publisher, published
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class ImportDecl:
    ruleset: str
    version: str | None
    alias: str
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class OverrideDecl:
    target: "Ref"
    value: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class InputDecl:
    entity: str | None               # None: the ruleset's only entity
    name: str
    type: TypeSpec
    range: Range | None
    label: Label | None
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class LetDecl:
    entity: str | None
    name: str
    type: TypeSpec | None
    label: Label | None
    expr: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Judge:
    method: str                      # "full" | "rounded"
    precision: Number | None         # `judge rounded to 0.01 t CO2/tce`
    span: Span


@dataclass(frozen=True, slots=True)
class RuleDecl:
    id: str
    label: Label | None
    clause: str | None
    severity: str
    severity_span: Span | None
    applies: Expr | None
    require: Expr | None
    judge: Judge | None
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Branch:
    label: str
    cond: Expr | None                # None: otherwise
    span: Span


@dataclass(frozen=True, slots=True)
class ResultDecl:
    entity: str | None
    name: str
    label: Label | None
    branches: tuple[Branch, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Assignment:
    target: Ref
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ChildRows:
    """``child line { process = "cell", quantity = 60 }`` inside an example: one child row."""

    entity: str
    entity_span: Span
    given: tuple[Assignment, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class ExampleDecl:
    name: str
    given: tuple[Assignment, ...]
    expect: tuple[Assignment, ...]
    span: Span
    children: tuple[ChildRows, ...] = ()


Decl = Union[EntityDecl, InputDecl, LetDecl, ParamDecl, TableDecl, ImportDecl, OverrideDecl, RuleDecl, ResultDecl,
             ExampleDecl]


@dataclass(frozen=True, slots=True)
class Module:
    """One parsed ruleset file."""

    file: str
    source: str
    header: Header
    items: tuple[Decl, ...]


def children(expr) -> tuple:
    """The direct sub-expressions of an expression node, in source order."""
    if isinstance(expr, (Unary, Not)):
        return (expr.operand,)
    if isinstance(expr, (Binary, Compare, Logic)):
        return (expr.left, expr.right)
    if isinstance(expr, IsState):
        return (expr.operand,)
    if isinstance(expr, InSet):
        return (expr.operand, *expr.options)
    if isinstance(expr, If):
        return (expr.cond, expr.then, expr.else_)
    if isinstance(expr, Case):
        return tuple(e for pair in expr.whens for e in pair) + (expr.else_,)
    if isinstance(expr, Call):
        return expr.args + ((expr.default,) if expr.default is not None else ())
    if isinstance(expr, Where):
        return (expr.value, expr.cond)
    if isinstance(expr, Lookup):
        return expr.keys
    return ()


def walk(expr):
    """Every node of an expression tree, depth first, parents before children."""
    yield expr
    for child in children(expr):
        yield from walk(child)
