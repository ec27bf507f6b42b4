"""Phase 3: type and unit check, producing a :class:`CheckedRuleset`.

Every expression is typed; numbers carry units resolved with pint at compile time, and constants
are converted to canonical (pint base) units here, so the executor only sees plain floats.
All problems are collected; a node whose type could not be found gets :class:`ErrorT`, which
silences follow-on errors.
"""

from __future__ import annotations

import datetime as _dt
import hashlib

from . import ast
from . import types as T
from .errors import Diagnostic, Note, Span, did_you_mean
from .check_collections import AGGREGATES, CollectionsChecker, CTable
from .checked import CExample, CheckedRuleset, CInput, CParam, CResult, CRule, CValue  # noqa: F401 (re-exported)
from .resolve import Resolved
from .units import Unit, UnitSyntaxError, combine, dimensionless, parse_unit, registry

FUNCTIONS = ("all", "any", "min", "max", "abs", "year", "convert") + tuple(a for a in AGGREGATES if a not in ("all", "any", "min", "max"))
_PROJECT_UNITS = ("tce", "CO2", "CO2e", "percent", "yr", "kt")  # suggested first for a misspelt unit
_EPOCH = _dt.date(1970, 1, 1)


def date_ordinal(text: str) -> int:
    """Days since 1970-01-01 for ``YYYY-MM-DD``; months since year 0 for ``YYYY-MM``."""
    if len(text) == 7:
        y, m = int(text[:4]), int(text[5:7])
        if not 1 <= m <= 12:
            raise ValueError(f"no month {m}")
        return y * 12 + m - 1
    return (_dt.date.fromisoformat(text) - _EPOCH).days


# ------------------------------------------------------------------ the checker


