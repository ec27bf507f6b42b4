"""Embedding normrules in a service: one entity at a time, typed outputs, explanations, schemas.

    >>> import normrules
    >>> rs = normrules.load("rulesets/gb/zero_carbon_park.nr")
    >>> out = normrules.evaluate_one(rs, {"energy": 500_000, "co2": 90_000, "clean_share": 95,
    ...                                   "product_energy_level2": True, "solid_waste_util": 85,
    ...                                   "waste_heat_util": 60})
    >>> out["core.intensity"], out.intensity, out.meets_notice
    ('pass', 0.18, 'met')

Inputs are a dict ``{input name: value}``: numbers in the input's declared unit (or a string with
its own unit, ``"150 万tce/yr"``), booleans, category strings, dates (``datetime.date`` or
ISO text); a missing name or ``None`` is unknown. Child entity rows go under the child entity's
name as a list of dicts (``{"rated_power": 400, "line": [{"process": "cell", …}, …]}``).

Bad inputs raise :class:`InputError` (a :class:`~normrules.errors.DataError`): every problem at
once, each naming its field — a wrong type, an undeclared category, a value out of the declared
range, an unknown field name (with a did-you-mean). Pydantic is used for the *outputs* (a model
built from the ruleset with :func:`pydantic.create_model`) and for :func:`schema`; inputs are
validated by normrules itself, with the same rules as when a table is read, and the same range
and category checks (``invalid="unknown"`` reads out-of-range values and undeclared categories as
unknown, as :meth:`Ruleset.evaluate <normrules.api.Ruleset.evaluate>` does).

One entity is evaluated by closures compiled once per ruleset from its typed expression trees,
with exactly the semantics of the reference interpreter (:mod:`normrules.reference`, the
specification the vectorized executor is tested against), which keeps a call in the tens of
microseconds; :func:`evaluate_row` and :func:`explain` run the vectorized executor on the one row.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import math
import operator
import re
import weakref
from dataclasses import dataclass

import numpy as np

from . import explain as _explain_module
from . import types as T
from .errors import DataError, did_you_mean
from .execute import REL_TOL
from .reference import _compare, _round

_EPOCH = _dt.date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_TRUE = {"true", "yes", "y", "1", "是", "t"}
_FALSE = {"false", "no", "n", "0", "否", "f"}
_NUMBER_TEXT = re.compile(r"^\s*([+-]?(?:\d[\d_,]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(.*?)\s*$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


# =========================================================================== errors


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field: ``field`` is ``energy`` or ``line[2].quantity``."""

    field: str
    kind: str          # "type" | "category" | "range" | "unknown_field" | "unit"
    message: str
    value: object = None

    def __str__(self) -> str:
        return f"`{self.field}`: {self.message}"


class InputError(DataError):
    """Inputs of :func:`evaluate_one` / :func:`explain` that do not fit the ruleset.

    ``errors`` lists every problem (:class:`FieldError`); ``column`` is the first bad field.
    """

    def __init__(self, errors: list[FieldError]):
        self.errors = tuple(errors)
        n = len(errors)
        head = "invalid input" if n == 1 else f"{n} invalid inputs"
        super().__init__(f"{head}: " + "; ".join(str(e) for e in errors))
        self.column = errors[0].field if errors else None


# =========================================================================== inputs


def _significant(v: float) -> float:
    """:func:`normrules.api._significant` for one float: 12 significant digits."""
    if v == 0 or not math.isfinite(v):
        return v
    scale = 10.0 ** (11 - math.floor(math.log10(abs(v))))
    return round(v * scale) / scale


def _short(x) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


