"""The semantic diff: compare two checked revisions declaration by declaration.

:func:`diff` matches declarations (:mod:`.match`), compares each matched pair on its meaning and
turns every difference into a :class:`~.edits.Change`:

* a comparison of one quantity with a constant (``intensity <= 0.2 t CO2/tce``) whose limit,
  direction, strictness or rounding changed gives the **flip intervals**: the values of the
  quantity for which the outcome changes, e.g. ```intensity` in (0.2, 0.3] t CO2/tce: pass →
  fail``, with the scope in which that holds (the rule's applicability, the branch conditions of
  an ``if``/``case``, the other operands of ``and``/``or``), simplified to one range per
  quantity (``for parks with energy ≥ 1 000 000 tce/yr``);
* a constant chosen by a ``let`` through ``if``/``case`` (a limit table such as the park's
  ``intensity_limit``) is followed to the comparisons that use the value as a limit, and the
  flips are stated for those rules;
* everything else is reported as written in each revision (``formula``, ``title``, ``clause``…).

Each change lists the rules and results it can affect, through the dependency graphs of both
revisions (:meth:`normrules.graph.RuleGraph.affected_by`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from .. import types as T
from ..explain import format_number, format_value
from .edits import (KINDS, Change, Edit, Flip, Insert, Interval, Keep, Move, Remove, RulesetDiff, Update)
from .match import (Canon, Profile, generic, match_items, orient, r12, rounding_quantum, sig, type_key)

INF = math.inf
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_SHOW = {"<=": "≤", ">=": "≥", "<": "<", ">": ">", "==": "=", "!=": "≠"}
_DIRECTION = {"<": "upper", "<=": "upper", ">": "lower", ">=": "lower", "==": "eq", "!=": "ne"}
_META_ORDER = ("title_zh", "title_en", "document", "issuer", "version", "published", "effective",
               "status", "category", "supersedes")

Node = tuple[str, str]
_ORDER = ("input", "param", "table", "value", "rule", "result")
Set_ = list[tuple[float, float, bool, bool]]       # a union of intervals, canonical units


# ------------------------------------------------------------------ one revision


def _item_name(item) -> str:
    return getattr(item, "name", None) or getattr(item, "id", None) or str(item)


def _label_key(label) -> tuple:
    return (label.zh, label.en) if label is not None else (None, None)


def _label_text(label) -> str:
    if label is None:
        return ""
    return label.zh + (f" / {label.en}" if label.en else "")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


class Side:
    """One revision: its declarations by kind, its source text and dependency graph."""

    def __init__(self, rs):
        self.rs = rs
        c = self.c = rs.checked
        self.source = c.module.source
        self.items: dict[str, dict[str, object]] = {
            "input": {i.name: i for i in c.inputs},
            "param": {p.name: p for p in (getattr(c, "params", ()) or ())},
            "table": {_item_name(t): t for t in (getattr(c, "tables", ()) or ())},
            "value": {v.name: v for v in c.values},
            "rule": {r.id: r for r in c.rules},
            "result": {r.name: r for r in c.results},
        }
        self.order: dict[Node, int] = {}
        for kind, group in self.items.items():
            for i, name in enumerate(group):
                self.order[(kind, name)] = i
        self.graph = rs.graph.graph
        self._down: dict[Node, frozenset] = {}

    def text(self, e) -> str:
        """An expression as written (whitespace squashed)."""
        if e is None:
            return ""
        span = getattr(e, "span", None)
        if span is not None and span.end > span.start and span.end <= len(self.source):
            return _squash(self.source[span.start:span.end])
        return getattr(e, "text", "") or "?"

    def decl_text(self, item) -> str:
        decl = getattr(item, "decl", None)
        span = getattr(decl, "span", None)
        if span is not None and span.end > span.start:
            return self.source[span.start:span.end].strip()
        return str(item)

    def downstream(self, kind: str, name: str) -> frozenset:
        """Rules and results that read ``(kind, name)`` directly or not, and itself if an output
        (the rule/result part of :meth:`RuleGraph.affected_by`, for every node in one pass)."""
        if not self._down:
            import networkx as nx

            for node in reversed(list(nx.topological_sort(self.graph))):
                out = set()
                for succ in self.graph.successors(node):
                    out |= self._down[succ]
                if node[0] in ("rule", "result"):
                    out.add(node)
                self._down[node] = frozenset(out)
        node = (kind, name)
        hit = self._down.get(node)
        if hit is None:
            hit = frozenset({node}) if kind in ("rule", "result") else frozenset()
        return hit


# ------------------------------------------------------------------ sets of values


def _complement(s: Set_) -> Set_:
    out: Set_ = []
    lo, lo_c = -INF, False
    for a, b, ac, bc in sorted(s):
        out.append((lo, a, lo_c, not ac))
        lo, lo_c = b, not bc
    out.append((lo, INF, lo_c, False))
    return [iv for iv in out if iv[0] < iv[1] or (iv[0] == iv[1] and iv[2] and iv[3] and math.isfinite(iv[0]))]


def true_set(op: str, c: float, quantum: float | None = None) -> Set_:
    """Where ``x op c`` holds; with ``quantum``, where ``round(x) op c`` holds (GB/T 8170 rounded
    value: round half to even on multiples of ``quantum``)."""
    if quantum is None:
        return {"<=": [(-INF, c, False, True)], "<": [(-INF, c, False, False)],
                ">=": [(c, INF, True, False)], ">": [(c, INF, False, False)],
                "==": [(c, c, True, True)], "!=": [(-INF, c, False, False), (c, INF, False, False)]}[op]
    q = quantum
    k_floor = math.floor(c / q + 1e-9)
    k_ceil = math.ceil(c / q - 1e-9)

    def at_most(k: int) -> Set_:        # round(x) <= k·q
        return [(-INF, (k + 0.5) * q, False, k % 2 == 0)]

    if op == "<=":
        return at_most(k_floor)
    if op == "<":
        return at_most(k_ceil - 1)
    if op == ">=":
        return _complement(at_most(k_ceil - 1))
    if op == ">":
        return _complement(at_most(k_floor))
    if k_floor != k_ceil:              # the limit is not a multiple of the quantum: == never holds
        eq: Set_ = []
    else:
        even = k_floor % 2 == 0
        eq = [((k_floor - 0.5) * q, (k_floor + 0.5) * q, even, even)]
    return eq if op == "==" else _complement(eq)


def _contains(s: Set_, x: float) -> bool:
    return any(a < x < b or (x == a and ac) or (x == b and bc) for a, b, ac, bc in s)


def flip_regions(old: Set_, new: Set_) -> list[tuple[float, float, bool, bool, bool, bool]]:
    """Maximal intervals where membership differs: (lo, hi, lo closed, hi closed, old, new)."""
    pts = sorted({x for s in (old, new) for a, b, _, _ in s for x in (a, b) if math.isfinite(x)})
    regions = []
    if not pts:
        regions.append((-INF, INF, False, False, 0.0))
    else:
        regions.append((-INF, pts[0], False, False, pts[0] - 1 - abs(pts[0])))
        for i, p in enumerate(pts):
            regions.append((p, p, True, True, p))
            if i + 1 < len(pts):
                regions.append((p, pts[i + 1], False, False, (p + pts[i + 1]) / 2))
        regions.append((pts[-1], INF, False, False, pts[-1] + 1 + abs(pts[-1])))
    out: list = []
    for lo, hi, lc, hc, rep in regions:
        b, a = _contains(old, rep), _contains(new, rep)
        if b == a:
            continue
        if out and out[-1][1] == lo and (out[-1][3] or lc) and out[-1][4:] == (b, a):
            prev = out[-1]
            out[-1] = (prev[0], hi, prev[2], hc, b, a)
        else:
            out.append((lo, hi, lc, hc, b, a))
    return out


def _intersect(r, bound):
    lo, hi, lc, hc = r
    blo, bhi, blc, bhc = bound
    if blo > lo:
        lo, lc = blo, blc
    elif blo == lo:
        lc = lc and blc
    if bhi < hi:
        hi, hc = bhi, bhc
    elif bhi == hi:
        hc = hc and bhc
    if lo < hi or (lo == hi and lc and hc):
        return lo, hi, lc, hc
    return None


# ------------------------------------------------------------------ expression alignment


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


class _Differ:
    def __init__(self, old, new, matchings=()):
        self.o, self.n = Side(old), Side(new)
        self.rename: dict[Node, str] = {}
        self.inverse: dict[Node, str] = {}
        self.co = Canon(self.rename)
        self.cn = Canon()
        self.matchings = tuple(matchings)
        self.pairs: dict[str, list[tuple[str, str, float]]] = {}
        self.entity = plural(self.n.c.entity)
        self._value_type = None

    # -------------------------------------------------------------- matching
    def _content(self, side: Side, canon: Canon, kind: str, name: str):
        item = side.items[kind][name]
        if kind == "input":
            return (type_key(item.type), _factor(item.type), _range_key(item), _label_key(item.label))
        if kind == "value":
            return (type_key(item.type), canon(item.expr))
        if kind == "param":
            return (type_key(item.type), canon(item.expr), _label_key(item.label))
        if kind == "table" and _is_ctable(item):
            return (_label_key(item.label), _schema(item.keys), _schema(item.columns),
                    tuple(sorted((tuple(_cell(v) for v in r) for r in item.rows), key=repr)))
        if kind == "rule":
            return (_label_key(item.label), item.clause, item.severity, canon(item.applies), canon(item.require),
                    item.judge)
        if kind == "result":
            return (_label_key(item.label),
                    tuple((item.labels[i], canon(c)) for i, c in item.branches))
        g = generic(item, canon)
        return tuple(x for x in g if not (isinstance(x, tuple) and x and x[0] in ("name", "id")))

    def _profile(self, side: Side, canon: Canon, kind: str, name: str) -> Profile:
        item = side.items[kind][name]
        label = _label_text(getattr(item, "label", None))
        if kind == "input":
            expr = sig(type_key(item.type)) + sig(_range_key(item))
        elif kind in ("value", "param"):
            expr = sig(canon(item.expr))
        elif kind == "rule":
            expr = sig(canon(item.applies)) + " ; " + sig(canon(item.require))
        elif kind == "result":
            expr = " | ".join(f"{item.labels[i]}:{sig(canon(c))}" for i, c in item.branches)
        else:
            expr = sig(self._content(side, canon, kind, name))
        return Profile({"expr": expr, "title": label, "clause": getattr(item, "clause", None) or "", "name": name})

    def _record(self, kind: str, pairs) -> None:
        changed = False
        for o, n, _ in pairs:
            if o != n and self.rename.get((kind, o)) != n:
                self.rename[(kind, o)] = n
                self.inverse[(kind, n)] = o
                changed = True
        if changed:
            self.co.clear()

    def match(self) -> None:
        for kind in _ORDER:
            olds, news = list(self.o.items[kind]), list(self.n.items[kind])
            forced = [(o, n) for k, o, n in self.matchings if k == kind]
            args = (lambda x: self._content(self.o, self.co, kind, x), lambda x: self._content(self.n, self.cn, kind, x),
                    lambda x: self._profile(self.o, self.co, kind, x), lambda x: self._profile(self.n, self.cn, kind, x))
            pairs = match_items(olds, news, *args, forced=forced, exact_only=True)
            self._record(kind, pairs)
            while kind in ("value", "rule") and len(pairs) < min(len(olds), len(news)):
                again = match_items(olds, news, *args, forced=[(o, n) for o, n, _ in pairs], exact_only=True)
                if len(again) == len(pairs):
                    break
                pairs = again
                self._record(kind, pairs)
            sims = {(o, n): s for o, n, s in pairs}
            final = match_items(olds, news, *args, forced=[(o, n) for o, n, _ in pairs])
            self._record(kind, final)
            self.pairs[kind] = [(o, n, sims.get((o, n), s)) for o, n, s in final]

    # -------------------------------------------------------------- alignment
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

    # -------------------------------------------------------------- scope and flips
    def _qtext(self, q) -> str:
        return q.name if isinstance(q, T.Load) else self.n.text(q)

    def _fmt(self, typ, v) -> str:
        """A bound in the quantity's display unit, without the unit."""
        if isinstance(typ, T.NumT):
            return format_number(v / typ.unit.factor)
        return format_value(typ, v)

    def _unit(self, typ) -> str:
        return typ.unit.text if isinstance(typ, T.NumT) and typ.unit.text != "1" else ""

    def scope(self, conds: list, qkey=None):
        """(text or None, bound on the quantity ``qkey`` or None, impossible?) of conditions."""
        atoms: list = []

        def add(e, t):
            if e is None:
                return
            if isinstance(e, T.NotOp):
                add(e.operand, not t)
            elif isinstance(e, T.BoolOp) and ((e.op == "and" and t) or (e.op == "or" and not t)):
                add(e.left, t)
                add(e.right, t)
            else:
                atoms.append((e, t))

        for e, t in conds:
            add(e, t)
        bounds: dict = {}
        others: list[str] = []
        for e, t in atoms:
            if isinstance(e, T.Cmp) and e.rounding is None:
                op, q, lim = orient(e)
                if not t:
                    op = _NEGATE[op]
                if isinstance(lim, T.Const) and not isinstance(q, T.Const) and _is_orderable(q) \
                        and op in ("<", "<=", ">", ">="):
                    b = bounds.setdefault(self.cn(q), {"q": q, "lo": (-INF, False), "hi": (INF, False)})
                    v = float(lim.value)
                    if op in (">", ">="):
                        closed = op == ">="
                        if v > b["lo"][0] or (v == b["lo"][0] and not closed):
                            b["lo"] = (v, closed)
                    else:
                        closed = op == "<="
                        if v < b["hi"][0] or (v == b["hi"][0] and not closed):
                            b["hi"] = (v, closed)
                    continue
                text = f"{self._qtext(q)} {_SHOW[op]} {self.n.text(lim)}"
            elif isinstance(e, T.IsState) and not t:
                text = f"not ({self.n.text(e)})"
            else:
                text = self.n.text(e) if t else f"not ({self.n.text(e)})"
            if text not in others:
                others.append(text)
        pieces = []
        qbound = None
        for key, b in bounds.items():
            (lo, lc), (hi, hc) = b["lo"], b["hi"]
            if lo > hi or (lo == hi and not (lc and hc)):
                return None, None, True
            if key == qkey:
                qbound = (lo, hi, lc, hc)
                continue
            q = b["q"]
            typ, name, unit = q.type, self._qtext(q), self._unit(q.type)
            u = f" {unit}" if unit else ""
            if lo == hi:
                pieces.append(f"{name} = {self._fmt(typ, lo)}{u}")
            elif lo > -INF and hi < INF:
                pieces.append(f"{self._fmt(typ, lo)} {'≤' if lc else '<'} {name} {'≤' if hc else '<'} {self._fmt(typ, hi)}{u}")
            elif lo > -INF:
                pieces.append(f"{name} {'≥' if lc else '>'} {self._fmt(typ, lo)}{u}")
            else:
                pieces.append(f"{name} {'≤' if hc else '<'} {self._fmt(typ, hi)}{u}")
        parts = pieces + others
        text = f"for {self.entity} with " + " and ".join(parts) if parts else None
        return text, qbound, False

    def make_flips(self, output: str, q, old: Set_, new: Set_, labels: tuple[str, str], polarity: bool,
                   conds: list, symbolic: str | None = None) -> tuple[Flip, ...]:
        text, bound, impossible = self.scope(conds, None if symbolic else self.cn(q))
        if impossible:
            return ()
        typ = q.type
        unit = "" if symbolic else self._unit(typ)
        out = []
        for lo, hi, lc, hc, b, a in flip_regions(old, new):
            if bound is not None:
                r = _intersect((lo, hi, lc, hc), bound)
                if r is None:
                    continue
                lo, hi, lc, hc = r
            if symbolic is not None:
                conv = lambda v: None if not math.isfinite(v) else symbolic  # noqa: E731
                iv = Interval(conv(lo), conv(hi), lc, hc)
                itext = iv.text("", fmt=str)
            elif isinstance(typ, T.NumT):
                conv = lambda v: None if not math.isfinite(v) else r12(v / typ.unit.factor)  # noqa: E731
                iv = Interval(conv(lo), conv(hi), lc, hc)
                itext = iv.text(unit)
            else:
                conv = lambda v: None if not math.isfinite(v) else format_value(typ, v)  # noqa: E731
                iv = Interval(conv(lo), conv(hi), lc, hc)
                itext = iv.text("", fmt=str)
            t_label, f_label = labels if polarity else (labels[1], labels[0])
            out.append(Flip(output, self._qtext(q), unit, iv, t_label if b else f_label, t_label if a else f_label,
                            text, itext))
        return tuple(out)

    # -------------------------------------------------------------- changes from hits
    def hit_changes(self, hit: _Hit, where: str, labels: tuple[str, str], output: str,
                    extra: list | None = None, primary: str | None = None) -> list[Change]:
        extra = [c for c in (extra or []) if c[0] is not None]
        before, after = self.o.text(hit.old), self.n.text(hit.new)
        if hit.kind == "cmp":
            o, n = hit.old, hit.new
            oop, oq, ol = orient(o)
            nop, nq, nl = orient(n)
            aspects: list[str] = []
            consts = isinstance(ol, T.Const) and isinstance(nl, T.Const)
            if consts and self.co(ol) != self.cn(nl):
                aspects.append("threshold")
            if oop != nop:
                aspects.append("direction" if _DIRECTION[oop] != _DIRECTION[nop] else "strictness")
            qo, qn = rounding_quantum(o.rounding), rounding_quantum(n.rounding)
            if qo != qn:
                aspects.append("judgement" if (qo is None) != (qn is None) else "precision")
            if primary:
                aspects.insert(0, primary)
            ctx = self.context(hit.path)
            labs = ctx.outcome or (("true", "false") if ctx.opaque else labels)
            conds = extra + ctx.conds
            flips: tuple[Flip, ...] = ()
            if consts and _is_orderable(nq) and isinstance(ol.value, (int, float)) and isinstance(nl.value, (int, float)):
                old_s = true_set(oop, float(ol.value), _quantum(o))
                new_s = true_set(nop, float(nl.value), _quantum(n))
                flips = self.make_flips(output, nq, old_s, new_s, labs, ctx.polarity, conds)
            elif not consts and qo is None and qn is None and _is_orderable(nq):
                flips = self.make_flips(output, nq, true_set(oop, 0.0), true_set(nop, 0.0), labs, ctx.polarity,
                                        conds, symbolic=self.n.text(nl))
            if consts:
                before, after = _normalised(before, ol, oq.type), _normalised(after, nl, nq.type)
            if qo != qn:
                before, after = f"{before} [{_judgement(o.rounding)}]", f"{after} [{_judgement(n.rounding)}]"
            return [Change(aspects[0] if aspects else "formula", where, before, after,
                           aspects=tuple(aspects) or ("formula",), note=_trend(flips), flips=flips)]
        if hit.kind == "set":
            o_c = set(_category_names(hit.old))
            n_c = set(_category_names(hit.new))
            gained = ", ".join(f'"{c}"' for c in sorted(n_c - o_c))
            lost = ", ".join(f'"{c}"' for c in sorted(o_c - n_c))
            note = "; ".join(x for x in ((f"now includes {gained}" if gained else ""),
                                         (f"no longer includes {lost}" if lost else "")) if x)
            return [Change(primary or "formula", where, before, after, aspects=tuple(x for x in (primary, "categories") if x),
                           note=note)]
        if hit.kind == "verdicts":
            o_r = [self.co.name("rule", r) for r in hit.old.rules]
            n_r = list(hit.new.rules)
            o_set, n_set = set(o_r), set(n_r)
            gained = [r for r in n_r if r not in o_set]
            lost = [r for r in o_r if r not in n_set]
            note = "; ".join(x for x in ((f"now also covers {_names(gained)}" if gained else ""),
                                         (f"no longer covers {_names(lost)}" if lost else "")) if x)
            return [Change(primary or "formula", where, f"{hit.old.func}({_names(hit.old.rules, 12)})",
                           f"{hit.new.func}({_names(hit.new.rules, 12)})",
                           aspects=tuple(x for x in (primary, "formula") if x), note=note)]
        if hit.kind == "const":
            parent_cmp = bool(hit.path) and isinstance(hit.path[-1][1], T.Cmp)
            aspect = "threshold" if parent_cmp else "formula"
            return [Change(primary or aspect, where, before, after, aspects=tuple(x for x in (primary, aspect) if x))]
        return [Change(primary or "formula", where, before, after, aspects=tuple(x for x in (primary, "formula") if x))]

    # -------------------------------------------------------------- per kind
    def compare(self, kind: str, o, n) -> list[Change]:
        out = getattr(self, f"compare_{kind}")(o, n)
        oe, ne = getattr(o, "entity", "") or "", getattr(n, "entity", "") or ""
        if oe != ne and oe and ne:
            out.append(Change("entity", "entity", oe, ne, note="computed for another entity"))
        return out

    def _title(self, o, n) -> list[Change]:
        if _label_key(getattr(o, "label", None)) != _label_key(getattr(n, "label", None)):
            return [Change("title", "title", _label_text(o.label), _label_text(n.label), effect="documentation")]
        return []

    def compare_input(self, o, n) -> list[Change]:
        out = self._title(o, n)
        ot, nt = o.type, n.type
        if type_key(ot)[0] != type_key(nt)[0] or (isinstance(ot, T.NumT) and type_key(ot) != type_key(nt)) \
                or (isinstance(ot, T.DateT) and ot.precision != nt.precision):
            out.append(Change("type", "type", str(ot), str(nt), note="values of the column are read differently"))
        elif isinstance(ot, T.NumT) and r12(ot.unit.factor) != r12(nt.unit.factor):
            ratio = nt.unit.factor / ot.unit.factor
            out.append(Change("unit", "type", ot.unit.text, nt.unit.text,
                              note=f"a column without a unit in its header is now read in {nt.unit.text}, not "
                                   f"{ot.unit.text} (1 {nt.unit.text} = {format_number(ratio)} {ot.unit.text})"))
        elif isinstance(ot, T.TextT) and set(ot.categories) != set(nt.categories):
            gained = [c for c in nt.categories if c not in ot.categories]
            lost = [c for c in ot.categories if c not in nt.categories]
            note = "; ".join(x for x in ((("adds " + ", ".join(f'"{c}"' for c in gained)) if gained else ""),
                                         (("drops " + ", ".join(f'"{c}"' for c in lost)) if lost else "")) if x)
            out.append(Change("categories", "type", str(ot), str(nt), note=note))
        if _range_key(o) != _range_key(n) and isinstance(nt, T.NumT):
            before = self.o.text(o.decl.range) if o.decl.range else "(no range)"
            after = self.n.text(n.decl.range) if n.decl.range else "(no range)"
            old_s = [_range_set(o)]
            new_s = [_range_set(n)]
            q = T.Load(nt, n.name, "input", n.decl.name_span)
            flips = self.make_flips(n.name, q, old_s, new_s, ("accepted", "rejected"), True, [])
            out.append(Change("range", "range", before, after, flips=flips,
                              note="values outside the declared range are errors (or unknown with invalid=unknown)"))
        return out

    def compare_value(self, o, n) -> list[Change]:
        out = self._title(o, n)
        if type_key(o.type) != type_key(n.type):
            out.append(Change("type", "type", str(o.type), str(n.type)))
        elif isinstance(n.type, T.NumT) and r12(o.type.unit.factor) != r12(n.type.unit.factor):
            out.append(Change("unit", "type", o.type.unit.text, n.type.unit.text, effect="display",
                              note="values are computed in canonical units; only the unit they are shown in changes"))
        self._value_type = n.type
        for hit in self.align(o.expr, n.expr):
            if hit.kind == "const" and _limit_path(hit.path) and isinstance(hit.new.type, T.NumT) \
                    and isinstance(hit.old.type, T.NumT):
                ctx = self.context(hit.path)
                text, _, _ = self.scope(ctx.conds)
                flips, used = self.propagate(("value", o.name), ("value", n.name), hit.old, hit.new, ctx.conds)
                note = ", ".join(x for x in ((text.replace(f"for {self.entity} with ", "when ", 1) if text else ""),
                                             _trend(flips)) if x)
                out.append(Change("threshold" if used else "value", "formula", _normalised(self.o.text(hit.old), hit.old, o.type),
                                  _normalised(self.n.text(hit.new), hit.new, n.type), note=note, flips=flips))
            else:
                labels = ("true", "false") if isinstance(n.type, T.BoolT) else ("then", "else")
                out += self.hit_changes(hit, "formula", labels, n.name)
        self._value_type = None
        return out

    def compare_rule(self, o, n) -> list[Change]:
        out = self._title(o, n)
        if (o.clause or "") != (n.clause or ""):
            out.append(Change("clause", "clause", o.clause or "", n.clause or "", effect="documentation"))
        if o.severity != n.severity:
            out.append(Change("severity", "severity", o.severity, n.severity, effect="documentation",
                              note="severity is reported with the verdict; it does not change it"))
        if o.applies is None and n.applies is None:
            pass
        elif o.applies is None or n.applies is None:
            out.append(Change("applicability", "applies", self.o.text(o.applies) or "(always applies)",
                              self.n.text(n.applies) or "(always applies)"))
        else:
            for hit in self.align(o.applies, n.applies):
                out += self.hit_changes(hit, "applies", ("applies", "not_applicable"), n.id, primary="applicability")
        for hit in self.align(o.require, n.require):
            out += self.hit_changes(hit, "require", ("pass", "fail"), n.id, extra=[(n.applies, True)])
        if o.judge != n.judge and not any("judgement" in c.aspects for c in out):
            out.append(Change("judgement", "judge", o.judge, n.judge))
        return out

    def _result_branch_ctx(self, res, i: int) -> tuple[tuple[str, str], list]:
        """(label if the branch holds, what the entity gets otherwise), and the earlier branches
        that must not hold for this one to decide."""
        label = f'"{res.labels[res.branches[i][0]]}"'
        if i + 1 == len(res.branches):
            nxt = "unknown"
        elif res.branches[i + 1][1] is None:
            nxt = f'"{res.labels[res.branches[i + 1][0]]}"'
        else:
            nxt = "a later branch"
        earlier = [(c, False) for _, c in res.branches[:i] if c is not None]
        return (label, nxt), earlier

    def _branch_text(self, side: Side, res) -> str:
        return " | ".join(f'"{res.labels[i]}" ' + (f"when {side.text(c)}" if c is not None else "otherwise")
                          for i, c in res.branches)

    def compare_result(self, o, n) -> list[Change]:
        out = self._title(o, n)
        ob, nb = o.branches, n.branches
        if len(ob) != len(nb):
            gained = [x for x in n.labels if x not in o.labels]
            lost = [x for x in o.labels if x not in n.labels]
            note = "; ".join(x for x in ((("adds " + ", ".join(f'"{c}"' for c in gained)) if gained else ""),
                                         (("drops " + ", ".join(f'"{c}"' for c in lost)) if lost else "")) if x)
            return out + [Change("branches", "branches", self._branch_text(self.o, o), self._branch_text(self.n, n),
                                 note=note)]
        for i, ((oi, oc), (ni, nc)) in enumerate(zip(ob, nb)):
            ol, nl = o.labels[oi], n.labels[ni]
            where = f'branch "{nl}"'
            if ol != nl:
                out.append(Change("labels", f"branch {i + 1}", f'"{ol}"', f'"{nl}"',
                                  note="the label this branch gives is renamed"))
            if oc is None and nc is None:
                continue
            if (oc is None) != (nc is None):
                out.append(Change("branches", where, self.o.text(oc) or "otherwise", self.n.text(nc) or "otherwise"))
                continue
            labels, earlier = self._result_branch_ctx(n, i)
            for hit in self.align(oc, nc):
                out += self.hit_changes(hit, where, labels, n.name, extra=earlier)
        return out

    def compare_param(self, o, n) -> list[Change]:
        out = self._title(o, n)
        if type_key(o.type) != type_key(n.type):
            out.append(Change("type", "type", str(o.type), str(n.type)))
        elif isinstance(n.type, T.NumT) and r12(o.type.unit.factor) != r12(n.type.unit.factor):
            out.append(Change("unit", "type", o.type.unit.text, n.type.unit.text, effect="display",
                              note="the value is carried in canonical units; only the unit it is shown in changes"))
        if self.co(o.expr) != self.cn(n.expr):
            before = _normalised(self.o.text(o.expr), o.expr, n.type)
            after = _normalised(self.n.text(n.expr), n.expr, n.type)
            if isinstance(o.expr.type, T.NumT) and isinstance(n.expr.type, T.NumT):
                flips, used = self.propagate(("param", o.name), ("param", n.name), o.expr, n.expr, [])
                out.append(Change("threshold" if used else "value", "value", before, after, note=_trend(flips),
                                  flips=flips))
            else:
                out.append(Change("value", "value", before, after))
        return out

    def compare_table(self, o, n) -> list[Change]:
        out = self._title(o, n)
        if not (_is_ctable(o) and _is_ctable(n)):   # a table-like declaration of another shape
            if self._content(self.o, self.co, "table", _item_name(o)) != self._content(self.n, self.cn, "table", _item_name(n)):
                out.append(Change("content", "table", _squash(self.o.decl_text(o)), _squash(self.n.decl_text(n))))
            return out
        op, np_ = dict(o.provenance), dict(n.provenance)
        for k in list(dict.fromkeys(list(op) + list(np_))):
            if op.get(k) != np_.get(k):
                out.append(Change("provenance", k, op.get(k) or "", np_.get(k) or "", effect="documentation"))
        if (o.file or "") != (n.file or ""):
            out.append(Change("provenance", "file", o.file or "(rows inline)", n.file or "(rows inline)",
                              effect="documentation", note="the rows are compared, not the file name"))
        if _schema(o.keys) != _schema(n.keys):
            out.append(Change("schema", "keys", _fields_text(o.keys), _fields_text(n.keys)))
            return out
        if _schema(o.columns) != _schema(n.columns):
            out.append(Change("schema", "columns", _fields_text(o.columns), _fields_text(n.columns)))
        display = [(name, nt) for (name, ot), (n2, nt) in zip(o.columns, n.columns)
                   if name == n2 and isinstance(ot, T.NumT) and isinstance(nt, T.NumT)
                   and type_key(ot) == type_key(nt) and r12(ot.unit.factor) != r12(nt.unit.factor)]
        for name, nt in display:
            ot = dict(o.columns)[name]
            out.append(Change("unit", f"column {name}", ot.unit.text, nt.unit.text, effect="display"))
        k = len(o.keys)
        orows = {tuple(_cell(v) for v in r[:k]): r for r in o.rows}
        nrows = {tuple(_cell(v) for v in r[:k]): r for r in n.rows}
        ocol = {name: i for i, (name, _) in enumerate(o.fields)}
        ncol = {name: i for i, (name, _) in enumerate(n.fields)}
        shared = [name for name, _ in n.columns if name in ocol]
        for key, row in nrows.items():
            where = f"row {_key_text(n, row[:k])}"
            if key not in orows:
                out.append(Change("rows", where, "", _row_text(n, row, [c for c, _ in n.columns]), note="row added"))
                continue
            old = orows[key]
            diffs = [c for c in shared if _cell(old[ocol[c]]) != _cell(row[ncol[c]])]
            if diffs:
                out.append(Change("values", where, _row_text(o, old, diffs), _row_text(n, row, diffs)))
        for key, row in orows.items():
            if key not in nrows:
                out.append(Change("rows", f"row {_key_text(o, row[:k])}", _row_text(o, row, [c for c, _ in o.columns]), "",
                                  note="row removed: lookups of this key are now unknown"))
        return out

    # -------------------------------------------------------------- limits chosen by a let
    def _consumer_exprs(self, kind: str, item) -> list:
        if kind == "rule":
            return [(item.require, ("pass", "fail"), [(item.applies, True)] if item.applies is not None else []),
                    (item.applies, ("applies", "not_applicable"), [])]
        if kind == "value":
            return [(item.expr, ("true", "false"), [])]
        if kind == "result":
            out = []
            for i, (_, c) in enumerate(item.branches):
                if c is not None:
                    labels, earlier = self._result_branch_ctx(item, i)
                    out.append((c, labels, earlier))
            return out
        return []

    @staticmethod
    def _limit_cmps(expr, node: Node, path: tuple = ()) -> list:
        """Comparisons ``quantity OP limit`` (either side) inside ``expr`` where the limit reads
        ``node`` (a value or a param), with their paths."""
        if expr is None:
            return []
        out = []
        kind, value = node
        if isinstance(expr, T.Cmp):
            for lim, q, mirror in ((expr.right, expr.left, False), (expr.left, expr.right, True)):
                if isinstance(lim, T.Load) and lim.kind == kind and lim.name == value and _is_orderable(q) \
                        and not any(isinstance(x, T.Load) and x.name == value for x in T.texpr_walk(q)):
                    op = _MIRROR_OP[expr.op] if mirror else expr.op
                    out.append((expr, q, op, path))
                    break
        for role, child in _kids(expr):
            out += _Differ._limit_cmps(child, node, path + ((expr, expr, role),))
        return out

    def propagate(self, old_node: Node, node: Node, c_old, c_new, conds: list) -> tuple[tuple[Flip, ...], bool]:
        """Flips of the comparisons that use ``node`` (a value or param) as their limit, when the
        constant it yields (under ``conds``) changes from ``c_old`` to ``c_new``; and whether any
        comparison uses it as a limit at all."""
        flips: list[Flip] = []
        used = False
        if node not in self.n.graph:
            return (), False
        for kind, cname in sorted(self.n.graph.successors(node), key=lambda x: (KINDS.index(x[0]), self.n.order.get(x, 0))):
            item = self.n.items.get(kind, {}).get(cname)
            if item is None:
                continue
            o_name = self.inverse.get((kind, cname), cname)
            o_item = self.o.items.get(kind, {}).get(o_name)
            o_exprs = self._consumer_exprs(kind, o_item) if o_item is not None else []
            for idx, (expr, labels, extra) in enumerate(self._consumer_exprs(kind, item)):
                cmps = self._limit_cmps(expr, node)
                old_cmps = self._limit_cmps(o_exprs[idx][0], old_node) if idx < len(o_exprs) else []
                for j, (cmp, q, op, path) in enumerate(cmps):
                    used = True
                    ocmp, _, oop, _ = old_cmps[j] if j < len(old_cmps) else (cmp, q, op, path)
                    old_s = true_set(oop, float(c_old.value), _quantum(ocmp))
                    new_s = true_set(op, float(c_new.value), _quantum(cmp))
                    ctx = self.context(path)
                    labs = ctx.outcome or (("true", "false") if ctx.opaque else labels)
                    flips += self.make_flips(cname, q, old_s, new_s, labs, ctx.polarity,
                                             [c for c in extra if c[0] is not None] + ctx.conds + conds)
        return tuple(flips), used

    # -------------------------------------------------------------- header
    def header_changes(self) -> list[Change]:
        oc, nc = self.o.c, self.n.c
        out = []
        if oc.id != nc.id:
            out.append(Change("metadata", "id", oc.id, nc.id, effect="documentation"))
        om, nm = dict(oc.meta), dict(nc.meta)
        keys = [k for k in _META_ORDER if k in om or k in nm] + sorted(
            k for k in set(om) | set(nm) if k not in _META_ORDER)
        for k in keys:
            a, b = _meta_text(om.get(k)), _meta_text(nm.get(k))
            if a != b:
                note = ""
                if k == "supersedes" and nm.get(k) is not None:
                    sid, sver = nm[k]
                    note = (f"names the old revision {oc.ref}" if (sid, sver) == (oc.id, oc.version)
                            else f"does not name the old revision {oc.ref}")
                out.append(Change("metadata", k, a, b, effect="documentation", note=note))
        oe = {e.name: e for e in (getattr(oc, "entities", ()) or ())}
        ne = {e.name: e for e in (getattr(nc, "entities", ()) or ())}
        if not oe and not ne:
            if (oc.entity, oc.key) != (nc.entity, nc.key):
                out.append(Change("entity", "entity", f"{oc.entity} key {oc.key}", f"{nc.entity} key {nc.key}",
                                  effect="documentation"))
        else:
            for name in list(dict.fromkeys(list(oe) + list(ne))):
                a, b = oe.get(name), ne.get(name)
                ta, tb = _entity_text(a), _entity_text(b)
                if ta != tb:
                    structural = a is None or b is None or (a.key, a.parent) != (b.key, b.parent)
                    out.append(Change("entity", f"entity {name}", ta, tb,
                                      effect="behaviour" if structural else "documentation"))
        oi = dict(getattr(oc, "imports", ()) or ())
        ni = dict(getattr(nc, "imports", ()) or ())
        for alias in list(dict.fromkeys(list(oi) + list(ni))):
            a, b = oi.get(alias), ni.get(alias)
            if a is not None and b is not None and a.ref == b.ref and a.content_hash == b.content_hash:
                continue
            note = ""
            if a is not None and b is not None:
                sub = diff(a, b)
                s = sub.summary()
                what = _names([f"{x.kind} {x.name}" for x in sub.changes], 5)
                note = (f"the imported ruleset differs: {s['update']} changed, {s['insert']} added, "
                        f"{s['remove']} removed, {s['move']} renamed ({what})" if not sub.is_empty
                        else "the imported ruleset differs only in form")
            affects = self._import_affects(alias)
            out.append(Change("imports", f"import {alias}", a.ref if a is not None else "", b.ref if b is not None else "",
                              note=note, affects=affects))
        return out

    def _import_affects(self, alias: str) -> tuple[str, ...]:
        outs: set[Node] = set()
        for side in (self.o, self.n):
            for node in side.graph.nodes:
                if node[0] == "import" and node[1].startswith(alias + "."):
                    outs |= {(k, self.rename.get((k, x), x)) if side is self.o else (k, x)
                             for k, x in side.downstream(*node)}
        return self._sorted_outputs(outs)

    # -------------------------------------------------------------- the edit script
    def affects(self, kind: str, o_name: str | None, n_name: str | None) -> tuple[str, ...]:
        outs: set[Node] = set()
        if n_name is not None:
            outs |= self.n.downstream(kind, n_name)
        if o_name is not None:
            outs |= {(k, self.rename.get((k, x), x)) for k, x in self.o.downstream(kind, o_name)}
        return self._sorted_outputs(outs)

    def _sorted_outputs(self, outs) -> tuple[str, ...]:
        big = 1 << 30

        def key(node):
            pos = self.n.order.get(node)
            return (KINDS.index(node[0]) if node[0] in KINDS else 99, pos if pos is not None else big, node[1])

        return tuple(name for _, name in sorted(outs, key=key))

    def edits(self) -> list[Edit]:
        self.match()
        out: list[Edit] = []
        header = self.header_changes()
        if header:
            affects = tuple(dict.fromkeys(a for c in header for a in c.affects))
            out.append(Update("header", self.n.c.id, self.o.c.meta, self.n.c.meta, tuple(header), affects))
        else:
            out.append(Keep("header", self.n.c.id, self.o.c.meta, self.n.c.meta))
        for kind in _ORDER:
            pairs = {n: (o, s) for o, n, s in self.pairs.get(kind, [])}
            matched_old = {o for o, _, _ in self.pairs.get(kind, [])}
            for name, item in self.n.items[kind].items():
                if name not in pairs:
                    out.append(Insert(kind, name, item, self.n.decl_text(item), self.affects(kind, None, name)))
                    continue
                o_name, sim = pairs[name]
                o_item = self.o.items[kind][o_name]
                changes = self.compare(kind, o_item, item)
                affects = self.affects(kind, o_name, name) if changes else ()
                changes = [c if c.effect != "behaviour" else _with_affects(c, affects) for c in changes]
                if o_name != name:
                    out.append(Move(kind, o_name, name, o_item, item, sim, tuple(changes),
                                    affects if any(c.effect == "behaviour" for c in changes) else ()))
                elif changes:
                    out.append(Update(kind, name, o_item, item, tuple(changes),
                                      affects if any(c.effect == "behaviour" for c in changes) else ()))
                else:
                    out.append(Keep(kind, name, o_item, item))
            for name, item in self.o.items[kind].items():
                if name not in matched_old:
                    out.append(Remove(kind, name, item, self.o.decl_text(item), self.affects(kind, name, None)))
        return out