class _Checker(CollectionsChecker):
    def __init__(self, resolved: Resolved):
        self.r = resolved
        self.diags: list[Diagnostic] = []
        self.types: dict[str, T.Type] = {}
        self.value_exprs: dict[str, T.TExpr] = {}
        self.inputs: dict[str, CInput] = {}
        self.tables: dict[str, CTable] = {}
        self.rule_entities: dict[str, str] = {}
        self.ctx: str = resolved.entity.name if resolved.entity is not None else ""

    def error(self, code: str, message: str, span: Span, help: str | None = None, notes=()) -> T.ErrorT:
        self.diags.append(Diagnostic(code, message, span, help, tuple(notes)))
        return T.ErrorT()

    def warn(self, code: str, message: str, span: Span, help: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, span, help, severity="warning"))

    # -------------------------------------------------------------- units
    def unit(self, text: str, span: Span) -> Unit | None:
        try:
            return parse_unit(text)
        except UnitSyntaxError as exc:
            bad = str(exc).split("`")[1] if "`" in str(exc) else text
            names = list(registry()._units.keys()) + list(_PROJECT_UNITS)
            hint = did_you_mean(bad, _PROJECT_UNITS) or did_you_mean(bad, names)
            for i in range(1, len(bad)):  # `tCO2` is `t CO2` written without the space
                if _known_unit(bad[:i]) and _known_unit(bad[i:]):
                    hint = f"did you mean `{bad[:i]} {bad[i:]}`? the factors of a unit are separated by a space"
                    break
            self.error("E301", str(exc), span, help=hint or "units are pint units plus tce, CO2, CO2e, 万 and %")
            return None

    def type_of_spec(self, spec: ast.TypeSpec) -> T.Type:
        if spec.kind == "unit":
            u = self.unit(spec.unit, spec.span)
            return T.NumT(u) if u else T.ErrorT()
        if spec.kind == "number":
            return T.NumT(dimensionless())
        if spec.kind == "boolean":
            return T.BoolT()
        if spec.kind == "text":
            if len(set(spec.categories)) != len(spec.categories):
                dup = next(c for c in spec.categories if spec.categories.count(c) > 1)
                self.error("E302", f'category "{dup}" is listed twice', spec.span)
            return T.TextT(tuple(dict.fromkeys(spec.categories)))
        if spec.kind == "date":
            if spec.precision not in ("day", "month"):
                return self.error("E303", f"unknown date precision `{spec.precision}`", spec.span,
                                  help="write `date` (day precision) or `date(month)`")
            return T.DateT(spec.precision)
        raise AssertionError(spec.kind)

    # -------------------------------------------------------------- expressions
    def expr(self, e, want_bool: bool = False) -> T.TExpr:
        method = getattr(self, f"x_{type(e).__name__}")
        return method(e)

    def x_Number(self, e: ast.Number) -> T.TExpr:
        if e.unit is None:
            return T.Const(T.NumT(dimensionless()), e.value, e.span, e.text)
        u = self.unit(e.unit, e.span)
        if u is None:
            return T.Const(T.ErrorT(), 0.0, e.span, e.text)
        return T.Const(T.NumT(u), e.value * u.factor, e.span, f"{e.text} {e.unit}")

    def x_String(self, e: ast.String) -> T.TExpr:
        # A bare string is typed where it meets a text value (comparison, in-set); alone it is a label.
        return T.Const(T.TextT((e.value,)), e.value, e.span, f'"{e.value}"')

    def x_DateLit(self, e: ast.DateLit) -> T.TExpr:
        try:
            return T.Const(T.DateT(e.precision), float(date_ordinal(e.text)), e.span, e.text)
        except ValueError:
            return T.Const(self.error("E304", f"`{e.text}` is not a valid date", e.span), 0.0, e.span)

    def x_Bool(self, e: ast.Bool) -> T.TExpr:
        return T.Const(T.BoolT(), e.value, e.span, "true" if e.value else "false")

    def x_Ref(self, e: ast.Ref) -> T.TExpr:
        sym = self.r.lookup(e)
        if sym is None:
            return T.Load(T.ErrorT(), e.name, "input", e.span)
        if sym.kind == "entity":
            return T.Load(self.error("E348", f"`{e.name}` is an entity; use it inside count({e.name})", e.span),
                          e.name, "input", e.span)
        typ = self.imported_type(sym) if sym.imported else self.types.get(sym.name, T.ErrorT())
        load = T.Load(typ, sym.name, sym.kind, e.span)
        entity = self.rule_entities.get(sym.name, sym.entity) if sym.kind == "rule" else sym.entity
        if entity is None or entity == self.ctx or not self.ctx:
            return load
        ctx_parent = self.r.entities[self.ctx].parent if self.ctx in self.r.entities else None
        if entity == ctx_parent:
            return T.Up(typ, load, self.ctx, e.span)
        owner = self.r.entities.get(entity)
        if owner is not None and owner.parent == self.ctx:
            return T.Load(self.error("E349", f"`{sym.name}` is a value of each `{entity}` row; aggregate it here",
                                     e.span, help=f"e.g. sum({sym.name}), max({sym.name}) or count({entity})"),
                          sym.name, sym.kind, e.span)
        return T.Load(self.error("E349", f"`{sym.name}` belongs to `{entity}`, not to `{self.ctx}`", e.span),
                      sym.name, sym.kind, e.span)

    def imported_type(self, sym) -> T.Type:
        item = sym.decl
        if hasattr(item, "require"):
            return T.VerdictT()
        if hasattr(item, "branches"):
            return T.LabelT(item.labels)
        return item.type

    def x_Where(self, e: ast.Where) -> T.TExpr:
        return T.Load(self.error("E350", "`where` filters the rows of an aggregate, e.g. sum(x where y > 0)", e.span),
                      "", "input", e.span)

    def x_Glob(self, e: ast.Glob) -> T.TExpr:
        return T.Load(self.error("E320", "a rule pattern like `core.*` is only allowed inside all(…) or any(…)", e.span),
                      e.prefix, "rule", e.span)

    def x_Unary(self, e: ast.Unary) -> T.TExpr:
        x = self.expr(e.operand)
        if not isinstance(x.type, (T.NumT, T.ErrorT)):
            return T.Neg(self.error("E305", f"cannot negate a {x.type}", e.span), x, e.span)
        return T.Neg(x.type, x, e.span)

    def x_Binary(self, e: ast.Binary) -> T.TExpr:
        a, b = self.expr(e.left), self.expr(e.right)
        if isinstance(a.type, T.ErrorT) or isinstance(b.type, T.ErrorT):
            return T.Arith(T.ErrorT(), e.op, a, b, e.span)
        for side in (a, b):
            if not isinstance(side.type, T.NumT):
                return T.Arith(self.error("E306", f"arithmetic `{e.op}` needs numbers, but this is a {side.type}",
                                          side.span), e.op, a, b, e.span)
        ua, ub = a.type.unit, b.type.unit
        if e.op in "+-":
            if ua.dimensionality != ub.dimensionality:
                verb = "add" if e.op == "+" else "subtract"
                return T.Arith(self.error("E307", f"cannot {verb} {ua.text} and {ub.text}", e.span,
                                          help="both sides of + and - need the same dimension"), e.op, a, b, e.span)
            return T.Arith(a.type, e.op, a, b, e.span)
        return T.Arith(T.NumT(combine(e.op, ua, ub)), e.op, a, b, e.span)

    def _as_bool(self, x: T.TExpr, what: str) -> T.TExpr:
        if isinstance(x.type, (T.BoolT, T.VerdictT, T.ErrorT)):
            return x
        return T.Const(self.error("E308", f"{what} must be a condition (true/false), but this is a {x.type}", x.span,
                                  help="compare it with a limit, e.g. `x >= 90 percent`"), False, x.span)

    def _plain_vs_percent(self, a: T.TExpr, b: T.TExpr, span: Span) -> bool:
        for x, y in ((a, b), (b, a)):
            if (isinstance(x, T.Const) and isinstance(x.type, T.NumT) and x.type.unit.text == "1"
                    and isinstance(y.type, T.NumT) and y.type.unit.text in ("percent", "%") and abs(x.value) > 1):
                self.error("E309", f"comparing a percentage with the plain number {x.text}", x.span,
                           help=f"write `{x.text} percent` (or the fraction {x.value / 100:g})")
                return True
        return False

    def _unify_text(self, a: T.TExpr, b: T.TExpr) -> tuple[T.TExpr, T.TExpr] | None:
        """Turn string constants compared with a text value into category codes."""
        out = []
        for x, other in ((a, b), (b, a)):
            if isinstance(x, T.Const) and isinstance(x.type, T.TextT) and isinstance(other.type, T.TextT) \
                    and not isinstance(other, T.Const):
                cats = other.type.categories
                if x.value not in cats:
                    hint = did_you_mean(str(x.value), cats)
                    self.error("E310", f'"{x.value}" is not a declared category', x.span,
                               help=(hint + " " if hint else "") + "categories: " + ", ".join(f'"{c}"' for c in cats))
                    return None
                x = T.Const(other.type, cats.index(x.value), x.span, x.text)
            out.append(x)
        return out[0], out[1]

    def x_Compare(self, e: ast.Compare) -> T.TExpr:
        a, b = self.expr(e.left), self.expr(e.right)
        bt = T.BoolT()
        if isinstance(a.type, T.ErrorT) or isinstance(b.type, T.ErrorT):
            return T.Cmp(T.ErrorT(), e.op, a, b, e.span)
        if isinstance(a.type, T.NumT) and isinstance(b.type, T.NumT):
            if a.type.unit.dimensionality != b.type.unit.dimensionality:
                plain = next((x for x in (b, a) if isinstance(x, T.Const) and x.type.unit.text == "1"), None)
                if plain is not None:
                    other = a if plain is b else b
                    return T.Cmp(self.error("E311", f"cannot compare {other.type.unit.text} with the plain number {plain.text}",
                                            e.span, help=f"give the limit its unit, e.g. `{plain.text} {other.type.unit.text}`"),
                                 e.op, a, b, e.span)
                return T.Cmp(self.error("E311", f"cannot compare {a.type.unit.text} with {b.type.unit.text}", e.span,
                                        help=f"`{a.type.unit.text}` is {a.type.unit.dimension_text()}; "
                                        f"`{b.type.unit.text}` is {b.type.unit.dimension_text()}"), e.op, a, b, e.span)
            if self._plain_vs_percent(a, b, e.span):
                return T.Cmp(T.ErrorT(), e.op, a, b, e.span)
            return T.Cmp(bt, e.op, a, b, e.span)
        if isinstance(a.type, T.TextT) and isinstance(b.type, T.TextT):
            if e.op not in ("==", "!="):
                return T.Cmp(self.error("E312", f"text can only be compared with == or !=, not `{e.op}`", e.span), e.op, a, b, e.span)
            unified = self._unify_text(a, b)
            if unified is None:
                return T.Cmp(T.ErrorT(), e.op, a, b, e.span)
            a, b = unified
            if isinstance(a, T.Const) and isinstance(b, T.Const):
                return T.Cmp(self.error("E313", "comparing two text constants", e.span), e.op, a, b, e.span)
            if a.type != b.type:
                return T.Cmp(self.error("E314", f"cannot compare {a.type} with {b.type}", e.span), e.op, a, b, e.span)
            return T.Cmp(bt, e.op, a, b, e.span)
        if isinstance(a.type, T.DateT) and isinstance(b.type, T.DateT):
            if a.type.precision != b.type.precision:
                return T.Cmp(self.error("E315", f"cannot compare a {a.type} with a {b.type}", e.span,
                                        help="compare a month-precision date with a month like 2025-07"), e.op, a, b, e.span)
            return T.Cmp(bt, e.op, a, b, e.span)
        if isinstance(a.type, T.BoolT) and isinstance(b.type, T.BoolT) and e.op in ("==", "!="):
            return T.Cmp(bt, e.op, a, b, e.span)
        if isinstance(a.type, T.LabelT) and isinstance(b, T.Const) and isinstance(b.type, T.TextT) and e.op in ("==", "!="):
            if b.value not in a.type.labels:
                hint = did_you_mean(str(b.value), a.type.labels)
                return T.Cmp(self.error("E310", f'"{b.value}" is not a label of result `{getattr(a, "name", "")}`', b.span,
                                        help=hint), e.op, a, b, e.span)
            return T.Cmp(bt, e.op, a, T.Const(a.type, a.type.labels.index(b.value), b.span, b.text), e.span)
        return T.Cmp(self.error("E311", f"cannot compare {a.type} with {b.type}", e.span), e.op, a, b, e.span)

    def x_Logic(self, e: ast.Logic) -> T.TExpr:
        a = self._as_bool(self.expr(e.left), f"each side of `{e.op}`")
        b = self._as_bool(self.expr(e.right), f"each side of `{e.op}`")
        return T.BoolOp(T.BoolT(), e.op, a, b, e.span)

    def x_Not(self, e: ast.Not) -> T.TExpr:
        return T.NotOp(T.BoolT(), self._as_bool(self.expr(e.operand), "the operand of `not`"), e.span)

    def x_IsState(self, e: ast.IsState) -> T.TExpr:
        x = self.expr(e.operand)
        states = ("pass", "fail", "not_applicable", "unknown") if isinstance(x.type, T.VerdictT) else ("unknown", "known")
        if e.state not in states and not isinstance(x.type, T.ErrorT):
            hint = did_you_mean(e.state, states)
            return T.IsState(self.error("E316", f"`is {e.state}` does not apply to a {x.type}", e.state_span,
                                        help=(hint + " " if hint else "") + "allowed: " + ", ".join(states)),
                             x, e.state, e.span)
        return T.IsState(T.BoolT(), x, e.state, e.span)

    def x_InSet(self, e: ast.InSet) -> T.TExpr:
        x = self.expr(e.operand)
        if isinstance(x.type, T.ErrorT):
            return T.InSet(T.ErrorT(), x, (), e.span)
        if not isinstance(x.type, T.TextT):
            return T.InSet(self.error("E317", f"`in {{…}}` needs a text value, but this is a {x.type}", e.span), x, (), e.span)
        codes = []
        for opt in e.options:
            if not isinstance(opt, ast.String):
                self.error("E317", "the options of `in {…}` are quoted categories", opt.span)
                continue
            if opt.value not in x.type.categories:
                hint = did_you_mean(opt.value, x.type.categories)
                self.error("E310", f'"{opt.value}" is not a declared category', opt.span,
                           help=(hint + " " if hint else "") + "categories: " + ", ".join(f'"{c}"' for c in x.type.categories))
                continue
            codes.append(x.type.categories.index(opt.value))
        return T.InSet(T.BoolT(), x, tuple(codes), e.span)

    def _join(self, branches: list[T.TExpr], span: Span) -> T.Type:
        types = [b.type for b in branches]
        if any(isinstance(t, T.ErrorT) for t in types):
            return T.ErrorT()
        first = types[0]
        for t, b in zip(types[1:], branches[1:]):
            if isinstance(first, T.NumT) and isinstance(t, T.NumT):
                if first.unit.dimensionality != t.unit.dimensionality:
                    return self.error("E318", f"the branches give different units: {first.unit.text} and {t.unit.text}", b.span)
            elif isinstance(first, T.BoolT) and isinstance(t, (T.BoolT, T.VerdictT)):
                continue
            elif type(first) is not type(t) or (isinstance(first, T.TextT) and not isinstance(b, T.Const) and t != first):
                return self.error("E318", f"the branches give different types: {first} and {t}", b.span)
        if isinstance(first, T.VerdictT):
            return T.BoolT()
        return first

    def x_If(self, e: ast.If) -> T.TExpr:
        c = self._as_bool(self.expr(e.cond), "the condition of `if`")
        a, b = self.expr(e.then), self.expr(e.else_)
        return T.IfElse(self._join([a, b], e.span), c, a, b, e.span)

    def x_Case(self, e: ast.Case) -> T.TExpr:
        whens = tuple((self._as_bool(self.expr(c), "a `when` condition"), self.expr(v)) for c, v in e.whens)
        other = self.expr(e.else_)
        return T.CaseWhen(self._join([v for _, v in whens] + [other], e.span), whens, other, e.span)

    def _is_verdict_set(self, e: ast.Call) -> bool:
        if e.func not in ("all", "any") or not e.args:
            return False
        for a in e.args:
            if isinstance(a, ast.Glob):
                continue
            sym = self.r.lookup(a) if isinstance(a, ast.Ref) else None
            if sym is None or sym.kind != "rule":
                return False
        return True

    def x_Call(self, e: ast.Call) -> T.TExpr:
        if e.func not in FUNCTIONS:
            hint = did_you_mean(e.func, FUNCTIONS)
            return T.Func(self.error("E319", f"unknown function `{e.func}`", e.func_span,
                                     help=hint or "functions: " + ", ".join(FUNCTIONS)), e.func, (), e.span)
        if e.func in AGGREGATES and not self._is_verdict_set(e) and not (
                e.func in ("min", "max") and len(e.args) > 1):
            has_children = any(ent.parent == self.ctx for ent in self.r.entities.values())
            if has_children or e.func not in ("all", "any", "min", "max"):
                return self.aggregate(e)
        if e.default is not None:
            self.error("E347", "`default` belongs to an aggregate over child rows", e.default.span)
        if e.func == "convert":
            return self.convert(e)
        if e.func == "year":
            if len(e.args) != 1:
                return T.Func(self.error("E322", "year() takes one date", e.span), e.func, (), e.span)
            d = self.expr(e.args[0])
            if not isinstance(d.type, (T.DateT, T.ErrorT)):
                return T.Func(self.error("E322", f"year() needs a date, but this is a {d.type}", d.span), e.func, (d,), e.span)
            return T.Func(T.NumT(dimensionless()) if isinstance(d.type, T.DateT) else T.ErrorT(), "year_" +
                          (d.type.precision if isinstance(d.type, T.DateT) else "day"), (d,), e.span)
        if e.func in ("all", "any"):
            rules: list[str] = []
            for arg in e.args:
                if isinstance(arg, ast.Glob):
                    rules.extend(self.r.globs.get(arg.prefix, ()))
                    continue
                sym = self.r.lookup(arg) if isinstance(arg, ast.Ref) else None
                if sym is None or sym.kind != "rule":
                    if isinstance(arg, ast.Ref) and sym is None:
                        continue  # already reported as an unknown name
                    self.error("E321", f"{e.func}(…) takes rule ids or patterns like `core.*`", arg.span)
                    continue
                rules.append(sym.name)
            if not e.args:
                return T.VerdictSet(self.error("E321", f"{e.func}() needs at least one rule", e.span), e.func, (), e.span)
            rules = list(dict.fromkeys(rules))
            foreign = [r for r in rules if self.rule_entities.get(r, self.ctx) != self.ctx]
            if foreign:
                other = self.rule_entities[foreign[0]]
                return T.VerdictSet(self.error(
                    "E354", f"`{foreign[0]}` is judged on each `{other}` row, not on `{self.ctx}`", e.span,
                    help=f"aggregate the rows: e.g. all({foreign[0]} is pass) or any({foreign[0]} is fail)"),
                    e.func, tuple(rules), e.span)
            return T.VerdictSet(T.VerdictT(), e.func, tuple(rules), e.span)
        args = tuple(self.expr(a) for a in e.args)
        want = 1 if e.func == "abs" else None
        if (want and len(args) != 1) or (not want and len(args) < 2):
            return T.Func(self.error("E322", f"{e.func}() takes {'one argument' if want else 'two or more arguments'}",
                                     e.span), e.func, args, e.span)
        if any(isinstance(a.type, T.ErrorT) for a in args):
            return T.Func(T.ErrorT(), e.func, args, e.span)
        for a in args:
            if not isinstance(a.type, T.NumT):
                return T.Func(self.error("E322", f"{e.func}() needs numbers, but this is a {a.type}", a.span), e.func, args, e.span)
            if a.type.unit.dimensionality != args[0].type.unit.dimensionality:
                return T.Func(self.error("E307", f"{e.func}() of {args[0].type.unit.text} and {a.type.unit.text}", a.span),
                              e.func, args, e.span)
        return T.Func(args[0].type, e.func, args, e.span)

    def encode_text(self, x: T.TExpr, target: T.TextT) -> T.TExpr:
        """Give a text value the categories of ``target``: quoted constants become its codes."""
        if isinstance(x, T.Const) and isinstance(x.value, str):
            if x.value not in target.categories:
                hint = did_you_mean(x.value, target.categories)
                self.error("E310", f'"{x.value}" is not a declared category', x.span,
                           help=(hint + " " if hint else "") + "categories: " + ", ".join(f'"{c}"' for c in target.categories))
                return x
            return T.Const(target, target.categories.index(x.value), x.span, x.text)
        if isinstance(x, T.IfElse):
            return T.IfElse(target, x.cond, self.encode_text(x.then, target), self.encode_text(x.else_, target), x.span)
        if isinstance(x, T.CaseWhen):
            whens = tuple((c, self.encode_text(v, target)) for c, v in x.whens)
            return T.CaseWhen(target, whens, self.encode_text(x.else_, target), x.span)
        if x.type != target:
            self.error("E318", f"a {x.type} cannot be a value of {target}", x.span)
        return x

    # -------------------------------------------------------------- judgement
    def rounding(self, judge: ast.Judge, require: T.TExpr, rule_id: str) -> T.TExpr:
        """Attach a GB/T 8170 rounded-value judgement to every numeric comparison of a requirement."""

        def rewrite(x: T.TExpr) -> T.TExpr:
            if isinstance(x, T.Cmp) and isinstance(x.left.type, T.NumT) and isinstance(x.right.type, T.NumT):
                r = explicit or self._limit_precision(x.right)
                if r is None:
                    self.error("E323", "cannot tell the limit's stated precision for rounded-value judgement", x.right.span,
                               help="write the limit as a number with a unit, or `judge rounded to 0.01 t CO2/tce`")
                    return x
                return T.Cmp(x.type, x.op, x.left, x.right, x.span, r)
            if isinstance(x, T.BoolOp):
                return T.BoolOp(x.type, x.op, rewrite(x.left), rewrite(x.right), x.span)
            if isinstance(x, T.NotOp):
                return T.NotOp(x.type, rewrite(x.operand), x.span)
            return x

        explicit = None
        if judge.precision is not None:
            p = judge.precision
            u = self.unit(p.unit, p.span) if p.unit else dimensionless()
            if u is None:
                return require
            explicit = T.Rounding(u.factor, _decimals(p.text), p.unit or "")
        return rewrite(require)

    def _limit_precision(self, limit: T.TExpr) -> T.Rounding | None:
        consts = []
        for node in T.texpr_walk(limit):
            if isinstance(node, T.Const) and isinstance(node.type, T.NumT):
                consts.append(node)
            elif isinstance(node, T.Load) and node.kind == "value" and node.name in self.value_exprs:
                consts.extend(n for n in T.texpr_walk(self.value_exprs[node.name])
                              if isinstance(n, T.Const) and isinstance(n.type, T.NumT)
                              and n.type.unit.dimensionality == limit.type.unit.dimensionality)
        consts = [c for c in consts if c.type.unit.dimensionality == limit.type.unit.dimensionality]
        if not consts:
            return None
        decimals = max(_decimals(c.text) for c in consts)
        unit = consts[0].type.unit
        return T.Rounding(unit.factor, decimals, unit.text)