class _InputSpec:
    """How to read one declared input from a Python value into its canonical value."""

    __slots__ = ("name", "kind", "factor", "unit", "low", "low_inc", "high", "high_inc", "codes", "categories",
                 "range_text", "type")

    def __init__(self, inp):
        self.name = inp.name
        typ = inp.type
        self.type = typ
        self.factor, self.unit, self.codes, self.categories = 1.0, None, None, ()
        self.low, self.low_inc, self.high, self.high_inc = inp.low, inp.low_inclusive, inp.high, inp.high_inclusive
        self.range_text = ""
        if isinstance(typ, T.NumT):
            self.kind = "number"
            self.factor, self.unit = typ.unit.factor, typ.unit
            d = inp.decl.range if inp.decl is not None else None
            if d is not None:
                self.range_text = (f"{'[' if d.low.inclusive else '('}{d.low.text}, {d.high.text}"
                                   f"{']' if d.high.inclusive else ')'} {typ}")
        elif isinstance(typ, T.BoolT):
            self.kind = "boolean"
        elif isinstance(typ, T.TextT):
            self.kind = "text"
            self.categories = typ.categories
            self.codes = {c: i for i, c in enumerate(typ.categories)}
        elif isinstance(typ, T.DateT):
            self.kind = "date_" + typ.precision
        else:  # pragma: no cover - the checker gives inputs no other type
            raise TypeError(typ)

    def read(self, raw, field: str, invalid: str, errors: list):
        """The canonical value of ``raw`` (None = unknown); problems are appended to ``errors``."""
        if raw is None:
            return None
        kind = self.kind
        if kind == "number":
            t = type(raw)
            if t is float or t is int or (isinstance(raw, (int, float, np.integer, np.floating)) and not isinstance(raw, (bool, np.bool_))):
                value = float(raw)
                if value != value:          # NaN: unknown, as in a table
                    return None
                value *= self.factor
            elif isinstance(raw, str):
                value = self._number_text(raw, field, errors)
                if value is None:
                    return None
            else:
                errors.append(FieldError(field, "type", f"expected a number in {self.unit.text}, got {_short(raw)}", raw))
                return None
            if self.low is None and self.high is None:
                return value
            if ((self.low is not None and (value < self.low if self.low_inc else value <= self.low))
                    or (self.high is not None and (value > self.high if self.high_inc else value >= self.high))):
                if invalid == "unknown":
                    return None
                errors.append(FieldError(field, "range", f"{_short(raw)} is outside the declared range {self.range_text}", raw))
                return None
            return value
        if kind == "text":
            if isinstance(raw, (int, np.integer)) and not isinstance(raw, (bool, np.bool_)):
                raw = str(raw)                  # as a table column of integers is read
            if isinstance(raw, str):
                s = raw.strip()
                if not s:
                    return None
                code = self.codes.get(s)
                if code is not None:
                    return code
                if invalid == "unknown":
                    return None
                hint = did_you_mean(s, self.categories)
                errors.append(FieldError(field, "category", f'"{s}" is not a declared category'
                                         + (f"; {hint}" if hint else "") + " (categories: "
                                         + ", ".join(self.categories) + ")", raw))
                return None
            errors.append(FieldError(field, "type", f"expected one of the categories {', '.join(self.categories)}, "
                                     f"got {_short(raw)}", raw))
            return None
        if kind == "boolean":
            if raw is True or raw is False:
                return raw
            if isinstance(raw, np.bool_):
                return bool(raw)
            if isinstance(raw, (int, np.integer)) and raw in (0, 1):
                return bool(raw)
            if isinstance(raw, float) and raw != raw:
                return None
            if isinstance(raw, str):
                s = raw.strip().lower()
                if not s:
                    return None
                if s in _TRUE:
                    return True
                if s in _FALSE:
                    return False
            errors.append(FieldError(field, "type", f"expected true/false, got {_short(raw)}", raw))
            return None
        # dates
        month = kind == "date_month"
        if isinstance(raw, _dt.datetime):
            raw = raw.date()
        if isinstance(raw, _dt.date):
            return float(raw.year * 12 + raw.month - 1) if month else float(raw.toordinal() - _EPOCH_ORDINAL)
        if isinstance(raw, str):
            s = raw.strip()
            if not s:
                return None
            if (_MONTH if month else _DAY).match(s):
                try:
                    if month:
                        y, m = int(s[:4]), int(s[5:7])
                        if 1 <= m <= 12:
                            return float(y * 12 + m - 1)
                    else:
                        return float(_dt.date.fromisoformat(s).toordinal() - _EPOCH_ORDINAL)
                except ValueError:
                    pass
            errors.append(FieldError(field, "type", f"`{s}` is not a date like {'2025-07' if month else '2025-07-08'}", raw))
            return None
        errors.append(FieldError(field, "type", f"expected a date, got {_short(raw)}", raw))
        return None

    def _number_text(self, raw: str, field: str, errors: list):
        m = _NUMBER_TEXT.match(raw)
        if not m:
            if not raw.strip():
                return None
            errors.append(FieldError(field, "type", f"expected a number in {self.unit.text}, got {_short(raw)}", raw))
            return None
        value = float(m.group(1).replace("_", "").replace(",", ""))
        unit = m.group(2)
        if not unit:
            return value * self.factor
        if unit == "%":
            if not self.unit.is_dimensionless:
                errors.append(FieldError(field, "unit", f"`%` given, but `{self.name}` is in {self.unit.text}", raw))
                return None
            return value * 0.01
        from .units import UnitSyntaxError, parse_unit

        try:
            u = parse_unit(unit)
        except UnitSyntaxError as exc:
            errors.append(FieldError(field, "unit", str(exc), raw))
            return None
        if u.dimensionality != self.unit.dimensionality:
            errors.append(FieldError(field, "unit", f"{unit} cannot be converted to {self.unit.text} "
                                     f"(the unit `{self.name}` is declared in)", raw))
            return None
        return value * u.factor


