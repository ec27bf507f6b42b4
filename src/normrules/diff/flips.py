"""Flip statements: for a changed bound, the values of the quantity whose outcome changes.

:class:`FlipFinder` states the scope of a change (the conditions that must hold for it to
matter, merged into one range per quantity), turns the hits of an alignment into
:class:`~.edits.Change` values with their :class:`~.edits.Flip` intervals, and follows a changed
``let``/``param`` constant to the comparisons that use it as a limit.
"""

from __future__ import annotations

import math

from .. import types as T
from ..explain import format_number, format_value
from .alignment import _Hit, _is_orderable, _kids
from .edits import KINDS, Change, Flip, Interval
from .formatting import _category_names, _judgement, _names, _normalised, _trend
from .intervals import INF, Set_, _intersect, flip_regions, true_set
from .match import orient, r12, rounding_quantum
from .revision import Node

_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_SHOW = {"<=": "≤", ">=": "≥", "<": "<", ">": ">", "==": "=", "!=": "≠"}
_DIRECTION = {"<": "upper", "<=": "upper", ">": "lower", ">=": "lower", "==": "eq", "!=": "ne"}
_MIRROR_OP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class FlipFinder:
    """Scope, flips and changes from alignment hits, for :class:`~.semantic._Differ`."""

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
            out += FlipFinder._limit_cmps(child, node, path + ((expr, expr, role),))
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
            if kind == "value":         # a let that chooses the limit: follow it, under its branch conditions
                for path in _yield_paths(item.expr, node):
                    more, more_used = self.propagate(("value", o_name), ("value", cname), c_old, c_new,
                                                     conds + self.context(path).conds)
                    flips += more
                    used = used or more_used
        return tuple(flips), used


def _quantum(cmp) -> float | None:
    return rounding_quantum(cmp.rounding) if isinstance(cmp, T.Cmp) else None


def _yield_paths(expr, node: Node, path: tuple = ()) -> list[tuple]:
    """Paths to the loads of ``node`` that are what ``expr`` yields (the whole expression, or a
    branch of an if/case), not an operand of arithmetic or a condition."""
    if isinstance(expr, T.Load) and (expr.kind, expr.name) == node:
        return [path]
    out = []
    if isinstance(expr, (T.IfElse, T.CaseWhen)):
        for role, child in _kids(expr):
            if role in ("then", "else") or role.startswith("value:"):
                out += _yield_paths(child, node, path + ((expr, expr, role),))
    return out


def _limit_path(path: tuple) -> bool:
    """The constant is what an if/case (or the whole let) yields, not an operand of arithmetic."""
    for _, p, role in path:
        if isinstance(p, T.IfElse) and role in ("then", "else"):
            continue
        if isinstance(p, T.CaseWhen) and (role.startswith("value:") or role == "else"):
            continue
        return False
    return True
