"""Phase 6: the vectorized executor.

Every value is a column: a numpy array of data (floats in base units, booleans, category codes,
date ordinals) and a boolean ``known`` mask. Verdicts are int8 codes (:data:`types.PASS` …).
Each plan step is evaluated once for all entities; the Python work per step depends on the size of
the expression, never on the number of entities.

Semantics (shared with :mod:`normrules.reference`, see ``compiler/execute.md``):

* unknown operands give unknown results; ``and``/``or``/``not`` follow Kleene's logic;
* division by zero, or a result that is not finite, is unknown and counted;
* numbers are equal when within ``REL_TOL`` of the right-hand side (the limit), so a value
  converted between units never flips a verdict through floating error;
* a rule is not_applicable when its condition is false, unknown when the condition or the
  requirement is unknown, else pass/fail;
* ``all``: fail if any fails, else unknown if any is unknown, else not_applicable if none applies,
  else pass; ``any`` mirrors it;
* a result takes the first branch whose condition is true; an unknown condition before it makes
  the result unknown; no branch true and no ``otherwise`` is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from . import types as T
from .errors import Span
from .plan import Plan

REL_TOL = 1e-9
NO_LABEL = -1


class Col(NamedTuple):
    data: np.ndarray
    known: np.ndarray


def verdict_as_bool(codes: np.ndarray) -> Col:
    return Col(codes == T.PASS, codes != T.UNKNOWN)


def tolerance(right: np.ndarray | float):
    return REL_TOL * np.abs(right)


def compare(op: str, a, b):
    """Compare two float arrays (or an array and a scalar) with the limit tolerance."""
    t = tolerance(b)
    if op == "<=":
        return a <= b + t
    if op == "<":
        return a < b - t
    if op == ">=":
        return a >= b - t
    if op == ">":
        return a > b + t
    eq = (a >= b - t) & (a <= b + t)
    return eq if op == "==" else ~eq


def round_half_even(y):
    """GB/T 8170 rounding to an integer (四舍六入五成双), after clearing float noise below 1e-6."""
    return np.rint(np.rint(y * 1e6) / 1e6)


def apply_rounding(values, rounding: T.Rounding):
    scale = 10.0 ** rounding.decimals
    return round_half_even(values / rounding.factor * scale) / scale * rounding.factor


@dataclass
class Counters:
    """Events counted during one evaluation (shown in the summary)."""

    division_by_zero: dict[Span, int] = field(default_factory=dict)

    @property
    def total_division_by_zero(self) -> int:
        return sum(self.division_by_zero.values())


class _Eval:
    def __init__(self, env: dict[str, Col], n: int, counters: Counters):
        self.env = env
        self.n = n
        self.counters = counters
        self.all_true = np.ones(n, dtype=bool)

    def const(self, e: T.Const) -> Col:
        if isinstance(e.type, T.BoolT):
            data = np.full(self.n, bool(e.value))
        elif isinstance(e.type, (T.TextT, T.LabelT)):
            data = np.full(self.n, int(e.value), dtype=np.int32)
        else:
            data = np.full(self.n, float(e.value))
        return Col(data, self.all_true)

    def ev(self, e, active: np.ndarray) -> Col:
        return getattr(self, "e_" + type(e).__name__)(e, active)

    def e_Const(self, e, active):
        return self.const(e)

    def e_Load(self, e: T.Load, active):
        col = self.env[e.name]
        if e.kind == "rule":
            return verdict_as_bool(col.data)
        return col

    def e_Neg(self, e, active):
        x = self.ev(e.operand, active)
        return Col(-x.data, x.known)

    def e_Arith(self, e: T.Arith, active):
        a, b = self.ev(e.left, active), self.ev(e.right, active)
        known = a.known & b.known
        if e.op == "+":
            data = a.data + b.data
        elif e.op == "-":
            data = a.data - b.data
        elif e.op == "*":
            data = a.data * b.data
        else:
            zero = b.data == 0
            self.counters.division_by_zero[e.span] = self.counters.division_by_zero.get(e.span, 0) + int(
                np.count_nonzero(zero & known & active))
            data = a.data / np.where(zero, 1.0, b.data)
            known = known & ~zero
        return Col(data, known & np.isfinite(data))

    def e_Cmp(self, e: T.Cmp, active):
        a, b = self.ev(e.left, active), self.ev(e.right, active)
        known = a.known & b.known
        if isinstance(e.left.type, T.NumT):
            left = apply_rounding(a.data, e.rounding) if e.rounding is not None else a.data
            right = e.right.value if isinstance(e.right, T.Const) else b.data
            return Col(compare(e.op, left, right), known)
        eq = a.data == b.data
        if e.op in ("==", "!="):
            return Col(eq if e.op == "==" else ~eq, known)
        data = {"<": a.data < b.data, "<=": a.data <= b.data, ">": a.data > b.data, ">=": a.data >= b.data}[e.op]
        return Col(data, known)

    def e_BoolOp(self, e: T.BoolOp, active):
        return kleene(e.op, self.ev(e.left, active), self.ev(e.right, active))

    def e_NotOp(self, e, active):
        x = self.ev(e.operand, active)
        return Col(~x.data, x.known)

    def e_IsState(self, e: T.IsState, active):
        if isinstance(e.operand.type, T.VerdictT):
            codes = self.verdict_codes(e.operand, active)
            return Col(codes == T.VERDICT_NAMES.index(e.state), self.all_true)
        x = self.ev(e.operand, active)
        return Col(~x.known if e.state == "unknown" else x.known.copy(), self.all_true)

    def verdict_codes(self, e, active) -> np.ndarray:
        if isinstance(e, T.Load):
            return self.env[e.name].data
        return self.verdict_set_codes(e)

    def e_InSet(self, e: T.InSet, active):
        x = self.ev(e.operand, active)
        return Col(np.isin(x.data, np.asarray(e.codes, dtype=x.data.dtype)), x.known)

    def e_IfElse(self, e: T.IfElse, active):
        c = self.ev(e.cond, active)
        chosen_then = c.known & c.data
        a = self.ev(e.then, active & chosen_then)
        b = self.ev(e.else_, active & c.known & ~c.data)
        return Col(np.where(c.data, a.data, b.data), c.known & np.where(c.data, a.known, b.known))

    def e_CaseWhen(self, e: T.CaseWhen, active):
        decided = np.zeros(self.n, dtype=bool)
        data = known = None
        for cond, value in e.whens:
            c = self.ev(cond, active & ~decided)
            take = ~decided & c.known & c.data
            v = self.ev(value, active & take)
            data = v.data.copy() if data is None else np.where(take, v.data, data)
            known = take & v.known if known is None else np.where(take, v.known, known)
            decided = decided | take | (~decided & ~c.known)
        v = self.ev(e.else_, active & ~decided)
        rest = ~decided
        return Col(np.where(rest, v.data, data), np.where(rest, v.known, known))

    def e_Func(self, e: T.Func, active):
        args = [self.ev(a, active) for a in e.args]
        known = np.logical_and.reduce([a.known for a in args])
        if e.name == "abs":
            return Col(np.abs(args[0].data), known)
        reduce = np.minimum if e.name == "min" else np.maximum
        return Col(reduce.reduce([a.data for a in args]), known)

    def verdict_set_codes(self, e: T.VerdictSet) -> np.ndarray:
        codes = np.stack([self.env[r].data for r in e.rules]) if e.rules else np.full((1, self.n), T.NOT_APPLICABLE, np.int8)
        return combine_verdicts(e.func, codes)

    def e_VerdictSet(self, e: T.VerdictSet, active):
        return verdict_as_bool(self.verdict_set_codes(e))


def kleene(op: str, a: Col, b: Col) -> Col:
    """Three-valued ``and``/``or`` (Kleene): ``false and unknown`` is false, ``true or unknown`` is true."""
    if op == "and":
        false = (a.known & ~a.data) | (b.known & ~b.data)
        true = a.known & a.data & b.known & b.data
        return Col(true, true | false)
    true = (a.known & a.data) | (b.known & b.data)
    false = a.known & ~a.data & b.known & ~b.data
    return Col(true, true | false)


def combine_verdicts(func: str, codes: np.ndarray) -> np.ndarray:
    """``all``/``any`` over a (rules × entities) array of verdict codes."""
    any_fail = (codes == T.FAIL).any(axis=0)
    any_pass = (codes == T.PASS).any(axis=0)
    any_unknown = (codes == T.UNKNOWN).any(axis=0)
    none_applies = (codes == T.NOT_APPLICABLE).all(axis=0)
    if func == "all":
        out = np.where(any_fail, T.FAIL, np.where(any_unknown, T.UNKNOWN, np.where(none_applies, T.NOT_APPLICABLE, T.PASS)))
    else:
        out = np.where(any_pass, T.PASS, np.where(any_unknown, T.UNKNOWN, np.where(none_applies, T.NOT_APPLICABLE, T.FAIL)))
    return out.astype(np.int8)


def rule_verdict(ev: _Eval, rule) -> np.ndarray:
    if rule.applies is not None:
        app = ev.ev(rule.applies, ev.all_true)
        active = app.known & app.data
        not_applicable = app.known & ~app.data
    else:
        active = ev.all_true
        not_applicable = ~ev.all_true
    req = ev.ev(rule.require, active)
    codes = np.where(active & req.known, np.where(req.data, T.PASS, T.FAIL), T.UNKNOWN)
    return np.where(not_applicable, T.NOT_APPLICABLE, codes).astype(np.int8)


def result_labels(ev: _Eval, result) -> np.ndarray:
    labels = np.full(ev.n, NO_LABEL, dtype=np.int16)
    decided = np.zeros(ev.n, dtype=bool)
    for index, cond in result.branches:
        if cond is None:
            take = ~decided
            c_known = ev.all_true
        else:
            c = ev.ev(cond, ~decided)
            take = ~decided & c.known & c.data
            c_known = c.known
        labels = np.where(take, index, labels)
        decided = decided | take | (~decided & ~c_known)
    return labels.astype(np.int16)


def execute(plan: Plan, inputs: dict[str, Col], n: int) -> tuple[dict[str, Col], Counters]:
    """Evaluate every step of ``plan`` over ``n`` entities.

    ``inputs`` maps input names to columns already in canonical units (see :mod:`normrules.tables`).
    Returns the column of every step (verdicts and result labels as codes) and the counters.
    """
    rs = plan.ruleset
    values = {v.name: v for v in rs.values}
    rules = {r.id: r for r in rs.rules}
    results = {r.name: r for r in rs.results}
    env: dict[str, Col] = {}
    counters = Counters()
    ev = _Eval(env, n, counters)
    with np.errstate(all="ignore"):
        for kind, name in plan.steps:
            if kind == "input":
                env[name] = inputs[name]
            elif kind == "value":
                env[name] = ev.ev(values[name].expr, ev.all_true)
            elif kind == "rule":
                codes = rule_verdict(ev, rules[name])
                env[name] = Col(codes, codes != T.UNKNOWN)
            else:
                labels = result_labels(ev, results[name])
                env[name] = Col(labels, labels != NO_LABEL)
    return env, counters