_MIRROR_OP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _names(names, cap: int = 20) -> str:
    """``a, b, c`` — or, for a long list, the first ``cap`` names and how many more."""
    names = list(names)
    if len(names) <= cap:
        return ", ".join(names)
    return ", ".join(names[:cap]) + f", … {len(names) - cap} more ({len(names)} in all)"


def _with_affects(c: Change, affects: tuple[str, ...]) -> Change:
    from dataclasses import replace

    return replace(c, affects=affects)


def _normalised(text: str, const, typ) -> str:
    """``250 kg CO2/tce (= 0.25 t CO2/tce)`` when a limit is written in another unit than the
    quantity it bounds."""
    if isinstance(const, T.Const) and isinstance(const.type, T.NumT) and isinstance(typ, T.NumT) \
            and r12(_written_factor(const)) != r12(typ.unit.factor) and typ.unit.text != "1":
        return f"{text} (= {format_value(typ, const.value)})"
    return text


def _written_factor(const) -> float:
    """The factor of the unit a constant is written in (``250 kg CO2/tce`` → kg CO2/tce)."""
    _, _, unit = const.text.partition(" ")
    if unit:
        try:
            from ..units import parse_unit

            return parse_unit(unit).factor
        except Exception:
            pass
    return const.type.unit.factor


