"""Phase 4: the dependency graph of a checked ruleset (networkx).

Nodes are ``(kind, name)`` pairs — ``("input", "energy")``, ``("value", "intensity")``,
``("rule", "core.intensity")``, ``("result", "meets_notice")``, ``("param", …)``, ``("table", …)``
and ``("import", "pcr.cfp_per_kw")`` for what an imported ruleset computes — and an edge ``a → b``
means ``b`` reads ``a``. A cycle is an error naming every member with its position.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from . import types as T
from .check import CheckedRuleset
from .errors import CheckFailed, Diagnostic, Note

Node = tuple[str, str]


@dataclass(frozen=True)
class RuleGraph:
    """A frozen networkx DiGraph plus the ruleset it was built from."""

    ruleset: CheckedRuleset
    graph: nx.DiGraph

    def ancestors(self, node: Node) -> set[Node]:
        return nx.ancestors(self.graph, node)

    def inputs_behind(self, node: Node) -> list[str]:
        """The inputs a node depends on, in declaration order."""
        found = {n for k, n in self.ancestors(node) if k == "input"}
        return [i.name for i in self.ruleset.inputs if i.name in found]

    def affected_by(self, node: Node) -> set[Node]:
        return nx.descendants(self.graph, node)


def _item_expressions(ruleset: CheckedRuleset):
    for v in ruleset.values:
        yield ("value", v.name), v, [v.expr]
    for r in ruleset.rules:
        yield ("rule", r.id), r, [e for e in (r.applies, r.require) if e is not None]
    for res in ruleset.results:
        yield ("result", res.name), res, [c for _, c in res.branches if c is not None]


def build_graph(ruleset: CheckedRuleset) -> RuleGraph:
    """Build the dependency graph; raise :class:`CheckFailed` if it has a cycle."""
    g = nx.DiGraph()
    spans = {}
    for t in ruleset.tables:
        g.add_node(("table", t.name))
        spans[("table", t.name)] = t.decl.name_span
    for p in ruleset.params:
        g.add_node(("param", p.name))
        spans[("param", p.name)] = p.decl.name_span
    for i in ruleset.inputs:
        g.add_node(("input", i.name))
        spans[("input", i.name)] = i.decl.name_span
    aliases = {alias for alias, _ in ruleset.imports}
    local = {n for _, n in g.nodes} | {v.name for v in ruleset.values} | {r.id for r in ruleset.rules} \
        | {r.name for r in ruleset.results}
    for node, item, exprs in _item_expressions(ruleset):
        g.add_node(node)
        spans[node] = item.decl.name_span
        for e in exprs:
            for kind, name in sorted(T.dependencies(e)):
                if name not in local and name.split(".", 1)[0] in aliases:
                    kind = "import"
                g.add_edge((kind, name), node)
    diags = []
    for component in nx.strongly_connected_components(g):
        if len(component) == 1:
            (only,) = component
            if not g.has_edge(only, only):
                continue
        sub = g.subgraph(component)
        first = min(component, key=lambda n: (spans[n].line, spans[n].col))
        cycle = [u for u, _ in nx.find_cycle(sub, source=first)]
        path = " → ".join(n for _, n in cycle + cycle[:1])
        notes = tuple(Note(spans[n], f"`{n[1]}` ({n[0]}) is part of the cycle") for n in cycle)
        diags.append(Diagnostic("E401", f"circular definition: {path}", spans[first], notes=notes,
                                help="a value, rule or result cannot depend on itself; break the cycle"))
    if diags:
        raise CheckFailed(sorted(diags, key=lambda d: (d.span.line, d.span.col)))
    return RuleGraph(ruleset, nx.freeze(g))
