"""The scalar evaluator of one entity: closures compiled once per ruleset from typed expressions.

Each closure ``f(env, st)`` computes one expression for one entity with exactly the semantics of
the reference interpreter (:class:`normrules.reference.Interpreter`): ``env`` is the entity's
values, ``st`` a :class:`_State`; unknown is ``None``.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import math
import operator
from typing import TYPE_CHECKING

from .. import types as T
from ..errors import DataError
from ..execute import REL_TOL
from ..reference import _compare, _round
from .inputs import _EPOCH

if TYPE_CHECKING:  # pragma: no cover
    from .prepared import _Prepared


class _State:
    """What a compiled expression reads besides the current entity's values."""

    __slots__ = ("root", "children")

    def __init__(self, root: dict, children: dict):
        self.root = root
        self.children = children


def _const(v):
    return lambda env, st: v


def _compile(e, prep: "_Prepared"):
    """A closure ``f(env, st)`` computing ``e`` for one entity exactly as the reference interpreter
    (:class:`normrules.reference.Interpreter`) does; ``env`` is the entity's values, ``st`` a
    :class:`_State`. Unknown is ``None``."""
    c = _COMPILERS[type(e)]
    return c(e, prep)


def _c_const(e, prep):
    return _const(e.value)


def _c_load(e, prep):
    name = e.name
    if e.kind == "param":
        return _const(prep.params[name])
    if e.kind == "rule":
        unknown, passed = T.UNKNOWN, T.PASS

        def f(env, st):
            code = env[name]
            return None if code == unknown else code == passed
        return f
    return lambda env, st: env[name]


def _c_neg(e, prep):
    op = _compile(e.operand, prep)

    def f(env, st):
        x = op(env, st)
        return None if x is None else -x
    return f


def _c_arith(e, prep):
    left, right = _compile(e.left, prep), _compile(e.right, prep)
    isfinite = math.isfinite
    if e.op == "/":
        def f(env, st):
            a, b = left(env, st), right(env, st)
            if a is None or b is None or b == 0:
                return None
            r = a / b
            return r if isfinite(r) else None
        return f
    fn = {"+": operator.add, "-": operator.sub, "*": operator.mul}[e.op]

    def g(env, st):
        a, b = left(env, st), right(env, st)
        if a is None or b is None:
            return None
        r = fn(a, b)
        return r if isfinite(r) else None
    return g


def _c_cmp(e, prep):
    left, right = _compile(e.left, prep), _compile(e.right, prep)
    op = e.op
    if isinstance(e.left.type, T.NumT):
        rounding = e.rounding
        if rounding is not None:
            def f(env, st):
                a, b = left(env, st), right(env, st)
                if a is None or b is None:
                    return None
                return _compare(op, _round(a, rounding), b)
            return f
        if isinstance(e.right, T.Const):
            # a limit: the same arithmetic as reference._compare, with the tolerance computed once
            b = e.right.value
            t = REL_TOL * abs(b)
            if op in ("<=", ">"):
                limit = b + t
            elif op in ("<", ">="):
                limit = b - t
            else:
                low, high = b - t, b + t
            if op == "<=":
                return lambda env, st: None if (a := left(env, st)) is None else a <= limit
            if op == "<":
                return lambda env, st: None if (a := left(env, st)) is None else a < limit
            if op == ">=":
                return lambda env, st: None if (a := left(env, st)) is None else a >= limit
            if op == ">":
                return lambda env, st: None if (a := left(env, st)) is None else a > limit
            if op == "==":
                return lambda env, st: None if (a := left(env, st)) is None else low <= a <= high
            return lambda env, st: None if (a := left(env, st)) is None else not (low <= a <= high)

        def g(env, st):
            a, b = left(env, st), right(env, st)
            if a is None or b is None:
                return None
            return _compare(op, a, b)
        return g
    fn = _CMP_OPS[op]

    def h(env, st):
        a, b = left(env, st), right(env, st)
        if a is None or b is None:
            return None
        return fn(a, b)
    return h


def _c_bool_op(e, prep):
    left, right = _compile(e.left, prep), _compile(e.right, prep)
    if e.op == "and":
        def f(env, st):
            a, b = left(env, st), right(env, st)
            if a is False or b is False:
                return False
            if a is True and b is True:
                return True
            return None
        return f

    def g(env, st):
        a, b = left(env, st), right(env, st)
        if a is True or b is True:
            return True
        if a is False and b is False:
            return False
        return None
    return g


