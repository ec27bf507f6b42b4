"""Aligning the typed expression trees of two revisions of one declaration.

:meth:`ExpressionAligner.align` walks both trees together and returns the places where they
differ (:class:`_Hit`): a comparison whose limit, operator or rounding changed, a constant, a
category set, a set of rules; :meth:`ExpressionAligner.context` reads from a hit's path the
conditions under which it decides the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import types as T
from ..explain import format_value
from .match import orient, rounding_quantum, type_key


@dataclass(frozen=True)
class _Hit:
    kind: str          # cmp | const | set | verdicts | expr
    old: object
    new: object
    path: tuple        # ((old parent, new parent, role), …), root first


def _kids(e) -> list[tuple[str, object]]:
    if isinstance(e, (T.Neg, T.NotOp, T.IsState)):
        return [("operand", e.operand)]
    if isinstance(e, (T.Arith, T.Cmp, T.BoolOp)):
        return [("left", e.left), ("right", e.right)]
    if isinstance(e, T.IfElse):
        return [("cond", e.cond), ("then", e.then), ("else", e.else_)]
    if isinstance(e, T.CaseWhen):
        out = []
        for i, (w, v) in enumerate(e.whens):
            out += [(f"when:{i}", w), (f"value:{i}", v)]
        return out + [("else", e.else_)]
    if isinstance(e, T.Func):
        return [(f"arg:{i}", a) for i, a in enumerate(e.args)]
    if _UP is not None and isinstance(e, _UP):
        return [("operand", e.operand)]
    if _AGG is not None and isinstance(e, _AGG):
        return [(r, x) for r, x in (("value", e.value), ("where", e.where), ("default", e.default)) if x is not None]
    if _LOOKUP is not None and isinstance(e, _LOOKUP):
        return [(f"key:{i}", k) for i, k in enumerate(e.keys)]
    return []


def _attrs(e) -> tuple:
    if isinstance(e, (T.Arith, T.BoolOp)):
        return (e.op,)
    if isinstance(e, T.Cmp):
        return (e.op, rounding_quantum(e.rounding))
    if isinstance(e, T.IsState):
        return (e.state,)
    if isinstance(e, T.Func):
        return (e.name, len(e.args))
    if isinstance(e, T.CaseWhen):
        return (len(e.whens),)
    if _UP is not None and isinstance(e, _UP):
        return (e.child,)
    if _AGG is not None and isinstance(e, _AGG):
        return (e.func, e.child, e.value is None, e.where is None, e.default is None)
    if _LOOKUP is not None and isinstance(e, _LOOKUP):
        return (e.table, e.latest, e.column, len(e.keys))
    return ()


_UP, _AGG, _LOOKUP = (getattr(T, n, None) for n in ("Up", "Aggregate", "Lookup"))


def _is_orderable(e) -> bool:
    return isinstance(e.type, (T.NumT, T.DateT))


@dataclass
class _Ctx:
    conds: list            # (expr, must be true?) — new revision
    polarity: bool
    outcome: tuple | None  # (label when true, label when false) set by an if/case
    opaque: bool


class ExpressionAligner:
    """The expression alignment of :class:`~.semantic._Differ` (reads its revisions ``o``/``n``
    and canonicalisers ``co``/``cn``)."""

    def align(self, o, n, path: tuple = ()) -> list[_Hit]:
        if self.co(o) == self.cn(n):
            return []
        if isinstance(o, T.Cmp) and isinstance(n, T.Cmp):
            _, oq, ol = orient(o)
            _, nq, nl = orient(n)
            if self.co(oq) == self.cn(nq):
                consts = (isinstance(ol, T.Const) and isinstance(nl, T.Const)
                          and type_key(ol.type)[0] == type_key(nl.type)[0])
                if consts or self.co(ol) == self.cn(nl):
                    return [_Hit("cmp", o, n, path)]
            else:       # another quantity: another comparison
                return [_Hit("expr", o, n, path)]
        if isinstance(o, T.Const) and isinstance(n, T.Const) and type_key(o.type)[0] == type_key(n.type)[0]:
            return [_Hit("const", o, n, path)]
        if isinstance(o, T.InSet) and isinstance(n, T.InSet) and self.co(o.operand) == self.cn(n.operand):
            return [_Hit("set", o, n, path)]
        if isinstance(o, T.VerdictSet) and isinstance(n, T.VerdictSet) and o.func == n.func:
            return [_Hit("verdicts", o, n, path)]
        if type(o) is type(n) and _attrs(o) == _attrs(n):
            ok, nk = _kids(o), _kids(n)
            if len(ok) == len(nk) and ok:
                commutative = isinstance(o, T.BoolOp) or (isinstance(o, T.Arith) and o.op in "+*")
                if commutative and (self.co(ok[0][1]) == self.cn(nk[1][1]) or self.co(ok[1][1]) == self.cn(nk[0][1])):
                    nk = [nk[1], nk[0]]
                out: list[_Hit] = []
                for (_, a), (role, b) in zip(ok, nk):     # roles of the new side: context reads the new tree
                    out += self.align(a, b, path + ((o, n, role),))
                return out
        return [_Hit("expr", o, n, path)]

    def _branch_label(self, e) -> str:
        if isinstance(e, T.Const):
            typ = self._value_type if isinstance(self._value_type, T.NumT) and isinstance(e.type, T.NumT) else e.type
            if isinstance(typ, T.TextT) and isinstance(e.value, int) and e.value < len(typ.categories):
                return f'"{typ.categories[e.value]}"'
            if isinstance(typ, T.TextT):
                return f'"{e.value}"'
            return format_value(typ, e.value)
        return self.n.text(e)

    def context(self, path: tuple) -> _Ctx:
        ctx = _Ctx([], True, None, False)
        for _, p, role in path:
            if isinstance(p, T.BoolOp):
                ctx.conds.append((p.right if role == "left" else p.left, p.op == "and"))
            elif isinstance(p, T.NotOp):
                ctx.polarity = not ctx.polarity
            elif isinstance(p, T.IfElse):
                if role == "cond":
                    ctx.outcome = (self._branch_label(p.then), self._branch_label(p.else_))
                    ctx.polarity, ctx.opaque = True, False
                else:
                    ctx.conds.append((p.cond, role == "then"))
            elif isinstance(p, T.CaseWhen):
                kind, _, idx = role.partition(":")
                i = int(idx) if idx else len(p.whens)
                ctx.conds.extend((w, False) for w, _ in p.whens[:i])
                if kind == "when":
                    later = "a later case" if i + 1 < len(p.whens) else self._branch_label(p.else_)
                    ctx.outcome = (self._branch_label(p.whens[i][1]), later)
                    ctx.polarity, ctx.opaque = True, False
                elif kind == "value":
                    ctx.conds.append((p.whens[i][0], True))
            else:
                ctx.opaque = True
        return ctx