def _text_types(x: T.TExpr) -> list[T.TextT]:
    """The text types a value can come from (constants and loads in the branches)."""
    if isinstance(x, T.IfElse):
        return _text_types(x.then) + _text_types(x.else_)
    if isinstance(x, T.CaseWhen):
        return [t for _, v in x.whens for t in _text_types(v)] + _text_types(x.else_)
    return [x.type] if isinstance(x.type, T.TextT) else []


def _known_unit(name: str) -> bool:
    try:
        parse_unit(name)
        return True
    except UnitSyntaxError:
        return False


def _decimals(text: str) -> int:
    """Decimal places a number is written to: ``0.20`` → 2, ``1.5e-1`` → 2, ``3e2`` → -2 (hundreds)."""
    number = text.split(" ")[0].replace("_", "").lower()
    mantissa, _, exponent = number.partition("e")
    places = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return places - int(exponent or 0)


def _declared_items(resolved: Resolved) -> list:
    """The module's items without second declarations of a name (reported as E204, not checked further)."""
    def first(d) -> bool:
        if not isinstance(d, (ast.InputDecl, ast.LetDecl, ast.RuleDecl, ast.ResultDecl)):
            return True
        sym = resolved.symbols.get(d.id if isinstance(d, ast.RuleDecl) else d.name)
        return sym is not None and sym.decl is d
    return [d for d in resolved.module.items if first(d)]


