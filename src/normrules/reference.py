"""A scalar reference interpreter: one entity at a time, straight from the checked ruleset.

Written for obviousness, not speed: it is what the vectorized executor is tested against.
Unknown is ``None``. It shares no evaluation code with :mod:`normrules.execute`; only the
constants (tolerance, verdict codes) are common.
"""

from __future__ import annotations

import datetime
import math

from . import types as T
from .check import CheckedRuleset
from .errors import DataError
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

    def __init__(self, ruleset: CheckedRuleset, inputs: dict[str, object],
                 children: dict[str, list[dict[str, object]]] | None = None):
        self.rs = ruleset
        self.root: dict[str, object] = dict(inputs)
        self.env = self.root                       # the entity being evaluated: the root or one child row
        self.children = {name: [dict(row) for row in rows] for name, rows in (children or {}).items()}
        self.params = {p.name: p.expr.value for p in ruleset.params}
        self.tables = {t.name: t for t in ruleset.tables}
        self.division_by_zero = 0
        self.lookup_misses = 0

    # ------------------------------------------------------------------ expressions
    def ev(self, e):
        return getattr(self, "e_" + type(e).__name__)(e)

    def e_Const(self, e):
        return e.value

    def e_Load(self, e):
        if e.kind == "param":
            return self.params[e.name]
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
            return T.VERDICT_NAMES[self.verdict_code(e.operand)] == e.state
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
        if e.name == "convert":
            q, a, b = (self.ev(x) for x in e.args[:3])
            if q is None or a is None or b is None:
                return None
            factor = e.args[3].value[int(a)][int(b)]
            if math.isnan(factor):
                raise DataError(f"unit `{e.args[1].type.categories[int(a)]}` cannot be converted to "
                                f"`{e.args[2].type.categories[int(b)]}` ({e.span})")
            return q * factor
        args = [self.ev(a) for a in e.args]
        if any(a is None for a in args):
            return None
        if e.name == "abs":
            return abs(args[0])
        if e.name == "year_day":
            return float((datetime.date(1970, 1, 1) + datetime.timedelta(days=int(args[0]))).year)
        if e.name == "year_month":
            return float(int(args[0]) // 12)
        return min(args) if e.name == "min" else max(args)

    def verdict_code(self, e) -> int:
        if isinstance(e, T.Up):                    # a parent's verdict read in a child row
            here, self.env = self.env, self.root
            try:
                return self.verdict_code(e.operand)
            finally:
                self.env = here
        if isinstance(e, T.Load):
            return self.env[e.name]
        return self.verdict_set(e)

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

    # ------------------------------------------------------------------ entities and tables
    def e_Up(self, e):
        here = self.env
        self.env = self.root
        try:
            return self.ev(e.operand)
        finally:
            self.env = here

    def e_Aggregate(self, e):
        here = self.env
        included, unknown = [], False
        try:
            for row in self.children.get(e.child, []):
                self.env = row
                if e.where is not None:
                    keep = self.ev(e.where)
                    if keep is None:
                        unknown = True
                        continue
                    if not keep:
                        continue
                value = self.ev(e.value) if e.value is not None else True
                if value is None:
                    unknown = True
                included.append(value)
        finally:
            self.env = here
        if not included and not unknown:
            return e.default.value if e.default is not None else None
        if e.func == "any" and any(v is True for v in included):
            return True
        if e.func == "all" and any(v is False for v in included):
            return False
        if unknown:
            return None
        if e.func == "count":
            return float(len(included))
        if e.func == "any":
            return False
        if e.func == "all":
            return True
        if e.func == "share":
            return sum(1.0 for v in included if v) / len(included)
        if e.func == "min":
            return min(included)
        if e.func == "max":
            return max(included)
        total = 0.0
        for v in included:
            total += v
        return total if e.func == "sum" else total / len(included)

    def e_Lookup(self, e):
        table = self.tables[e.table]
        keys = []
        for k, (name, ktype) in zip(e.keys, table.keys):
            value = self.ev(k)
            if value is None:
                return None
            if isinstance(ktype, T.TextT):
                value = k.type.categories[int(value)] if isinstance(k.type, T.TextT) else value
            keys.append(value)
        column = table.index_of(e.column)
        nkeys = len(table.keys)
        if e.latest is not None:
            candidates = [r for r in table.rows if r[0] is not None
                          and (r[0] <= keys[0] if e.latest == "<=" else r[0] < keys[0])]
            match = max(candidates, key=lambda r: r[0]) if candidates else None
        else:
            match = next((r for r in table.rows if list(r[:nkeys]) == keys), None)
        if match is None:
            self.lookup_misses += 1
            return None
        cell = match[column]
        ctype = dict(table.fields)[e.column]
        if cell is not None and isinstance(ctype, T.TextT):
            return ctype.categories.index(cell)
        return cell

    def run(self, steps) -> dict[str, object]:
        """Evaluate the plan's steps in order; returns the root's values, verdict codes and label
        indexes (child rows' results are in ``self.children``)."""
        values = {v.name: v for v in self.rs.values}
        rules = {r.id: r for r in self.rs.rules}
        results = {r.name: r for r in self.rs.results}
        owner = {x.name: x.entity or self.rs.entity for x in (*self.rs.inputs, *self.rs.values, *self.rs.results)}
        owner.update({r.id: r.entity or self.rs.entity for r in self.rs.rules})
        for kind, name in steps:
            if kind in ("param", "table", "import"):
                continue
            envs = [self.root] if owner[name] == self.rs.entity else self.children.get(owner[name], [])
            for env in envs:
                self.env = env
                if kind == "input":
                    env.setdefault(name, None)
                elif kind == "value":
                    env[name] = self.ev(values[name].expr)
                elif kind == "rule":
                    env[name] = self.rule(rules[name])
                else:
                    env[name] = self.result(results[name])
        self.env = self.root
        return self.root


def evaluate_one(ruleset, inputs: dict[str, object]) -> dict[str, object]:
    """Evaluate one entity with the reference interpreter (``ruleset`` is an :class:`~normrules.api.Ruleset`)."""
    return Interpreter(ruleset.checked, inputs).run(ruleset.plan.steps)
