"""Differential testing: the vectorized executor against the scalar reference interpreter.

* ``test_executor_matches_reference`` — for random rulesets and tables (``strategies.cases``),
  :meth:`normrules.Ruleset.evaluate` (with the child table, ``children={"line": …}``, when the
  ruleset has a child entity) gives, for every root row, exactly what
  :class:`normrules.reference.Interpreter` gives for that row alone with its child rows: the same
  known/unknown state and value (relative 1e-12) of every input and let, the same verdict code of
  every rule, the same label of every result — of the root row and of each of its child rows —
  and in total the same numbers of divisions by zero and of lookup misses; or both raise a
  data error (a line in a unit that cannot be converted).
* ``test_generator_reaches`` — the generator is not vacuous: one derandomized scan of generated
  cases (stopping once everything is seen) shows it produces every class of
  :data:`normrules.types.EXPRESSION_NODE_TYPES`, every aggregate function, ``where`` and
  ``default``, aggregates over a parent without child rows, missing child values, rules and results
  on child rows, lookups by text and number keys, ``latest <=`` / ``latest <``, lookup misses,
  params, ``convert`` and its data error, missing values, zero divisors, values exactly on a limit
  (also a limit written in another unit, and one that is equal only within the comparison
  tolerance after unit conversion).
* ``test_canary_wrong_kleene_is_caught`` — with a deliberately wrong three-valued ``and`` in the
  executor (``false and unknown = unknown``), the differential property fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.errors import NoSuchExample

import normrules
from normrules import execute as execute_module
from normrules import types as T
from normrules.errors import DataError
from normrules.check_collections import AGGREGATES
from normrules.execute import NO_LABEL, REL_TOL, Col, Entities
from normrules.reference import Interpreter
from normrules.tables import InputReader

from strategies import Case, cases

SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
VALUE_RTOL = 1e-12


# ------------------------------------------------------------------ running both engines


def reference_inputs(ruleset, table, children=None):
    """Canonical inputs as the reference interpreter takes them (None = unknown), read by the same
    :class:`InputReader` the executor uses: one dict per root row and, per child entity, for each
    root row the list of its child rows' dicts (in child-table order) with their child-table indexes.
    """
    c = ruleset.checked
    reader = InputReader(c, "unknown")
    if len(c.entities) > 1 or children:
        cols, entities, _ = reader.read_all({c.entity: table, **(children or {})})
    else:
        cols, n, _ = reader.read(table)
        entities = Entities.single(c.entity, n)
    owner = {i.name: i.entity or c.entity for i in c.inputs}

    def rows_of(entity: str) -> list[dict[str, object]]:
        names = [name for name in cols if owner[name] == entity]
        return [{name: (cols[name].data[i].item() if cols[name].known[i] else None) for name in names}
                for i in range(entities.sizes[entity])]

    roots = rows_of(c.entity)
    kids: dict[str, list[list[tuple[int, dict]]]] = {}
    for entity, parent_rows in entities.parent_rows.items():
        per_root: list[list[tuple[int, dict]]] = [[] for _ in roots]
        for j, row in enumerate(rows_of(entity)):
            per_root[int(parent_rows[j])].append((j, row))
        kids[entity] = per_root
    return roots, kids, entities


@dataclass
class Reference:
    roots: list[dict[str, object]]                  # per root row: every root value, verdict code, label
    children: dict[str, list[dict[str, object]]]    # per child entity: per child row, its values
    division_by_zero: int
    lookup_misses: int
    interpreters: list


def run_reference(ruleset, table, children=None, interpreter=Interpreter) -> Reference:
    """The reference interpreter, once per root row, with that row's child rows."""
    roots, kids, entities = reference_inputs(ruleset, table, children)
    out = Reference([], {e: [None] * entities.sizes[e] for e in kids}, 0, 0, [])
    for i, row in enumerate(roots):
        it = interpreter(ruleset.checked, row, {e: [r for _, r in per_root[i]] for e, per_root in kids.items()})
        out.roots.append(it.run(ruleset.plan.steps))
        for e, per_root in kids.items():
            for (j, _), env in zip(per_root[i], it.children[e]):
                out.children[e][j] = env
        out.division_by_zero += it.division_by_zero
        out.lookup_misses += it.lookup_misses
        out.interpreters.append(it)
    return out


def _same_value(typ, got, want) -> bool:
    if isinstance(typ, T.NumT):
        got, want = float(got), float(want)
        return got == want or abs(got - want) <= VALUE_RTOL * max(abs(got), abs(want))
    if isinstance(typ, T.BoolT):
        return bool(got) == bool(want)
    return int(got) == int(want)