# =========================================================================== the per-ruleset state


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


_NUM, _BOOL, _TEXT, _DAYK, _MONTHK, _VERDICT, _LABEL = range(7)


def _field_name(name: str, taken: set) -> str:
    base = re.sub(r"\W", "_", name)
    if not base or base[0].isdigit() or base.startswith("_") or base.startswith("model_"):
        base = "f_" + base.lstrip("_")
    from pydantic import BaseModel

    if hasattr(BaseModel, base):
        base += "_"
    out, k = base, 2
    while out in taken:
        out, k = f"{base}_{k}", k + 1
    taken.add(out)
    return out


class _Prepared:
    """What evaluating one entity of one ruleset needs, computed once per ruleset."""

    def __init__(self, ruleset):
        c = ruleset.checked
        self.ruleset = ruleset
        self.checked = c
        self.root = c.entity
        self.key = c.key_of(c.entity) if c.entities else c.key
        self.params = {p.name: p.expr.value for p in c.params}
        self.tables = {t.name: t for t in c.tables}
        self.inputs = [_InputSpec(i) for i in c.inputs if (i.entity or c.entity) == c.entity]
        self.children_of_root = [e.name for e in c.entities if e.parent == c.entity]
        self.child_inputs = {e: [_InputSpec(i) for i in c.inputs if i.entity == e] for e in self.children_of_root}
        self.child_keys = {e.name: e.key for e in c.entities if e.parent is not None}
        self.imports = [(alias, prepare(sub)) for alias, sub in c.imports]
        by_name = c.by_name()
        steps = []
        for kind, name in ruleset.plan.steps:
            if kind not in ("value", "rule", "result"):
                continue
            item = by_name[name]
            owner = item.entity or c.entity
            fn = (_compile(item.expr, self) if kind == "value" else _compile_rule(item, self) if kind == "rule"
                  else _compile_result(item, self))
            steps.append((name, fn, None if owner == c.entity else owner))
        self.steps = tuple(steps)
        # every field name a caller may give, across this ruleset and its imports (same table)
        self.field_specs: dict[str, _InputSpec] = {}
        self.child_field_specs: dict[str, dict[str, _InputSpec]] = {e: {} for e in self.children_of_root}
        self._collect_fields(self)
        self._outputs = None
        self._converters = None
        self._output_model = None
        self._input_model = None

    def _collect_fields(self, prep: "_Prepared") -> None:
        for s in prep.inputs:
            self.field_specs.setdefault(s.name, s)
        for e, specs in prep.child_inputs.items():
            target = self.child_field_specs.setdefault(e, {})
            for s in specs:
                target.setdefault(s.name, s)
        for _, sub in prep.imports:
            self._collect_fields(sub)

    # ------------------------------------------------------------------ outputs
    def outputs(self) -> list[tuple]:
        """(output name, field name, conversion kind, extra, item) for every root output, in plan order."""
        if self._outputs is not None:
            return self._outputs
        c = self.checked
        out, taken = [], set()
        imports = dict(c.imports)
        by_name = c.by_name()
        for kind, name in self.ruleset.plan.steps:
            if kind not in ("value", "rule", "result", "import"):
                continue
            item = by_name.get(name)
            if item is None and "." in name:
                alias, rest = name.split(".", 1)
                sub = imports.get(alias)
                item = sub.checked.by_name().get(rest) if sub is not None else None
            if item is None or (getattr(item, "entity", "") or c.entity) != c.entity:
                continue
            if hasattr(item, "require"):
                conv, extra = _VERDICT, None
            elif hasattr(item, "branches"):
                conv, extra = _LABEL, item.labels
            elif isinstance(item.type, T.NumT):
                conv, extra = _NUM, item.type.unit.factor
            elif isinstance(item.type, T.BoolT):
                conv, extra = _BOOL, None
            elif isinstance(item.type, T.TextT):
                conv, extra = _TEXT, item.type.categories
            elif isinstance(item.type, T.DateT):
                conv, extra = (_DAYK if item.type.precision == "day" else _MONTHK), None
            else:  # pragma: no cover
                continue
            out.append((name, _field_name(name, taken), conv, extra, item))
        self._outputs = out
        return out

    def output_model(self):
        if self._output_model is None:
            # one class per ruleset text and output signature: the same ruleset compiled again or
            # loaded from IR gives outputs of the same class (pydantic models of different classes
            # are never equal)
            c = self.checked
            key = (c.ref, c.content_hash, tuple(
                (name, field, conv, extra if not isinstance(extra, float) else repr(extra),
                 _label_text(getattr(item, "label", None)), getattr(item, "clause", None),
                 getattr(item, "severity", None), item.type.unit.text if conv == _NUM else None)
                for name, field, conv, extra, item in self.outputs()))
            model = _MODELS.get(key)
            if model is None:
                model = _MODELS[key] = _make_output_model(self)
            self._output_model = model
        return self._output_model

    def input_model(self):
        if self._input_model is None:
            self._input_model = _make_input_model(self)
        return self._input_model

    # ------------------------------------------------------------------ reading one entity
    def check_fields(self, data: dict, errors: list) -> dict:
        """Unknown field names (with did-you-mean); returns the child rows by entity."""
        children = {}
        specs = self.field_specs
        for name, raw in data.items():
            if name in specs or name == self.key:
                continue
            if name in self.child_field_specs:
                if raw is None:
                    continue
                if not isinstance(raw, (list, tuple)) or not all(isinstance(r, dict) for r in raw):
                    errors.append(FieldError(name, "type", f"the `{name}` rows are a list of dicts, got {_short(raw)}",
                                             raw))
                    continue
                children[name] = raw
                allowed = self.child_field_specs[name]
                ckey = self.child_keys.get(name)
                for i, row in enumerate(raw):
                    for field in row:
                        if field not in allowed and field != ckey and field != self.key:
                            hint = _hint(str(field), list(allowed))
                            errors.append(FieldError(f"{name}[{i}].{field}", "unknown_field",
                                                     f"`{name}` has no input `{field}`; {hint}", row[field]))
                continue
            hint = _hint(str(name), list(specs) + list(self.child_field_specs))
            errors.append(FieldError(str(name), "unknown_field", f"`{self.checked.id}` has no input `{name}`; {hint}",
                                     raw))
        return children

    def canonical(self, data: dict, children: dict, as_of, invalid: str, errors: list):
        """(root inputs, child rows) of this ruleset in canonical values, and those of each import."""
        root = {}
        for s in self.inputs:
            raw = data.get(s.name)
            if raw is None and s.name == "as_of" and as_of is not None:
                raw = as_of
            root[s.name] = s.read(raw, s.name, invalid, errors)
        kids = {}
        for e, specs in self.child_inputs.items():
            rows = []
            for i, row in enumerate(children.get(e, ())):
                rows.append({s.name: s.read(row.get(s.name), f"{e}[{i}].{s.name}", invalid, errors) for s in specs})
            kids[e] = rows
        subs = [(alias, sub, sub.canonical(data, children, as_of, invalid, errors)) for alias, sub in self.imports]
        return root, kids, subs

    def run(self, canon) -> dict:
        """The root env of the scalar interpreter: values, verdict codes, label indexes (imports as alias.name)."""
        root, kids, subs = canon
        for alias, sub, sub_canon in subs:
            inner = sub.run(sub_canon)
            for k, v in inner.items():
                root[f"{alias}.{k}"] = v
        st = _State(root, kids)
        for name, fn, owner in self.steps:
            if owner is None:
                root[name] = fn(root, st)
            else:
                for env in kids.get(owner, ()):
                    env[name] = fn(env, st)
        return root

    def converters(self) -> tuple:
        """(field, output name, function from the canonical value to the display value) per output."""
        if self._converters is None:
            self._converters = tuple((field, name, _converter(conv, extra)) for name, field, conv, extra, _ in self.outputs())
        return self._converters

    def convert_outputs(self, env: dict) -> dict:
        return {field: fn(env.get(name)) for field, name, fn in self.converters()}

    def evaluate(self, data, as_of, invalid: str):
        if not isinstance(data, dict):
            if hasattr(data, "to_dict") and not hasattr(data, "columns"):      # a pandas Series: one row
                data = data.to_dict()
            else:
                raise TypeError(f"evaluate_one takes a dict of input values, not a {type(data).__name__}")
        if invalid not in ("error", "unknown"):
            raise ValueError("invalid must be 'error' or 'unknown'")
        errors: list[FieldError] = []
        children = self.check_fields(data, errors)
        canon = self.canonical(data, children, _as_of_value(as_of), invalid, errors)
        if errors:
            raise InputError(errors)
        env = self.run(canon)
        return _construct(self.output_model(), self.convert_outputs(env))