def _c_not(e, prep):
    op = _compile(e.operand, prep)

    def f(env, st):
        x = op(env, st)
        return None if x is None else not x
    return f


def _c_is_state(e, prep):
    state = e.state
    if isinstance(e.operand.type, T.VerdictT):
        code = T.VERDICT_NAMES.index(state)
        verdict = _verdict_code(e.operand)
        return lambda env, st: verdict(env, st) == code
    op = _compile(e.operand, prep)
    if state == "unknown":
        return lambda env, st: op(env, st) is None
    return lambda env, st: op(env, st) is not None


def _verdict_code(e):
    """A verdict-typed expression as a function giving its code (a parent's verdict: the root's)."""
    if isinstance(e, T.Up):
        inner = _verdict_code(e.operand)
        return lambda env, st: inner(st.root, st)
    if isinstance(e, T.Load):
        name = e.name
        return lambda env, st: env[name]
    return _verdict_set_codes(e)


def _c_in_set(e, prep):
    op = _compile(e.operand, prep)
    codes = e.codes

    def f(env, st):
        x = op(env, st)
        return None if x is None else x in codes
    return f


def _c_if(e, prep):
    cond, then, else_ = _compile(e.cond, prep), _compile(e.then, prep), _compile(e.else_, prep)

    def f(env, st):
        c = cond(env, st)
        if c is None:
            return None
        return then(env, st) if c else else_(env, st)
    return f


def _c_case(e, prep):
    whens = tuple((_compile(c, prep), _compile(v, prep)) for c, v in e.whens)
    else_ = _compile(e.else_, prep)

    def f(env, st):
        for cond, value in whens:
            c = cond(env, st)
            if c is None:
                return None
            if c:
                return value(env, st)
        return else_(env, st)
    return f