def _ordered_values(resolved: Resolved) -> list[ast.LetDecl]:
    """Let declarations so that each comes after the values it reads (cycles are left to the graph phase)."""
    lets = {d.name: d for d in _declared_items(resolved) if isinstance(d, ast.LetDecl)}
    order: list[ast.LetDecl] = []
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        if state.get(name) == 2 or state.get(name) == 1:
            return
        state[name] = 1
        for node in ast.walk(lets[name].expr):
            if isinstance(node, ast.Ref):
                sym = resolved.lookup(node)
                if sym is not None and sym.kind == "value" and sym.name in lets:
                    visit(sym.name)
        state[name] = 2
        order.append(lets[name])

    for name in lets:
        visit(name)
    return order


def check(resolved: Resolved) -> tuple[CheckedRuleset | None, tuple[Diagnostic, ...]]:
    """Type- and unit-check a resolved ruleset.

    Returns the checked ruleset (None when there are errors) and every diagnostic, errors and
    warnings, including those of name resolution.
    """
    ck = _Checker(resolved)
    ck.diags.extend(resolved.diagnostics)
    module = resolved.module
    items = _declared_items(resolved)

    root = resolved.entity.name if resolved.entity is not None else ""

    def entity_of(d) -> str:
        return d.entity if getattr(d, "entity", None) in resolved.entities else root

    for d in items:
        if isinstance(d, ast.TableDecl):
            table = ck.compile_table(d)
            if table is not None:
                ck.tables[d.name] = table

    # declared types first, so references anywhere see them
    for d in items:
        if isinstance(d, (ast.InputDecl, ast.ParamDecl)):
            ck.types[d.name] = ck.type_of_spec(d.type)
        elif isinstance(d, ast.RuleDecl):
            ck.types[d.id] = T.VerdictT()
        elif isinstance(d, ast.ResultDecl):
            labels = tuple(b.label for b in d.branches)
            ck.types[d.name] = T.LabelT(tuple(dict.fromkeys(labels)))
        elif isinstance(d, ast.LetDecl) and d.type is not None:
            ck.types[d.name] = ck.type_of_spec(d.type)

    inputs = []
    for d in items:
        if isinstance(d, ast.InputDecl):
            inputs.append(_check_input(ck, d, entity_of(d)))

    params = []
    for d in items:
        if isinstance(d, ast.ParamDecl):
            params.append(_check_param(ck, d))

    values = {}
    for d in _ordered_values(resolved):
        ck.ctx = entity_of(d)
        x = ck.expr(d.expr)
        declared = ck.types.get(d.name)
        if declared is not None and not isinstance(declared, T.ErrorT) and not isinstance(x.type, T.ErrorT):
            if isinstance(declared, T.NumT) and isinstance(x.type, T.NumT):
                if declared.unit.dimensionality != x.type.unit.dimensionality:
                    ck.error("E324", f"`{d.name}` is declared in {declared.unit.text} but its formula gives {x.type.unit.text}",
                             d.expr.span, help=f"{declared.unit.text} is {declared.unit.dimension_text()}; "
                             f"{x.type.unit.text} is {x.type.unit.dimension_text()}")
            elif type(declared) is not type(x.type) and not (isinstance(declared, T.BoolT) and isinstance(x.type, T.VerdictT)):
                ck.error("E324", f"`{d.name}` is declared as {declared} but its formula gives a {x.type}", d.expr.span)
        if declared is None:
            declared = T.BoolT() if isinstance(x.type, T.VerdictT) else x.type
            if isinstance(declared, T.TextT):
                declared = T.TextT(tuple(dict.fromkeys(c for t in _text_types(x) for c in t.categories)))
            ck.types[d.name] = declared
        if isinstance(declared, T.TextT) and isinstance(x.type, T.TextT):
            x = ck.encode_text(x, declared)
        ck.value_exprs[d.name] = x
        values[d.name] = CValue(d.name, declared, x, d.label, d, ck.ctx)
    ordered_values = tuple(values[d.name] for d in items if isinstance(d, ast.LetDecl) and d.name in values)

    rules = []
    for d in items:
        if not isinstance(d, ast.RuleDecl) or d.require is None:
            continue
        ck.ctx = _expression_entity(ck, [d.applies, d.require], root)
        applies = ck._as_bool(ck.expr(d.applies), "an applicability condition") if d.applies is not None else None
        require = ck._as_bool(ck.expr(d.require), "a requirement")
        judge = "full"
        if d.judge is not None:
            if d.judge.method not in ("full", "rounded"):
                hint = did_you_mean(d.judge.method, ("full", "rounded"))
                ck.error("E325", f"unknown judgement method `{d.judge.method}`", d.judge.span,
                         help=(hint + " " if hint else "") + "GB/T 8170-2008: `judge full` (full-value, the default) "
                         "or `judge rounded` (rounded-value)")
            elif d.judge.method == "rounded":
                judge = "rounded"
                require = ck.rounding(d.judge, require, d.id)
        rules.append(CRule(d.id, d.label, d.clause, d.severity, applies, require, judge, d, ck.ctx))
        ck.rule_entities[d.id] = ck.ctx

    results = []
    for d in items:
        if isinstance(d, ast.ResultDecl):
            ck.ctx = _expression_entity(ck, [b.cond for b in d.branches], root)
            results.append(_check_result(ck, d))
    ck.ctx = root

    from .check_examples import check_example

    examples = tuple(check_example(ck, d) for d in items if isinstance(d, ast.ExampleDecl))

    diags = tuple(ck.diags)
    if any(x.severity == "error" for x in diags):
        return None, diags
    entity = resolved.entity
    meta = []
    for f in module.header.fields:
        v = f.value
        if isinstance(v, ast.Label):
            meta.extend([("title_zh", v.zh), ("title_en", v.en)])
        else:
            meta.append((f.key, v))
    ents = sorted(resolved.entities.values(), key=lambda e: e.parent is not None)
    checked = CheckedRuleset(
        id=module.header.id,
        meta=tuple(meta),
        entity=entity.name,
        key=entity.key,
        params=tuple(params),
        tables=tuple(ck.tables.values()),
        entities=tuple(ents),
        imports=tuple(resolved.imports.items()),
        inputs=tuple(inputs),
        values=ordered_values,
        rules=tuple(rules),
        results=tuple(results),
        examples=examples,
        module=module,
        content_hash=hashlib.sha256(module.source.encode("utf-8")).hexdigest(),
        diagnostics=tuple(x for x in diags if x.severity != "error"),
    )
    return checked, diags


