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
    if np.ndim(b):
        # the same arithmetic as below (REL_TOL·|b|, then b ± t), without the temporaries
        t = np.abs(b)
        t *= REL_TOL
        if op == "<=":
            return a <= np.add(b, t, out=t)
        if op == "<":
            return a < np.subtract(b, t, out=t)
        if op == ">=":
            return a >= np.subtract(b, t, out=t)
        if op == ">":
            return a > np.add(b, t, out=t)
        eq = (a >= b - t) & (a <= np.add(b, t, out=t))
        return eq if op == "==" else ~eq
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


def _bool(x: np.ndarray) -> np.ndarray:
    """A condition's data as booleans (truthiness, as ``np.where`` reads it)."""
    return x if x.dtype == bool else x.astype(bool)


def _is_constant(x: np.ndarray) -> bool:
    """A column made by :meth:`_Eval.const`: one value broadcast over every entity."""
    return x.ndim == 1 and len(x) > 0 and x.strides == (0,)


def select_exclusive(n: int, dtype, default: int, choices) -> np.ndarray:
    """``default`` everywhere, else ``value`` where ``mask`` — for mutually exclusive masks.

    Equal to nested ``np.where`` calls, but as integer arithmetic: ``np.where`` on a mask without
    long runs is an order of magnitude slower (branch mispredictions).
    """
    out = np.full(n, default, dtype=dtype)
    for mask, value in choices:
        if value != default:
            out += mask * dtype(value - default)
    return out


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
        self.limit_tests: dict[tuple, Col] = {}    # `name op limit`, computed once (rules share scopes)

    def const(self, e: T.Const) -> Col:
        # a read-only view of one value (stride 0): no memory and no time per entity
        if isinstance(e.type, T.BoolT):
            value = np.bool_(bool(e.value))
        elif isinstance(e.type, (T.TextT, T.LabelT)):
            value = np.int32(int(e.value))
        else:
            value = np.float64(float(e.value))
        return Col(np.broadcast_to(value, (self.n,)), self.all_true)

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
            if zero.any():
                count = int(np.count_nonzero(zero & known & active))
                data = a.data / np.where(zero, 1.0, b.data)
                known = known & ~zero
            else:
                count = 0
                data = a.data / b.data
            self.counters.division_by_zero[e.span] = self.counters.division_by_zero.get(e.span, 0) + count
        return Col(data, known & np.isfinite(data))

    def e_Cmp(self, e: T.Cmp, active):
        if isinstance(e.left.type, T.NumT) and isinstance(e.right, T.Const):
            # a limit: compared as a scalar, known wherever the left side is
            key = (e.left.name, e.op, e.right.value, e.rounding) if isinstance(e.left, T.Load) else None
            if key in self.limit_tests:
                return self.limit_tests[key]
            a = self.ev(e.left, active)
            left = apply_rounding(a.data, e.rounding) if e.rounding is not None else a.data
            col = Col(compare(e.op, left, e.right.value), a.known)
            if key is not None:
                self.limit_tests[key] = col
            return col
        a, b = self.ev(e.left, active), self.ev(e.right, active)
        known = a.known & b.known
        if isinstance(e.left.type, T.NumT):
            left = apply_rounding(a.data, e.rounding) if e.rounding is not None else a.data
            return Col(compare(e.op, left, b.data), known)
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
        cond = _bool(c.data)
        chosen_then = c.known & cond
        a = self.ev(e.then, active & chosen_then)
        b = self.ev(e.else_, active & c.known & ~cond)
        if _is_constant(a.data) and _is_constant(b.data) and a.data.dtype == b.data.dtype:
            data = np.array([b.data[0], a.data[0]])[cond.view(np.uint8)]   # a two-entry lookup table
        else:
            data = np.where(cond, a.data, b.data)
        return Col(data, c.known & ((cond & a.known) | (~cond & b.known)))

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
        codes = [self.env[r].data for r in e.rules] if e.rules else np.full((1, self.n), T.NOT_APPLICABLE, np.int8)
        return combine_verdicts(e.func, codes, self.n)

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


def combine_verdicts(func: str, codes, n: int | None = None) -> np.ndarray:
    """``all``/``any`` over verdict codes: a (rules × entities) array, or a list of rows of length ``n``."""
    rows = list(codes)
    if n is None:
        n = len(rows[0])
    present = np.zeros(n, dtype=np.int8)           # bit 1 << code set when some rule has that verdict
    for row in rows:
        present |= np.left_shift(np.int8(1), row, dtype=np.int8)
    any_fail = (present & (1 << T.FAIL)) != 0
    any_pass = (present & (1 << T.PASS)) != 0
    any_unknown = (present & (1 << T.UNKNOWN)) != 0
    none_applies = present == (1 << T.NOT_APPLICABLE)
    decides, decided, otherwise = (any_fail, T.FAIL, T.PASS) if func == "all" else (any_pass, T.PASS, T.FAIL)
    unknown = ~decides & any_unknown
    not_applicable = ~decides & ~any_unknown & none_applies
    return select_exclusive(n, np.int8, otherwise,
                            [(decides, decided), (unknown, T.UNKNOWN), (not_applicable, T.NOT_APPLICABLE)])


def rule_verdict(ev: _Eval, rule) -> np.ndarray:
    choices = []
    if rule.applies is not None:
        app = ev.ev(rule.applies, ev.all_true)
        applies = _bool(app.data)
        active = app.known & applies
        choices.append((app.known & ~applies, T.NOT_APPLICABLE))
    else:
        active = ev.all_true
    req = ev.ev(rule.require, active)
    ok = _bool(req.data)
    decided = active & req.known
    choices += [(decided & ok, T.PASS), (decided & ~ok, T.FAIL)]
    return select_exclusive(ev.n, np.int8, T.UNKNOWN, choices)


def result_labels(ev: _Eval, result) -> np.ndarray:
    decided = np.zeros(ev.n, dtype=bool)
    choices = []                                   # the branches' `take` masks are disjoint
    for index, cond in result.branches:
        if cond is None:
            take = ~decided
            c_known = ev.all_true
        else:
            c = ev.ev(cond, ~decided)
            take = ~decided & c.known & _bool(c.data)
            c_known = c.known
        choices.append((take, index))
        decided = decided | take | (~decided & ~c_known)
    return select_exclusive(ev.n, np.int16, NO_LABEL, choices)


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
                col = ev.ev(values[name].expr, ev.all_true)
                if _is_constant(col.data):             # a constant `let`: give it a column of its own
                    col = Col(np.array(col.data), col.known)
                env[name] = col
            elif kind == "rule":
                codes = rule_verdict(ev, rules[name])
                env[name] = Col(codes, codes != T.UNKNOWN)
            else:
                labels = result_labels(ev, results[name])
                env[name] = Col(labels, labels != NO_LABEL)
    return env, counters