def differences(ruleset, evaluation, ref: Reference) -> list[str]:
    checked = ruleset.checked
    items = checked.by_name()
    out = []
    for kind, name in ruleset.plan.steps:
        if kind in ("param", "table", "import"):
            continue
        col: Col = evaluation.columns[name]
        entity = checked.entity_of(name) or checked.entity
        envs = ref.roots if entity == checked.entity else ref.children[entity]
        where = "row" if entity == checked.entity else f"{entity} row"
        if len(col.data) != len(envs):
            out.append(f"{kind} {name}: executor has {len(col.data)} rows, reference {len(envs)}")
            continue
        for i, env in enumerate(envs):
            want = env[name]
            if kind == "rule":
                got = int(col.data[i])
                if got != want:
                    out.append(f"{where} {i}: rule {name}: executor {T.VERDICT_NAMES[got]}, "
                               f"reference {T.VERDICT_NAMES[want]}")
            elif kind == "result":
                got = None if col.data[i] == NO_LABEL else int(col.data[i])
                if got != want:
                    out.append(f"{where} {i}: result {name}: executor label {got}, reference label {want}")
            else:
                known = bool(col.known[i])
                if known != (want is not None):
                    out.append(f"{where} {i}: {kind} {name}: executor {'known' if known else 'unknown'} "
                               f"({col.data[i]!r}), reference {want!r}")
                elif known and not _same_value(items[name].type, col.data[i], want):
                    out.append(f"{where} {i}: {kind} {name}: executor {col.data[i]!r}, reference {want!r}")
    got = evaluation.counters.total_division_by_zero
    if got != ref.division_by_zero:
        out.append(f"division by zero: executor counted {got}, reference {ref.division_by_zero}")
    got = evaluation.counters.total_lookup_misses
    if got != ref.lookup_misses:
        out.append(f"lookup misses: executor counted {got}, reference {ref.lookup_misses}")
    return out


@lru_cache(maxsize=1024)
def compile_source(source: str):
    """A compiled ruleset, once per text: Hypothesis draws many cases that differ only in their data,
    and compiling (parsing above all) is most of the time of a case. A Ruleset is immutable."""
    return normrules.loads(source)


def check_case(case) -> None:
    """The differential property for one generated ruleset and its tables: the same values,
    verdicts, labels and counts — or a data error from both (a line in a unit that cannot be
    converted)."""
    ruleset = compile_source(case.source)
    try:
        evaluation = ruleset.evaluate(case.table, children=case.children, invalid="unknown")
    except DataError as exc:
        with pytest.raises(DataError):
            run_reference(ruleset, case.table, case.children)
        assert "cannot be converted" in str(exc), exc
        return
    ref = run_reference(ruleset, case.table, case.children)
    diff = differences(ruleset, evaluation, ref)
    assert not diff, "executor and reference disagree:\n" + "\n".join(diff[:20])


@settings(suppress_health_check=SLOW_OK)
@given(cases())
def test_executor_matches_reference(case):
    check_case(case)


# Cases the property once found, kept as fixed regressions.
_HEAD = """ruleset t { title "t" document "d" version "1" status draft }
entity site key id
input site.ef : kg CO2/tce
input site.ratio : number
input site.flag : boolean
"""
REGRESSIONS = {
    # 0.2 t CO2/tce / 2.2e-313 is finite, but far too large to round to 0 decimals of t CO2/tce:
    # the reference crashed (round(inf)); the executor judged it (fail, like the unrounded value).
    "rounding a huge value": Case(_HEAD + """
rule a.r0
  require (ef / ratio) <= 0 t CO2/tce
  judge rounded
""", {"ef": np.array([200.0, 200.0]), "ratio": np.array([2.22507386e-313, 1.0]), "flag": [True, None]}, []),
    # an absent boolean column was read as float zeros, and `not flag` crashed the executor
    "absent boolean column": Case(_HEAD + """
rule a.r0
  require not flag
result site.res {
  "yes" when flag or a.r0
  "no" otherwise
}
""", {"ef": np.array([1.0]), "ratio": np.array([1.0])}, []),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression(name):
    check_case(REGRESSIONS[name])


# ------------------------------------------------------------------ the generator reaches …


class LimitRecorder(Interpreter):
    """The reference interpreter, noting numeric comparisons whose value sits on a literal limit,
    and aggregates over a site without lines."""

    def __init__(self, ruleset, inputs, children=None):
        super().__init__(ruleset, inputs, children)
        self.events: set[str] = set()

    def e_Cmp(self, e):
        if isinstance(e.left.type, T.NumT) and isinstance(e.right, T.Const) and e.right.value != 0:
            saved = self.division_by_zero, self.lookup_misses
            a, b = self.ev(e.left), e.right.value
            self.division_by_zero, self.lookup_misses = saved
            if a is not None and abs(a - b) <= REL_TOL * abs(b):
                self.events.add("on_limit")
                if a != b:
                    self.events.add("on_limit_within_tolerance")
                written = e.right.text.split(" ", 1)[1] if " " in e.right.text else "1"
                if written != e.left.type.unit.text:
                    self.events.add("on_limit_in_another_unit")
        return super().e_Cmp(e)

    def e_Aggregate(self, e):
        if not self.children.get(e.child):
            self.events.add("aggregate_over_no_rows")
        return super().e_Aggregate(e)


def _missing(values) -> bool:
    return any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values)


