"""The value the check phase hands on: a :class:`CheckedRuleset` and the checked declarations in it.

Immutable (frozen dataclasses); typed expressions are :mod:`normrules.types` nodes with units
already resolved, constants in canonical (pint base) units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ast
from . import types as T
from .check_collections import CTable
from .errors import Diagnostic


@dataclass(frozen=True, slots=True)
class CInput:
    name: str
    type: T.Type
    low: float | None          # canonical units; None = unbounded
    low_inclusive: bool
    high: float | None
    high_inclusive: bool
    label: ast.Label | None
    decl: ast.InputDecl
    entity: str = ""


@dataclass(frozen=True, slots=True)
class CValue:
    name: str
    type: T.Type
    expr: T.TExpr
    label: ast.Label | None
    decl: ast.LetDecl
    entity: str = ""


@dataclass(frozen=True, slots=True)
class CParam:
    """A named constant; an importing ruleset may override it (``overridden`` keeps the original)."""

    name: str
    type: T.Type
    expr: T.Const
    label: ast.Label | None
    decl: ast.ParamDecl
    overridden: T.Const | None = None


@dataclass(frozen=True, slots=True)
class CRule:
    id: str
    label: ast.Label | None
    clause: str | None
    severity: str
    applies: T.TExpr | None
    require: T.TExpr
    judge: str                 # "full" | "rounded"
    decl: ast.RuleDecl
    entity: str = ""


@dataclass(frozen=True, slots=True)
class CResult:
    name: str
    labels: tuple[str, ...]
    branches: tuple[tuple[int, T.TExpr | None], ...]   # (label index, condition or None=otherwise)
    label: ast.Label | None
    decl: ast.ResultDecl
    entity: str = ""


@dataclass(frozen=True, slots=True)
class CExample:
    name: str
    given: tuple[tuple[str, object], ...]     # input name → canonical value (None = missing)
    expect: tuple[tuple[str, object], ...]    # output name → expected (str for verdict/label, value)
    decl: ast.ExampleDecl
    children: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = ()   # (child entity, its given)


@dataclass(frozen=True)
class CheckedRuleset:
    """A ruleset that passed every compile-time check. Immutable."""

    id: str
    meta: tuple[tuple[str, object], ...]
    entity: str
    key: str
    inputs: tuple[CInput, ...]
    values: tuple[CValue, ...]
    rules: tuple[CRule, ...]
    results: tuple[CResult, ...]
    examples: tuple[CExample, ...]
    module: ast.Module
    content_hash: str
    diagnostics: tuple[Diagnostic, ...] = field(default=())   # warnings
    params: tuple[CParam, ...] = ()
    tables: tuple[CTable, ...] = ()
    entities: tuple[ast.EntityDecl, ...] = ()                  # root first
    imports: tuple[tuple[str, object], ...] = ()               # (alias, compiled Ruleset)

    def meta_value(self, key: str, default=None):
        return dict(self.meta).get(key, default)

    @property
    def version(self) -> str:
        return str(self.meta_value("version", ""))

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def by_name(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for group in (self.inputs, self.params, self.values, self.rules, self.results):
            for item in group:
                out[getattr(item, "name", None) or item.id] = item
        return out

    def entity_of(self, name: str) -> str | None:
        """The entity a value, input, rule or result belongs to (None for a param)."""
        return getattr(self.by_name()[name], "entity", None) or None

    def parent_of(self, entity: str) -> str | None:
        return next((e.parent for e in self.entities if e.name == entity), None)

    def children_of(self, entity: str) -> tuple[str, ...]:
        return tuple(e.name for e in self.entities if e.parent == entity)

    def key_of(self, entity: str) -> str:
        return next((e.key for e in self.entities if e.name == entity), "id")


__all__ = ["CInput", "CValue", "CParam", "CRule", "CResult", "CExample", "CheckedRuleset"]