def _converter(conv, extra):
    if conv == _VERDICT:
        return T.VERDICT_NAMES.__getitem__
    if conv == _NUM:
        return lambda v: None if v is None else _significant(v / extra)
    if conv in (_LABEL, _TEXT):
        return lambda v: None if v is None else extra[int(v)]
    if conv == _BOOL:
        return lambda v: None if v is None else bool(v)
    if conv == _DAYK:
        return lambda v: None if v is None else _dt.date.fromordinal(int(v) + _EPOCH_ORDINAL)

    def month(v):
        if v is None:
            return None
        y, m = divmod(int(v), 12)
        return f"{y}-{m + 1:02d}"
    return month


def _construct(model, values: dict):
    """An instance of ``model`` from values already of the fields' types (what ``model_construct``
    does, without its per-field Python loop)."""
    m = model.__new__(model)
    _set = object.__setattr__
    _set(m, "__dict__", values)
    _set(m, "__pydantic_fields_set__", model.__normrules_field_set__)
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def _hint(name: str, names: list[str]) -> str:
    hint = did_you_mean(name, names)
    if hint:
        return hint
    shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
    return f"(inputs: {shown})"


def _as_of_value(as_of):
    if as_of is None or isinstance(as_of, (str, _dt.date)):
        return as_of
    return str(as_of)