def _c_func(e, prep):
    if e.name == "convert":
        q, a, b = (_compile(x, prep) for x in e.args[:3])
        matrix = e.args[3].value
        cats_a, cats_b, span = e.args[1].type.categories, e.args[2].type.categories, e.span

        def conv(env, st):
            qv, av, bv = q(env, st), a(env, st), b(env, st)
            if qv is None or av is None or bv is None:
                return None
            factor = matrix[int(av)][int(bv)]
            if math.isnan(factor):
                raise DataError(f"unit `{cats_a[int(av)]}` cannot be converted to `{cats_b[int(bv)]}` ({span})")
            return qv * factor
        return conv
    args = tuple(_compile(x, prep) for x in e.args)
    name = e.name
    if name == "abs":
        (x,) = args

        def f_abs(env, st):
            v = x(env, st)
            return None if v is None else abs(v)
        return f_abs
    if name == "year_day":
        (x,) = args

        def f_day(env, st):
            v = x(env, st)
            return None if v is None else float((_EPOCH + _dt.timedelta(days=int(v))).year)
        return f_day
    if name == "year_month":
        (x,) = args

        def f_month(env, st):
            v = x(env, st)
            return None if v is None else float(int(v) // 12)
        return f_month
    pick = min if name == "min" else max

    def f(env, st):
        values = [g(env, st) for g in args]
        if None in values:
            return None
        return pick(values)
    return f


def _verdict_set_codes(e):
    """``all``/``any`` over rule verdicts, as the reference interpreter combines them: a code."""
    rules, is_all = e.rules, e.func == "all"
    fail, unknown, na, passed = T.FAIL, T.UNKNOWN, T.NOT_APPLICABLE, T.PASS

    def codes_of(env, st):
        # rule ids are unique: a rule not of this row's entity is its parent's (the root's)
        codes = [env[r] if r in env else st.root[r] for r in rules]
        if is_all:
            if fail in codes:
                return fail
            if unknown in codes:
                return unknown
            if all(c == na for c in codes):
                return na
            return passed
        if passed in codes:
            return passed
        if unknown in codes:
            return unknown
        if all(c == na for c in codes):
            return na
        return fail
    return codes_of


def _c_verdict_set(e, prep):
    codes_of = _verdict_set_codes(e)
    unknown, passed = T.UNKNOWN, T.PASS

    def f(env, st):
        code = codes_of(env, st)
        return None if code == unknown else code == passed
    return f


def _c_up(e, prep):
    op = _compile(e.operand, prep)
    return lambda env, st: op(st.root, st)


def _c_aggregate(e, prep):
    child, func = e.child, e.func
    where = _compile(e.where, prep) if e.where is not None else None
    value = _compile(e.value, prep) if e.value is not None else None
    has_default = e.default is not None
    default = e.default.value if has_default else None

    def f(env, st):
        included, unknown = [], False
        for row in st.children.get(child, ()):
            if where is not None:
                keep = where(row, st)
                if keep is None:
                    unknown = True
                    continue
                if not keep:
                    continue
            v = value(row, st) if value is not None else True
            if v is None:
                unknown = True
            included.append(v)
        if not included and not unknown:
            return default
        if func == "any" and any(v is True for v in included):
            return True
        if func == "all" and any(v is False for v in included):
            return False
        if unknown:
            return None
        if func == "count":
            return float(len(included))
        if func == "any":
            return False
        if func == "all":
            return True
        if func == "share":
            return sum(1.0 for v in included if v) / len(included)
        if func == "min":
            return min(included)
        if func == "max":
            return max(included)
        total = 0.0
        for v in included:
            total += v
        return total if func == "sum" else total / len(included)
    return f


def _c_lookup(e, prep):
    table = prep.tables[e.table]
    keys = []
    for k, (_, ktype) in zip(e.keys, table.keys):
        cats = k.type.categories if isinstance(ktype, T.TextT) and isinstance(k.type, T.TextT) else None
        keys.append((_compile(k, prep), cats))
    column = table.index_of(e.column)
    ctype = dict(table.fields)[e.column]
    cell_code = {c: i for i, c in enumerate(ctype.categories)} if isinstance(ctype, T.TextT) else None
    nkeys = len(table.keys)

    def cell(match):
        v = match[column]
        if v is not None and cell_code is not None:
            return cell_code[v]
        return v

    if e.latest is not None:
        ordered = sorted((r for r in table.rows if r[0] is not None), key=lambda r: r[0])
        bounds = [r[0] for r in ordered]
        find = bisect.bisect_right if e.latest == "<=" else bisect.bisect_left
        key_fn = keys[0][0]

        def latest(env, st):
            x = key_fn(env, st)
            if x is None:
                return None
            i = find(bounds, x) - 1
            return cell(ordered[i]) if i >= 0 else None
        return latest
    index: dict = {}
    for r in table.rows:
        index.setdefault(tuple(r[:nkeys]), r)

    def f(env, st):
        values = []
        for key_fn, cats in keys:
            v = key_fn(env, st)
            if v is None:
                return None
            values.append(cats[int(v)] if cats is not None else v)
        match = index.get(tuple(values))
        return None if match is None else cell(match)
    return f


_COMPILERS = {T.Const: _c_const, T.Load: _c_load, T.Neg: _c_neg, T.Arith: _c_arith, T.Cmp: _c_cmp,
              T.BoolOp: _c_bool_op, T.NotOp: _c_not, T.IsState: _c_is_state, T.InSet: _c_in_set, T.IfElse: _c_if,
              T.CaseWhen: _c_case, T.Func: _c_func, T.VerdictSet: _c_verdict_set, T.Up: _c_up,
              T.Aggregate: _c_aggregate, T.Lookup: _c_lookup}
_CMP_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}


def _compile_rule(r, prep):
    applies = _compile(r.applies, prep) if r.applies is not None else None
    require = _compile(r.require, prep)
    na, unknown, passed, fail = T.NOT_APPLICABLE, T.UNKNOWN, T.PASS, T.FAIL

    def f(env, st):
        if applies is not None:
            a = applies(env, st)
            if a is False:
                return na
            if a is None:
                return unknown
        ok = require(env, st)
        if ok is None:
            return unknown
        return passed if ok else fail
    return f


def _compile_result(res, prep):
    branches = tuple((index, _compile(cond, prep) if cond is not None else None) for index, cond in res.branches)

    def f(env, st):
        for index, cond in branches:
            if cond is None:
                return index
            c = cond(env, st)
            if c is None:
                return None
            if c:
                return index
        return None
    return f
