"""One revision as the diff sees it, and the keys its declarations are compared by.

:class:`Side` holds a compiled ruleset's declarations by kind, its source text and dependency
graph; the functions below reduce declarations to comparable keys (units and ranges at 12
significant digits, table schemas and cells).
"""

from __future__ import annotations

from .. import types as T
from .formatting import _squash
from .intervals import INF
from .match import r12, type_key

Node = tuple[str, str]


def _item_name(item) -> str:
    return getattr(item, "name", None) or getattr(item, "id", None) or str(item)


def _label_key(label) -> tuple:
    return (label.zh, label.en) if label is not None else (None, None)


class Side:
    """One revision: its declarations by kind, its source text and dependency graph."""

    def __init__(self, rs):
        self.rs = rs
        c = self.c = rs.checked
        self.source = c.module.source
        self.items: dict[str, dict[str, object]] = {
            "input": {i.name: i for i in c.inputs},
            "param": {p.name: p for p in (getattr(c, "params", ()) or ())},
            "table": {_item_name(t): t for t in (getattr(c, "tables", ()) or ())},
            "value": {v.name: v for v in c.values},
            "rule": {r.id: r for r in c.rules},
            "result": {r.name: r for r in c.results},
        }
        self.order: dict[Node, int] = {}
        for kind, group in self.items.items():
            for i, name in enumerate(group):
                self.order[(kind, name)] = i
        self.graph = rs.graph.graph
        self._down: dict[Node, frozenset] = {}

    def text(self, e) -> str:
        """An expression as written (whitespace squashed)."""
        if e is None:
            return ""
        span = getattr(e, "span", None)
        if span is not None and span.end > span.start and span.end <= len(self.source):
            return _squash(self.source[span.start:span.end])
        return getattr(e, "text", "") or "?"

    def decl_text(self, item) -> str:
        decl = getattr(item, "decl", None)
        span = getattr(decl, "span", None)
        if span is not None and span.end > span.start:
            return self.source[span.start:span.end].strip()
        return str(item)

    def downstream(self, kind: str, name: str) -> frozenset:
        """Rules and results that read ``(kind, name)`` directly or not, and itself if an output
        (the rule/result part of :meth:`RuleGraph.affected_by`, for every node in one pass)."""
        if not self._down:
            import networkx as nx

            for node in reversed(list(nx.topological_sort(self.graph))):
                out = set()
                for succ in self.graph.successors(node):
                    out |= self._down[succ]
                if node[0] in ("rule", "result"):
                    out.add(node)
                self._down[node] = frozenset(out)
        node = (kind, name)
        hit = self._down.get(node)
        if hit is None:
            hit = frozenset({node}) if kind in ("rule", "result") else frozenset()
        return hit


def _factor(t) -> float | None:
    return r12(t.unit.factor) if isinstance(t, T.NumT) else None


def _range_key(item) -> tuple:
    return (None if item.low is None else r12(item.low), item.low_inclusive,
            None if item.high is None else r12(item.high), item.high_inclusive)


def _range_set(item) -> tuple:
    lo = -INF if item.low is None else float(item.low)
    hi = INF if item.high is None else float(item.high)
    return (lo, hi, item.low_inclusive and item.low is not None, item.high_inclusive and item.high is not None)


def _is_ctable(item) -> bool:
    return all(hasattr(item, a) for a in ("keys", "columns", "rows", "provenance", "fields"))


def _schema(fields) -> tuple:
    """Names and kinds of a table's fields (text categories follow from the rows: compared there)."""
    return tuple((name, None if t is None else ("text",) if isinstance(t, T.TextT) else type_key(t))
                 for name, t in fields)


def _cell(v):
    if isinstance(v, float):
        return r12(v)
    return v