_PREPARED: dict[int, tuple] = {}


def prepare(ruleset) -> _Prepared:
    """The per-ruleset state of :func:`evaluate_one` (built on first use, kept while the ruleset lives)."""
    hit = _PREPARED.get(id(ruleset))
    if hit is not None and hit[0]() is ruleset:
        return hit[1]
    prep = _Prepared(ruleset)
    key = id(ruleset)
    _PREPARED[key] = (weakref.ref(ruleset, lambda _r, key=key, cache=_PREPARED: cache.pop(key, None)), prep)
    return prep


# =========================================================================== pydantic models


def _class_name(ruleset_id: str, suffix: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[\W_]+", ruleset_id) if p) + suffix


_OUTPUT_BASE = None
_MODELS: dict[tuple, type] = {}


def _output_base():
    global _OUTPUT_BASE
    if _OUTPUT_BASE is None:
        from pydantic import BaseModel, ConfigDict

        class Outputs(BaseModel):
            """The outputs of one entity. Fields are named like the outputs with `.` → `_`
            (``core_intensity``); ``out["core.intensity"]`` reads by the ruleset's own name and
            ``model_dump(by_alias=True)`` writes those names."""

            model_config = ConfigDict(frozen=True, populate_by_name=True)

            def __getitem__(self, name: str):
                field = type(self).__normrules_fields__.get(name)
                if field is None:
                    if name in type(self).model_fields:
                        return getattr(self, name)
                    raise KeyError(name)
                return getattr(self, field)

            def to_dict(self) -> dict:
                """``{output name: value}`` (verdicts and labels as strings, numbers in display units)."""
                return self.model_dump(by_alias=True)

        _OUTPUT_BASE = Outputs
    return _OUTPUT_BASE


def _num_extra(unit) -> dict:
    return {"x-unit": unit.text, "x-dimension": unit.dimension_text()}


def _label_text(label) -> str | None:
    if label is None:
        return None
    return label.zh + (f" / {label.en}" if label.en else "")


def _make_output_model(prep: _Prepared):
    from typing import Literal, Optional

    from pydantic import Field, create_model

    fields = {}
    for name, field, conv, extra, item in prep.outputs():
        desc = _label_text(getattr(item, "label", None))
        if conv == _VERDICT:
            ann = Literal[T.VERDICT_NAMES]
            info = Field(..., alias=name, description=desc,
                         json_schema_extra={"x-kind": "rule", "x-clause": item.clause, "x-severity": item.severity})
        elif conv == _LABEL:
            ann = Optional[Literal[tuple(extra)]]
            info = Field(..., alias=name, description=desc, json_schema_extra={"x-kind": "result"})
        elif conv == _NUM:
            ann = Optional[float]
            info = Field(..., alias=name, description=desc,
                         json_schema_extra={"x-kind": "value", **_num_extra(item.type.unit)})
        elif conv == _BOOL:
            ann = Optional[bool]
            info = Field(..., alias=name, description=desc, json_schema_extra={"x-kind": "value"})
        elif conv == _TEXT:
            ann = Optional[Literal[tuple(extra)]]
            info = Field(..., alias=name, description=desc, json_schema_extra={"x-kind": "value"})
        elif conv == _DAYK:
            ann = Optional[_dt.date]
            info = Field(..., alias=name, description=desc, json_schema_extra={"x-kind": "value"})
        else:
            ann = Optional[str]
            info = Field(..., alias=name, description=desc, pattern=r"^\d{4}-\d{2}$",
                         json_schema_extra={"x-kind": "value"})
        fields[field] = (ann, info)
    c = prep.checked
    model = create_model(_class_name(c.id, "Outputs"), __base__=_output_base(), __module__=__name__, **fields)
    model.__doc__ = f"Outputs of {c.ref} for one `{c.entity}` (None = unknown)."
    model.__normrules_fields__ = {name: field for name, field, *_ in prep.outputs()}
    model.__normrules_field_set__ = frozenset(model.model_fields)
    return model


def _input_field(spec: _InputSpec, label):
    from typing import Literal, Optional

    from pydantic import Field

    desc = _label_text(label)
    if spec.kind == "number":
        kw = {}
        f = spec.factor
        if spec.low is not None:
            kw["ge" if spec.low_inc else "gt"] = float(f"{spec.low / f:.12g}")
        if spec.high is not None:
            kw["le" if spec.high_inc else "lt"] = float(f"{spec.high / f:.12g}")
        unit = "" if spec.unit.text == "1" else f" (in {spec.unit.text})"
        return Optional[float], Field(None, description=(desc or spec.name) + unit,
                                      json_schema_extra=_num_extra(spec.unit), **kw)
    if spec.kind == "boolean":
        return Optional[bool], Field(None, description=desc)
    if spec.kind == "text":
        return Optional[Literal[tuple(spec.categories)]], Field(None, description=desc)
    if spec.kind == "date_day":
        return Optional[_dt.date], Field(None, description=desc)
    return Optional[str], Field(None, description=desc, pattern=r"^\d{4}-\d{2}$")


def _labels_of(prep: _Prepared) -> dict:
    out = {}

    def walk(p):
        for i in p.checked.inputs:
            out.setdefault(i.name, i.label)
        for _, sub in p.imports:
            walk(sub)

    walk(prep)
    return out


def _make_input_model(prep: _Prepared):
    from typing import Optional

    from pydantic import BaseModel, ConfigDict, Field, create_model

    labels = _labels_of(prep)
    c = prep.checked
    config = ConfigDict(extra="forbid")
    fields = {prep.key: (Optional[str], Field(None, description=f"The {c.entity}'s key (not evaluated; names the entity in explanations)."))}
    for name, spec in prep.field_specs.items():
        fields[name] = _input_field(spec, labels.get(name))
    for entity, specs in prep.child_field_specs.items():
        child_fields = {}
        ckey = prep.child_keys.get(entity)
        if ckey:
            child_fields[ckey] = (Optional[str], Field(None, description=f"The {entity} row's key."))
        for name, spec in specs.items():
            child_fields[name] = _input_field(spec, labels.get(name))
        child = create_model(_class_name(f"{c.id}.{entity}", "Row"), __config__=config, __module__=__name__,
                             **child_fields)
        fields[entity] = (list[child], Field(default_factory=list, description=f"The `{entity}` rows of this {c.entity}."))
    model = create_model(_class_name(c.id, "Inputs"), __config__=config, __module__=__name__, **fields)
    model.__doc__ = f"Inputs of {c.ref} for one `{c.entity}`: numbers in their declared unit; null = unknown."
    return model


# =========================================================================== the API


def evaluate_one(ruleset, data: dict, as_of=None, *, invalid: str = "error"):
    """Evaluate one entity; return a pydantic model of its outputs.

    ``data`` maps input names to values (see the module docstring); child entity rows go under
    the child entity's name as a list of dicts. ``as_of`` (a date or ``YYYY-MM-DD``) fills an
    ``as_of`` input not given. The model has one field per value, rule and result of the root
    entity (and each imported value the ruleset reads, ``alias.name``): numbers in their display
    unit (rounded to 12 significant digits, as in ``Evaluation.to_arrow``), verdicts as
    ``"pass"``/``"fail"``/``"not_applicable"``/``"unknown"``, result labels as strings, ``None``
    for unknown. Read ``out["core.intensity"]`` or ``out.core_intensity``; ``out.to_dict()``.

    Raises :class:`InputError` (a :class:`~normrules.errors.DataError`) listing every bad field.
    """
    return prepare(ruleset).evaluate(data, as_of, invalid)


def output_model(ruleset):
    """The pydantic model class :func:`evaluate_one` returns for ``ruleset``."""
    return prepare(ruleset).output_model()


def input_model(ruleset):
    """A pydantic model class of the inputs :func:`evaluate_one` takes (used for :func:`schema`)."""
    return prepare(ruleset).input_model()


def schema(ruleset) -> dict:
    """A JSON Schema (draft 2020-12) of one entity's inputs and outputs.

    ``properties.inputs`` is what :func:`evaluate_one` accepts (numbers in the unit given as
    ``x-unit``, the declared ranges as minimum/maximum, categories as enums, child rows as arrays);
    ``properties.outputs`` is what it returns (``model_dump(mode="json", by_alias=True)``).
    """
    from pydantic.json_schema import models_json_schema

    prep = prepare(ruleset)
    c = prep.checked
    (refs, defs) = models_json_schema([(prep.input_model(), "validation"), (prep.output_model(), "serialization")],
                                      ref_template="#/$defs/{model}")
    inputs_ref = refs[(prep.input_model(), "validation")]
    outputs_ref = refs[(prep.output_model(), "serialization")]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{c.ref} — one {c.entity}",
        "description": f"Inputs and outputs of one `{c.entity}` of {c.ref} "
                       f"({c.meta_value('document', '')}), sha256 {c.content_hash}.",
        "type": "object",
        "properties": {"inputs": inputs_ref, "outputs": outputs_ref},
        "required": ["inputs", "outputs"],
        "x-normrules": {"ruleset": c.id, "version": c.version, "content_hash": c.content_hash, "entity": c.entity,
                        "key": prep.key},
        **defs,
    }