def _judgement(r: T.Rounding | None) -> str:
    if r is None:
        return "full value"
    step = format_number(10.0 ** (-r.decimals))
    return f"rounded to {step}{' ' + r.unit_text if r.unit_text and r.unit_text != '1' else ''}"


def _quantum(cmp) -> float | None:
    return rounding_quantum(cmp.rounding) if isinstance(cmp, T.Cmp) else None


def _limit_path(path: tuple) -> bool:
    """The constant is what an if/case (or the whole let) yields, not an operand of arithmetic."""
    for _, p, role in path:
        if isinstance(p, T.IfElse) and role in ("then", "else"):
            continue
        if isinstance(p, T.CaseWhen) and (role.startswith("value:") or role == "else"):
            continue
        return False
    return True


def _trend(flips) -> str:
    pairs = {(f.before, f.after) for f in flips}
    if not pairs:
        return ""
    if pairs == {("pass", "fail")}:
        return "stricter"
    if pairs == {("fail", "pass")}:
        return "more lenient"
    if pairs == {("not_applicable", "applies")}:
        return "wider scope"
    if pairs == {("applies", "not_applicable")}:
        return "narrower scope"
    return ""


def _category_names(e: T.InSet) -> list[str]:
    cats = e.operand.type.categories if isinstance(e.operand.type, T.TextT) else ()
    return [cats[i] if 0 <= i < len(cats) else str(i) for i in e.codes]


