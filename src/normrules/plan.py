"""Phase 5: the evaluation plan — what to compute, in which order.

A plan is the topological order of the graph restricted to what the requested outputs need
(all values, rules and results by default). Ties are broken by declaration order, so the same
ruleset always gives the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import networkx as nx

from .errors import NormrulesError, did_you_mean
from .graph import Node, RuleGraph


@dataclass(frozen=True)
class Plan:
    graph: RuleGraph
    steps: tuple[Node, ...]          # in evaluation order; inputs first
    outputs: tuple[Node, ...]        # what the caller asked for

    @property
    def ruleset(self):
        return self.graph.ruleset

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(n for k, n in self.steps if k == "input")


def node_for(graph: RuleGraph, name: str) -> Node:
    for node in graph.graph.nodes:
        if node[1] == name:
            return node
    hint = did_you_mean(name, [n for _, n in graph.graph.nodes])
    raise NormrulesError(f"no value, rule or result called `{name}`" + (f"; {hint}" if hint else ""))


def make_plan(graph: RuleGraph, outputs: Iterable[str] | None = None) -> Plan:
    """Order the nodes needed by ``outputs`` (names); ``None`` means every value, rule and result."""
    g = graph.graph
    order = {n: i for i, n in enumerate(g.nodes)}
    if outputs is None:
        wanted = tuple(n for n in g.nodes if n[0] in ("value", "rule", "result"))
    else:
        wanted = tuple(node_for(graph, name) for name in outputs)
    needed = set(wanted)
    for n in wanted:
        needed |= nx.ancestors(g, n)
    sub = g.subgraph(needed)
    steps = tuple(nx.lexicographical_topological_sort(sub, key=lambda n: (n[0] != "input", order[n])))
    return Plan(graph, steps, wanted)