# --------------------------------------------------------------------------- explain


def _is_row(data, prep: _Prepared) -> bool:
    if not isinstance(data, dict):
        return hasattr(data, "to_dict") and not hasattr(data, "columns") and not hasattr(data, "num_rows")
    for name, value in data.items():
        if name in prep.child_field_specs:
            if isinstance(value, (list, tuple)) and all(isinstance(r, dict) for r in value):
                continue
            return False
        if isinstance(value, (list, tuple, np.ndarray)) or hasattr(value, "__array__") and not np.isscalar(value):
            return False
    return True


def _column(typ, values: list):
    from .execute import Col

    if isinstance(typ, T.BoolT):
        data = np.array([bool(v) for v in values], dtype=bool)
    elif isinstance(typ, T.TextT):
        data = np.array([v if v is not None else 0 for v in values], dtype=np.int32)
    else:
        data = np.array([v if v is not None else np.nan for v in values], dtype=float)
    return Col(data, np.array([v is not None for v in values], dtype=bool))


def _executor_columns(prep: _Prepared, canon) -> tuple[dict, object]:
    """The vectorized executor over one entity (and its child rows) from canonical values."""
    from .execute import Entities, execute

    root, kids, subs = canon
    imported = {}
    for alias, sub, sub_canon in subs:
        inner, _ = _executor_columns(sub, sub_canon)
        imported.update({f"{alias}.{k}": v for k, v in inner.items()})
    c = prep.checked
    types = {i.name: i.type for i in c.inputs}
    cols = {name: _column(types[name], [v]) for name, v in root.items()}
    for entity, rows in kids.items():
        for s in prep.child_inputs[entity]:
            cols[s.name] = _column(types[s.name], [r.get(s.name) for r in rows])
    sizes = {c.entity: 1, **{e: len(rows) for e, rows in kids.items()}}
    for e in c.entities:
        sizes.setdefault(e.name, 0)
    entities = Entities(c.entity, sizes, {e: np.zeros(n, dtype=np.int64) for e, n in sizes.items() if e != c.entity},
                        {e.name: e.parent for e in c.entities if e.parent is not None})
    return execute(prep.ruleset.plan, cols, entities, imported)


