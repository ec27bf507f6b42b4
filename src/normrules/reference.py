"""A scalar reference interpreter: one entity at a time, straight from the checked ruleset.

Written for obviousness, not speed: it is what the vectorized executor is tested against.
Unknown is ``None``. It shares no evaluation code with :mod:`normrules.execute`; only the
constants (tolerance, verdict codes) are common.
"""

from __future__ import annotations

import math

from . import types as T
from .check import CheckedRuleset
from .execute import REL_TOL

UNKNOWN = None


def _compare(op: str, a: float, b: float) -> bool:
    t = REL_TOL * abs(b)
    if op == "<=":
        return a <= b + t
    if op == "<":
        return a < b - t
    if op == ">=":
        return a >= b - t
    if op == ">":
        return a > b + t
    equal = b - t <= a <= b + t
    return equal if op == "==" else not equal


def _round(value: float, rounding: T.Rounding) -> float:
    scale = 10.0 ** rounding.decimals
    y = value / rounding.factor * scale
    if not math.isfinite(y * 1e6):   # too large to have decimals: stays ±inf, as numpy's rint keeps it
        return y * 1e6 / 1e6 / scale * rounding.factor
    return round(round(y * 1e6) / 1e6) / scale * rounding.factor


class Interpreter:
    """Evaluates one entity. ``inputs`` maps names to canonical values or None (unknown)."""

    def __init__(self, ruleset: CheckedRuleset, inputs: dict[str, object]):
        self.rs = ruleset
        self.env: dict[str, object] = dict(inputs)
        self.division_by_zero = 0

    # ------------------------------------------------------------------ expressions
    def ev(self, e):
        return getattr(self, "e_" + type(e).__name__)(e)

    def e_Const(self, e):
        return e.value

    def e_Load(self, e):
        value = self.env[e.name]
        if e.kind == "rule":
            return self.verdict_as_bool(value)
        return value

    @staticmethod
    def verdict_as_bool(code):
        if code == T.UNKNOWN:
            return None
        return code == T.PASS

    def e_Neg(self, e):
        x = self.ev(e.operand)
        return None if x is None else -x

    def e_Arith(self, e):
        a, b = self.ev(e.left), self.ev(e.right)
        if a is None or b is None:
            return None
        if e.op == "+":
            r = a + b
        elif e.op == "-":
            r = a - b
        elif e.op == "*":
            r = a * b
        else:
            if b == 0:
                self.division_by_zero += 1
                return None
            r = a / b
        return r if math.isfinite(r) else None

    def e_Cmp(self, e):
        a, b = self.ev(e.left), self.ev(e.right)
        if a is None or b is None:
            return None
        if isinstance(e.left.type, T.NumT):
            if e.rounding is not None:
                a = _round(a, e.rounding)
            return _compare(e.op, a, b)
        return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[e.op]

    def e_BoolOp(self, e):
        a, b = self.ev(e.left), self.ev(e.right)
        if e.op == "and":
            if a is False or b is False:
                return False
            if a is True and b is True:
                return True
            return None
        if a is True or b is True:
            return True
        if a is False and b is False:
            return False
        return None

    def e_NotOp(self, e):
        x = self.ev(e.operand)
        return None if x is None else not x

    def e_IsState(self, e):
        if isinstance(e.operand.type, T.VerdictT):
            code = self.env[e.operand.name] if isinstance(e.operand, T.Load) else self.verdict_set(e.operand)
            return T.VERDICT_NAMES[code] == e.state
        x = self.ev(e.operand)
        return (x is None) if e.state == "unknown" else (x is not None)

    def e_InSet(self, e):
        x = self.ev(e.operand)
        return None if x is None else x in e.codes

    def e_IfElse(self, e):
        c = self.ev(e.cond)
        if c is None:
            return None
        return self.ev(e.then) if c else self.ev(e.else_)

    def e_CaseWhen(self, e):
        for cond, value in e.whens:
            c = self.ev(cond)
            if c is None:
                return None
            if c:
                return self.ev(value)
        return self.ev(e.else_)

    def e_Func(self, e):
        args = [self.ev(a) for a in e.args]
        if any(a is None for a in args):
            return None
        if e.name == "abs":
            return abs(args[0])
        return min(args) if e.name == "min" else max(args)

    def verdict_set(self, e) -> int:
        codes = [self.env[r] for r in e.rules]
        if e.func == "all":
            if T.FAIL in codes:
                return T.FAIL
            if T.UNKNOWN in codes:
                return T.UNKNOWN
            if all(c == T.NOT_APPLICABLE for c in codes):
                return T.NOT_APPLICABLE
            return T.PASS
        if T.PASS in codes:
            return T.PASS
        if T.UNKNOWN in codes:
            return T.UNKNOWN
        if all(c == T.NOT_APPLICABLE for c in codes):
            return T.NOT_APPLICABLE
        return T.FAIL

    def e_VerdictSet(self, e):
        return self.verdict_as_bool(self.verdict_set(e))

    # ------------------------------------------------------------------ declarations
    def rule(self, r) -> int:
        if r.applies is not None:
            applies = self.ev(r.applies)
            if applies is False:
                return T.NOT_APPLICABLE
            if applies is None:
                return T.UNKNOWN
        ok = self.ev(r.require)
        if ok is None:
            return T.UNKNOWN
        return T.PASS if ok else T.FAIL

    def result(self, res) -> int | None:
        for index, cond in res.branches:
            if cond is None:
                return index
            c = self.ev(cond)
            if c is None:
                return None
            if c:
                return index
        return None

    def run(self, steps) -> dict[str, object]:
        """Evaluate the plan's steps in order; returns every value, verdict code and label index."""
        values = {v.name: v for v in self.rs.values}
        rules = {r.id: r for r in self.rs.rules}
        results = {r.name: r for r in self.rs.results}
        for kind, name in steps:
            if kind == "input":
                self.env.setdefault(name, None)
            elif kind == "value":
                self.env[name] = self.ev(values[name].expr)
            elif kind == "rule":
                self.env[name] = self.rule(rules[name])
            else:
                self.env[name] = self.result(results[name])
        return self.env


def evaluate_one(ruleset, inputs: dict[str, object]) -> dict[str, object]:
    """Evaluate one entity with the reference interpreter (``ruleset`` is an :class:`~normrules.api.Ruleset`)."""
    return Interpreter(ruleset.checked, inputs).run(ruleset.plan.steps)