def features(case) -> set[str]:
    ruleset = compile_source(case.source)
    found: set[str] = set()
    rs = ruleset.checked
    exprs = [v.expr for v in rs.values] + [e for r in rs.rules for e in (r.applies, r.require) if e is not None]
    exprs += [c for res in rs.results for _, c in res.branches if c is not None]
    for e in exprs:
        for node in T.texpr_walk(e):
            found.add(type(node).__name__)
            if isinstance(node, T.Aggregate):
                found.add(f"aggregate_{node.func}")
                found |= {"aggregate_where"} if node.where is not None else set()
                found |= {"aggregate_default"} if node.default is not None else set()
            elif isinstance(node, T.Lookup):
                if node.latest is not None:
                    found.add(f"lookup_latest {node.latest}")
                else:
                    found.update("lookup_number_key" if isinstance(k.type, T.NumT) else "lookup_text_key"
                                 for k in node.keys)
            elif isinstance(node, T.Load) and node.kind == "param":
                found.add("param")
            elif isinstance(node, T.Func) and node.name == "convert":
                found.add("convert")
    found.update(f"{r.entity}_rule" for r in rs.rules if r.entity != rs.entity)
    found.update(f"{r.entity}_result" for r in rs.results if r.entity and r.entity != rs.entity)
    if any(_missing(values) for values in case.table.values()):
        found.add("missing")
    for t in (case.children or {}).values():
        if any(_missing(values) for name, values in t.items() if name != "id"):
            found.add("missing_child_value")
    try:
        ref = run_reference(ruleset, case.table, case.children, LimitRecorder)
    except DataError:
        found.add("data_error")
        return found
    if ref.division_by_zero:
        found.add("zero_divisor")
    if ref.lookup_misses:
        found.add("lookup_miss")
    for it in ref.interpreters:
        found |= it.events
    return found


TARGETS = [cls.__name__ for cls in T.EXPRESSION_NODE_TYPES] + [
    "missing", "zero_divisor", "on_limit", "on_limit_in_another_unit", "on_limit_within_tolerance",
    *(f"aggregate_{f}" for f in AGGREGATES), "aggregate_where", "aggregate_default", "aggregate_over_no_rows",
    "missing_child_value", "line_rule", "line_result",
    "lookup_text_key", "lookup_number_key", "lookup_latest <=", "lookup_latest <", "lookup_miss",
    "param", "convert", "data_error"]

# Expression classes the generator does not produce yet, each with the reason. Deliberately explicit:
# a class added to EXPRESSION_NODE_TYPES fails test_generator_reaches until the generator produces
# it or it is listed here.
NOT_GENERATED: dict[str, str] = {}

SCAN_EXAMPLES = 400


@lru_cache(maxsize=None)
def reached() -> frozenset[str]:
    """Every feature of the derandomized sequence of generated cases, up to the first case by which
    all of TARGETS are seen (at most SCAN_EXAMPLES cases). One scan serves every target: a
    ``find()`` per target would generate and evaluate the same cases again and again."""
    found: set[str] = set()
    wanted = set(TARGETS) - set(NOT_GENERATED)

    def seen_all(case) -> bool:
        found.update(features(case))
        return wanted <= found

    try:
        find(cases(), seen_all, settings=settings(derandomize=True, database=None, max_examples=SCAN_EXAMPLES,
                                                  phases=[Phase.generate], deadline=None))
    except NoSuchExample:
        pass
    return frozenset(found)


@pytest.mark.parametrize("target", [
    pytest.param(t, marks=pytest.mark.xfail(run=False, reason=NOT_GENERATED[t])) if t in NOT_GENERATED else t
    for t in TARGETS])
def test_generator_reaches(target):
    assert target in reached(), f"no case among the first {SCAN_EXAMPLES} generated has {target!r}"


# ------------------------------------------------------------------ canary

_right_kleene = execute_module.kleene


def wrong_kleene(op: str, a: Col, b: Col) -> Col:
    """A broken three-valued ``and``: false only when both sides are known (so ``false and unknown``
    is unknown instead of false)."""
    if op != "and":
        return _right_kleene(op, a, b)
    both = a.known & b.known
    true = both & a.data & b.data
    false = both & ~(a.data & b.data)
    return Col(true, true | false)


# Derandomized whatever the profile, without shrinking: the same examples every run, and fast.
CANARY_SETTINGS = settings(derandomize=True, database=None, max_examples=300, phases=[Phase.generate],
                           deadline=None, report_multiple_bugs=False, suppress_health_check=SLOW_OK)


def test_canary_wrong_kleene_is_caught(monkeypatch):
    monkeypatch.setattr(execute_module, "kleene", wrong_kleene)
    seen = []

    def check(case):
        seen.append(case)
        check_case(case)

    prop = CANARY_SETTINGS(given(cases())(check))
    with pytest.raises(AssertionError, match="executor and reference disagree"):
        prop()
    assert seen


def test_canary_kleene_is_restored():
    assert execute_module.kleene is _right_kleene
    a = Col(np.array([False]), np.array([True]))
    u = Col(np.array([False]), np.array([False]))
    out = execute_module.kleene("and", a, u)
    assert out.known[0] and not out.data[0]