def evaluate_row(ruleset, data: dict, as_of=None, *, invalid: str = "error"):
    """One entity through the vectorized executor: an :class:`~normrules.api.Evaluation` of one row.

    Takes what :func:`evaluate_one` takes (and validates it the same way); the entity's key is
    ``data[key]`` if given, else ``"1"``.
    """
    from .api import Evaluation

    prep = prepare(ruleset)
    if not isinstance(data, dict):
        data = data.to_dict()
    errors: list[FieldError] = []
    children = prep.check_fields(data, errors)
    canon = prep.canonical(data, children, _as_of_value(as_of), invalid, errors)
    if errors:
        raise InputError(errors)
    env, counters = _executor_columns(prep, canon)
    key = data.get(prep.key)
    keys = np.array(["1" if key is None else str(key)], dtype=object)
    c = prep.checked
    keys_by = {c.entity: keys}
    for e in prep.children_of_root:
        rows = children.get(e, ())
        ck = prep.child_keys.get(e)
        keys_by[e] = np.array([str(r.get(ck, i + 1)) for i, r in enumerate(rows)], dtype=object)
    return Evaluation(ruleset, ruleset.plan, env, 1, keys, counters, (), {}, keys_by)


def explain(ruleset, data, key=None, *, children: dict | None = None, as_of=None, invalid: str = "error") -> str:
    """The explanation of one entity (as ``normrules explain`` prints it).

    ``data`` is one entity as a dict (as for :func:`evaluate_one`; ``key`` then defaults to its key
    field, else ``"1"``) or a table of entities (pandas DataFrame, pyarrow Table, dict of
    arrays; ``children`` as for :meth:`~normrules.api.Ruleset.evaluate`) with ``key`` naming the
    row (default: the only row).
    """
    from .errors import NormrulesError

    prep = prepare(ruleset)
    if _is_row(data, prep):
        ev = evaluate_row(ruleset, data, as_of, invalid=invalid)
        return _explain_module.explain(ev, str(ev.keys[0]) if key is None else str(key))
    ev = ruleset.evaluate(data, children=children, as_of=as_of, invalid=invalid)
    if key is None:
        if ev.n != 1:
            raise NormrulesError(f"the table has {ev.n} entities: name one with key=…")
        key = ev.keys[0]
    return _explain_module.explain(ev, str(key))