def _factor(t) -> float | None:
    return r12(t.unit.factor) if isinstance(t, T.NumT) else None


def _range_key(item) -> tuple:
    return (None if item.low is None else r12(item.low), item.low_inclusive,
            None if item.high is None else r12(item.high), item.high_inclusive)


def _range_set(item) -> tuple:
    lo = -INF if item.low is None else float(item.low)
    hi = INF if item.high is None else float(item.high)
    return (lo, hi, item.low_inclusive and item.low is not None, item.high_inclusive and item.high is not None)


def _is_ctable(item) -> bool:
    return all(hasattr(item, a) for a in ("keys", "columns", "rows", "provenance", "fields"))


def _schema(fields) -> tuple:
    """Names and kinds of a table's fields (text categories follow from the rows: compared there)."""
    return tuple((name, None if t is None else ("text",) if isinstance(t, T.TextT) else type_key(t))
                 for name, t in fields)


def _fields_text(fields) -> str:
    return ", ".join(f"{name} : {t}" for name, t in fields)


def _cell(v):
    if isinstance(v, float):
        return r12(v)
    return v


def _format_cell(typ, v) -> str:
    if v is None:
        return "(empty)"
    if isinstance(typ, T.TextT):
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(typ.categories):
            return f'"{typ.categories[v]}"'
        return f'"{v}"'
    if isinstance(v, str):
        return f'"{v}"'
    if typ is None:
        return str(v)
    if isinstance(typ, T.NumT) and typ.unit.text == "1" and isinstance(v, (int, float)):
        return f"{float(v):.12g}"           # plain numbers (years, codes): no digit grouping, as in render
    try:
        return format_value(typ, v)
    except Exception:  # pragma: no cover - a cell of an unexpected kind
        return str(v)