def _expression_entity(ck: _Checker, exprs, root: str) -> str:
    """The entity a rule or result is judged on: a child when it reads child values directly."""
    for e in exprs:
        if e is None:
            continue
        stack = [e]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Call) and node.func in AGGREGATES:
                continue
            if isinstance(node, ast.Ref):
                sym = ck.r.lookup(node)
                owner = ck.r.entities.get(sym.entity) if sym is not None and sym.entity else None
                if sym is not None and sym.kind == "rule" and sym.name in ck.rule_entities:
                    owner = ck.r.entities.get(ck.rule_entities[sym.name])
                if owner is not None and owner.parent is not None:
                    return owner.name
            stack.extend(ast.children(node))
    return root


def _check_param(ck: _Checker, d: ast.ParamDecl) -> CParam:
    typ = ck.types[d.name]
    x = ck.expr(d.expr)
    if isinstance(x, T.Neg) and isinstance(x.operand, T.Const):
        x = T.Const(x.operand.type, -x.operand.value, x.span, "-" + x.operand.text)
    if not isinstance(x, T.Const):
        ck.error("E351", f"param `{d.name}` must be a literal value", d.expr.span, help="a computed value is a `let`")
        return CParam(d.name, typ, T.Const(T.ErrorT(), 0.0, d.span), d.label, d)
    if isinstance(typ, T.NumT) and isinstance(x.type, T.NumT):
        if typ.unit.dimensionality != x.type.unit.dimensionality:
            ck.error("E324", f"`{d.name}` is declared in {typ.unit.text} but its value is in {x.type.unit.text}", d.expr.span)
        elif ck._plain_vs_percent(x, T.Load(typ, d.name, "param", d.span), d.span):
            pass
    elif isinstance(typ, T.TextT) and isinstance(x.value, str):
        x = ck.encode_text(x, typ)
    elif not isinstance(typ, T.ErrorT) and not isinstance(x.type, T.ErrorT) and type(typ) is not type(x.type):
        ck.error("E324", f"`{d.name}` is declared as {typ} but its value is a {x.type}", d.expr.span)
    return CParam(d.name, typ, T.Const(typ, x.value, x.span, x.text), d.label, d)