# --------------------------------------------------------------------------- the command


def __getattr__(name: str):
    if name == "schema_command":          # built on first use: `import normrules` does not need click
        cmd = _make_schema_command()
        globals()["schema_command"] = cmd
        return cmd
    raise AttributeError(name)


def _make_schema_command():
    import json

    import click

    @click.command(name="schema")
    @click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
    @click.option("--as-of", "as_of", metavar="DATE",
                  help="Reporting date (YYYY-MM-DD) that picks, for imports without a version, the revision in "
                       "force on that date. Default: today.")
    @click.option("--rulesets", "roots", multiple=True, type=click.Path(file_okay=False),
                  help="More folders to find imported rulesets in (besides the shipped rulesets/ and $NORMRULES_PATH).")
    def schema_command(ruleset, as_of, roots):
        """Print the JSON Schema (draft 2020-12) of one entity's inputs and outputs, as the
        embedding API (normrules.evaluate_one) takes and returns them: input types, units
        (x-unit), declared ranges and categories; every value, verdict and result. RULESET is a
        .nr file or compiled IR (.json).

        \b
        Example:
          normrules schema rulesets/gb/zero_carbon_park.nr > park.schema.json
        """
        from .cli import _fail, _load_or_exit
        from .errors import NormrulesError

        if str(ruleset).lower().endswith(".json"):
            from .ir import load_ir

            try:
                rs = load_ir(ruleset)
            except NormrulesError as exc:
                _fail(str(exc))
        else:
            rs = _load_or_exit(ruleset, roots, as_of)
        click.echo(json.dumps(schema(rs), ensure_ascii=False, indent=2))

    return schema_command


__all__ = ["evaluate_one", "evaluate_row", "explain", "schema", "output_model", "input_model", "prepare",
           "InputError", "FieldError"]