def _key_text(table, key: tuple) -> str:
    return "[" + ", ".join(_format_cell(t, v) for (_, t), v in zip(table.keys, key)) + "]"


def _row_text(table, row: tuple, columns: list[str]) -> str:
    idx = {name: (i, t) for i, (name, t) in enumerate(table.fields)}
    return ", ".join(f"{c} {_format_cell(idx[c][1], row[idx[c][0]])}" for c in columns if c in idx)


def _entity_text(e) -> str:
    if e is None:
        return ""
    return f"{e.name} key {e.key}" + (f" of {e.parent}" if getattr(e, "parent", None) else "") + \
        (f" ({_label_text(e.label)})" if getattr(e, "label", None) is not None else "")


def _meta_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, tuple) and len(v) == 2:
        return f'{v[0]} @ "{v[1]}"'
    return str(v)


def _coerce(x):
    if isinstance(x, (str, Path)):
        from ..api import load

        return load(x)
    return x


def diff(old, new, data=None, *, children=None, as_of=None, matchings=(), invalid: str = "unknown") -> RulesetDiff:
    """The semantic diff of two compiled revisions (:class:`normrules.Ruleset`, or paths).

    ``data`` (a pandas DataFrame, pyarrow Table, dict of arrays or a file path) adds the impact:
    both revisions evaluated on the same entities (see :mod:`.impact`); ``children`` maps child
    entities to their tables and ``as_of`` fills an ``as_of`` input, as for ``Ruleset.evaluate``. ``matchings`` forces
    pairs ``(kind, old name, new name)`` — like sqlglot's ``matchings`` — when a rename changed
    too much to be found. ``invalid`` is how values outside a declared range are read for the
    impact (``"unknown"``: counted, not fatal, since a revision may narrow a range).
    """
    old, new = _coerce(old), _coerce(new)
    d = _Differ(old, new, matchings)
    edits = tuple(d.edits())
    impact = None
    if data is not None:
        from .impact import compute_impact

        impact = compute_impact(old, new, data, edits, d.rename, invalid=invalid, children=children, as_of=as_of)
    return RulesetDiff(old, new, edits, impact)


__all__ = ["diff", "true_set", "flip_regions", "plural"]