def _check_input(ck: _Checker, d: ast.InputDecl, entity: str = "") -> CInput:
    typ = ck.types[d.name]
    if isinstance(typ, T.TextT) and not typ.categories:
        typ = ck.error("E352", f"text input `{d.name}` needs its categories: `text {{\"a\", \"b\"}}`", d.type.span,
                       help="a value outside the declared categories is then caught when data is read")
    low = high = None
    lo_inc = hi_inc = True
    if d.range is not None:
        if not isinstance(typ, T.NumT):
            if not isinstance(typ, T.ErrorT):
                ck.error("E326", f"a range needs a number input, but `{d.name}` is {typ}", d.range.span)
        else:
            factor = typ.unit.factor
            lo, hi = d.range.low, d.range.high
            low = None if lo.value == float("-inf") else lo.value * factor
            high = None if hi.value == float("inf") else hi.value * factor
            lo_inc, hi_inc = lo.inclusive, hi.inclusive
            if lo.value > hi.value:
                ck.error("E327", f"the range [{lo.text}, {hi.text}] is empty: its low end is above its high end", d.range.span)
            if (lo.value in (float("inf"), float("-inf")) and lo.inclusive) or (hi.value in (float("inf"), float("-inf")) and hi.inclusive):
                ck.error("E327", "an infinite end of a range is open: write `[0, inf)`", d.range.span)
    return CInput(d.name, typ, low, lo_inc, high, hi_inc, d.label, d, entity)


def _check_result(ck: _Checker, d: ast.ResultDecl) -> CResult:
    labels = ck.types[d.name].labels
    branches = []
    seen: dict[str, Span] = {}
    otherwise_at: Span | None = None
    for b in d.branches:
        if b.label in seen:
            ck.error("E328", f'result label "{b.label}" is used twice', b.span, notes=(Note(seen[b.label], "first used here"),))
        seen.setdefault(b.label, b.span)
        if otherwise_at is not None:
            ck.warn("W401", f'branch "{b.label}" can never be reached: it comes after `otherwise`', b.span)
        cond = None
        if b.cond is not None:
            cond = ck._as_bool(ck.expr(b.cond), "a result branch condition")
        else:
            otherwise_at = b.span
        branches.append((labels.index(b.label), cond))
    return CResult(d.name, labels, tuple(branches), d.label, d, ck.ctx)
