"""Static checks on a compiled ruleset: warnings about things that compile but are probably wrong.

``normrules check`` runs them on every ruleset that compiles (``check --strict`` makes them
errors). They never change what a ruleset computes.

====  =======================================================================================
code  warning
====  =======================================================================================
W402  numeric bands of a chain leave a **gap**: a value between two bands (``score > 70 and
      score <= 80`` then ``score > 85 and score <= 90``) matches none of them — it gets no label
      (result without ``otherwise``), or silently falls through to ``otherwise``/``else`` while
      the fallback also covers other, disjoint ranges, or the gap is a single boundary value
      (``x < 80`` then ``x > 80``: 80 itself is in no band)
W403  two bands of a chain **overlap** without one containing the other (``score >= 70 and
      score <= 80`` then ``score >= 80 and score <= 90``: 80 is claimed by both; the first wins)
W404  a branch can **never be reached**: its condition can never be true, or whenever it is true
      an earlier branch's condition is true as well (it implies an earlier condition, or its band
      lies inside the bands of earlier branches). W401 (a branch after ``otherwise``) is reported
      by the checker itself.
W405  rule ``x`` is used by no result (``eval`` still outputs its verdict); only in rulesets that
      declare results
W406  input ``x`` is read by no value, rule or result
====  =======================================================================================

A *chain* is the branches of a ``result`` (up to ``otherwise``), the ``when`` conditions of a
``case``, or an ``if … then … else if … then … else …`` cascade. A *band* is a condition on one
number — an input or a value — built from comparisons of that name with constants and ``and``,
``or``, ``not``: ``energy >= 20万tce/yr and energy < 100万tce/yr`` (a ``param`` is not a constant
here: an importing ruleset may override it). Bands are reasoned about as
sets of intervals, in the name's declared domain (an input's ``in [...]`` range); the comparison
tolerance of 1e-9 is ignored. Gaps are only looked for when every branch of a chain (before the
fallback) is a band on the same name and there are at least two of them; a fallback that covers
one contiguous range (``if x < 10 then a else if x > 20 then b else c``) is a band of its own and
is not a gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from . import types as T
from .errors import Diagnostic, Note, Span
from .units import Unit

INF = math.inf

# --------------------------------------------------------------------------- interval sets


@dataclass(frozen=True, order=True)
class Interval:
    lo: float
    lo_inc: bool
    hi: float
    hi_inc: bool

    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_inc and self.hi_inc))


def _norm(ivs) -> tuple[Interval, ...]:
    """Sorted, disjoint, non-touching intervals (touching ones merged)."""
    items = sorted((i for i in ivs if not i.empty()), key=lambda i: (i.lo, not i.lo_inc))
    out: list[Interval] = []
    for i in items:
        if out:
            last = out[-1]
            if i.lo < last.hi or (i.lo == last.hi and (i.lo_inc or last.hi_inc)):
                if i.hi > last.hi or (i.hi == last.hi and i.hi_inc and not last.hi_inc):
                    out[-1] = Interval(last.lo, last.lo_inc, i.hi, i.hi_inc)
                continue
        out.append(i)
    return tuple(out)


ALL = (Interval(-INF, False, INF, False),)


def union(a, b):
    return _norm(a + b)


def intersect(a, b):
    out = []
    for x in a:
        for y in b:
            if x.lo > y.lo or (x.lo == y.lo and not x.lo_inc):
                lo, lo_inc = x.lo, x.lo_inc
            else:
                lo, lo_inc = y.lo, y.lo_inc
            if x.hi < y.hi or (x.hi == y.hi and not x.hi_inc):
                hi, hi_inc = x.hi, x.hi_inc
            else:
                hi, hi_inc = y.hi, y.hi_inc
            out.append(Interval(lo, lo_inc, hi, hi_inc))
    return _norm(out)


def complement(a):
    out, lo, lo_inc = [], -INF, False
    for i in a:
        out.append(Interval(lo, lo_inc, i.lo, not i.lo_inc))
        lo, lo_inc = i.hi, not i.hi_inc
    out.append(Interval(lo, lo_inc, INF, False))
    return _norm(out)


def difference(a, b):
    return intersect(a, complement(b))


def subset(a, b) -> bool:
    return not difference(a, b)


# --------------------------------------------------------------------------- bands


@dataclass(frozen=True)
class Band:
    name: str
    intervals: tuple[Interval, ...]
    unit: object            # units.Unit of the name (display)


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _const(e) -> float | None:
    if isinstance(e, T.Const) and isinstance(e.type, T.NumT) and isinstance(e.value, (int, float)):
        return float(e.value)
    if isinstance(e, T.Neg):
        v = _const(e.operand)
        return None if v is None else -v
    return None


def _atom(e) -> Band | None:
    if not isinstance(e, T.Cmp) or not isinstance(e.left.type, T.NumT) or e.rounding is not None:
        return None
    op, name, c = e.op, e.left, _const(e.right)
    if c is None:
        op, name, c = _FLIP[e.op], e.right, _const(e.left)
    if c is None or not isinstance(name, T.Load) or not isinstance(name.type, T.NumT):
        return None
    ivs = {
        "<": (Interval(-INF, False, c, False),),
        "<=": (Interval(-INF, False, c, True),),
        ">": (Interval(c, False, INF, False),),
        ">=": (Interval(c, True, INF, False),),
        "==": (Interval(c, True, c, True),),
    }.get(op)
    if ivs is None:  # !=
        ivs = complement((Interval(c, True, c, True),))
    return Band(name.name, ivs, name.type.unit)


def band(e) -> Band | None:
    """The band a condition describes, when it is about one number only."""
    a = _atom(e)
    if a is not None:
        return a
    if isinstance(e, T.BoolOp):
        x, y = band(e.left), band(e.right)
        if x is None or y is None or x.name != y.name:
            return None
        ivs = intersect(x.intervals, y.intervals) if e.op == "and" else union(x.intervals, y.intervals)
        return Band(x.name, ivs, x.unit)
    if isinstance(e, T.NotOp):
        x = band(e.operand)
        return None if x is None else Band(x.name, complement(x.intervals), x.unit)
    return None


def _key(e):
    """A structural key of a typed expression, ignoring source positions."""
    if isinstance(e, tuple):
        return tuple(_key(x) for x in e)
    if isinstance(e, Unit):
        return ("Unit", e.text)
    if not hasattr(e, "__dataclass_fields__"):
        try:
            hash(e)
        except TypeError:
            return repr(e)
        return e
    return (type(e).__name__,) + tuple(_key(getattr(e, f.name)) for f in fields(e) if f.name != "span")


@dataclass(frozen=True)
class Summary:
    """A condition as a conjunction: the bands per name, and the other conjuncts (by structure)."""

    bands: dict
    others: frozenset
    units: dict

    @property
    def pure(self) -> str | None:
        """The name, when the condition is a band on that one name and nothing else."""
        return next(iter(self.bands)) if len(self.bands) == 1 and not self.others else None


def _conjuncts(e):
    if isinstance(e, T.BoolOp) and e.op == "and":
        yield from _conjuncts(e.left)
        yield from _conjuncts(e.right)
    else:
        yield e


def summarize(e) -> Summary:
    whole = band(e)
    parts = [e] if whole is not None else list(_conjuncts(e))
    bands, units, others = {}, {}, set()
    for part in parts:
        b = band(part)
        if b is None:
            others.add(_key(part))
            continue
        bands[b.name] = intersect(bands[b.name], b.intervals) if b.name in bands else b.intervals
        units[b.name] = b.unit
    return Summary(bands, frozenset(others), units)


def implies(a: Summary, b: Summary) -> bool:
    """Whenever ``a`` is true, ``b`` is true (conjunct by conjunct)."""
    if not b.others <= a.others:
        return False
    return all(name in a.bands and subset(a.bands[name], ivs) for name, ivs in b.bands.items())


# --------------------------------------------------------------------------- text


def _num(v: float, unit) -> str:
    if v == INF:
        return "inf"
    if v == -INF:
        return "-inf"
    shown = v / unit.factor if unit is not None else v
    text = f"{shown:.10g}"
    if "e" not in text:
        whole, _, frac = text.partition(".")
        sign = "-" if whole.startswith("-") else ""
        digits = whole.lstrip("-")
        if len(digits) > 4:
            groups = []
            while digits:
                groups.insert(0, digits[-3:])
                digits = digits[:-3]
            digits = "_".join(groups)
        text = sign + digits + ("." + frac if frac else "")
    return text


def _unit_text(unit) -> str:
    return "" if unit is None or unit.text == "1" else f" {unit.text}"


def _is_point(ivs) -> bool:
    return len(ivs) == 1 and ivs[0].lo == ivs[0].hi


def at(name: str, ivs, unit) -> str:
    """```score` = 80`` or ```score` in (80, 85]``."""
    return f"`{name}` = {show(ivs, unit)}" if _is_point(ivs) else f"`{name}` in {show(ivs, unit)}"


def show(ivs, unit) -> str:
    parts = []
    for i in ivs:
        if i.lo == i.hi:
            parts.append(f"{_num(i.lo, unit)}")
        else:
            parts.append(f"{'[' if i.lo_inc else '('}{_num(i.lo, unit)}, {_num(i.hi, unit)}{']' if i.hi_inc else ')'}")
    return " ∪ ".join(parts) + _unit_text(unit)


def _overlap_help(name: str, common, unit) -> str:
    if _is_point(common):
        c = _num(common[0].lo, unit) + _unit_text(unit)
        return (f"write the bands half-open so {c} is in exactly one: `{name} < {c}` in one band, "
                f"`{name} >= {c}` in the other, as the document decides which band owns the boundary")
    return f"write the bands half-open so each value of `{name}` is in exactly one: `{name} < L` then `{name} >= L`"


# --------------------------------------------------------------------------- chains


@dataclass(frozen=True)
class Branch:
    cond: object           # typed condition
    span: Span             # where to point
    what: str              # 'branch "met"', '`when` condition 2', '`if` condition'


@dataclass(frozen=True)
class Chain:
    branches: tuple[Branch, ...]
    fallback: str | None   # 'otherwise "x"', '`else`', or None (a result without otherwise)
    span: Span             # the whole chain (for messages about it as a whole)
    where: str             # 'result `x`', 'value `x`', 'rule `x`'


def _walk(e, visit):
    visit(e)
    for c in T.texpr_children(e):
        _walk(c, visit)


def _expr_chains(e, where: str) -> list[Chain]:
    chains: list[Chain] = []
    absorbed: set[int] = set()

    def visit(node):
        if id(node) in absorbed:
            return
        if isinstance(node, T.IfElse):
            branches = []
            cur = node
            while isinstance(cur, T.IfElse):
                absorbed.add(id(cur))
                branches.append(Branch(cur.cond, cur.cond.span, "`if` condition" if not branches else "`else if` condition"))
                cur = cur.else_
            chains.append(Chain(tuple(branches), "`else`", node.span, where))
        elif isinstance(node, T.CaseWhen):
            branches = tuple(Branch(c, c.span, f"`when` condition {k + 1}") for k, (c, _) in enumerate(node.whens))
            chains.append(Chain(branches, "`else`", node.span, where))

    _walk(e, visit)
    return chains


def chains(checked) -> list[Chain]:
    """Every chain of a checked ruleset, in declaration order."""
    out: list[Chain] = []
    for v in checked.values:
        out.extend(_expr_chains(v.expr, f"value `{v.name}`"))
    for r in checked.rules:
        for e in (r.applies, r.require):
            if e is not None:
                out.extend(_expr_chains(e, f"rule `{r.id}`"))
    for res in checked.results:
        branches, fallback = [], None
        for (index, cond), decl in zip(res.branches, res.decl.branches):
            if cond is None:
                fallback = f'otherwise "{res.labels[index]}"'
                break
            branches.append(Branch(cond, decl.span, f'branch "{res.labels[index]}"'))
        out.append(Chain(tuple(branches), fallback, res.decl.name_span, f"result `{res.name}`"))
        for (_, cond) in res.branches:
            if cond is not None:
                out.extend(_expr_chains(cond, f"result `{res.name}`"))
    return out


def domain_of(checked, name: str):
    """The values a number can take: an input's declared range, else all numbers."""
    for i in checked.inputs:
        if i.name == name and isinstance(i.type, T.NumT):
            lo = -INF if i.low is None else i.low
            hi = INF if i.high is None else i.high
            return (Interval(lo, i.low is not None and i.low_inclusive, hi, i.high is not None and i.high_inclusive),)
    return ALL


def _chain_diagnostics(checked, chain: Chain) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    summaries = [summarize(b.cond) for b in chain.branches]
    dead: set[int] = set()

    # W404: never true, or implied by earlier branches
    for j, (b, s) in enumerate(zip(chain.branches, summaries)):
        never = next((n for n, ivs in s.bands.items() if not intersect(ivs, domain_of(checked, n))), None)
        if never is not None:
            domain = domain_of(checked, never)
            within = "" if domain == ALL else f" declared in {show(domain, s.units[never])}"
            diags.append(Diagnostic("W404", f"{b.what} of {chain.where} can never be true: no value of `{never}`"
                                    f"{within} satisfies it", b.span, help="check the direction of the comparisons",
                                    severity="warning"))
            dead.add(j)
            continue
        earlier = next((i for i in range(j) if i not in dead and implies(s, summaries[i])), None)
        if earlier is not None:
            e = chain.branches[earlier]
            diags.append(Diagnostic("W404", f"{b.what} of {chain.where} can never be reached: whenever it is true, "
                                    f"the earlier {e.what} is true as well", b.span,
                                    notes=(Note(e.span, f"the earlier {e.what}"),),
                                    help="reorder the branches (the first true one is taken) or fix the condition",
                                    severity="warning"))
            dead.add(j)
            continue
        for name, ivs in s.bands.items():
            before = [i for i in range(j) if i not in dead and summaries[i].pure == name]
            if not before:
                continue
            covered = ()
            for i in before:
                covered = union(covered, summaries[i].bands[name])
            domain = domain_of(checked, name)
            if subset(intersect(ivs, domain), covered):
                unit = s.units[name]
                diags.append(Diagnostic(
                    "W404", f"{b.what} of {chain.where} can never be reached: its band {at(name, intersect(ivs, domain), unit)} "
                    f"lies inside the bands of earlier branches", b.span,
                    notes=tuple(Note(chain.branches[i].span, f"{chain.branches[i].what}: "
                                     f"{show(intersect(summaries[i].bands[name], domain), unit)}") for i in before),
                    help="reorder the branches (the first true one is taken) or fix the limits",
                    severity="warning"))
                dead.add(j)
                break

    # W403: partial overlaps between pure bands on the same name
    for j in range(len(summaries)):
        name = summaries[j].pure
        if name is None or j in dead:
            continue
        for i in range(j):
            if i in dead or summaries[i].pure != name:
                continue
            a, b = summaries[i].bands[name], summaries[j].bands[name]
            domain = domain_of(checked, name)
            a, b = intersect(a, domain), intersect(b, domain)
            common = intersect(a, b)
            if common and not subset(a, b) and not subset(b, a):
                unit = summaries[j].units[name]
                bi, bj = chain.branches[i], chain.branches[j]
                diags.append(Diagnostic(
                    "W403", f"{bj.what} of {chain.where} overlaps the earlier {bi.what} at {at(name, common, unit)}: "
                    f"values there take the earlier branch", bj.span,
                    notes=(Note(bi.span, f"{bi.what}: {show(a, unit)}"),),
                    help=_overlap_help(name, common, unit),
                    severity="warning"))

    # W402: gaps, when every branch is a band on the same name
    live = [j for j in range(len(summaries)) if j not in dead]
    names = {summaries[j].pure for j in live}
    if len(live) >= 2 and len(names) == 1 and None not in names:
        (name,) = names
        unit = summaries[live[0]].units[name]
        domain = domain_of(checked, name)
        covered = ()
        for j in live:
            covered = union(covered, summaries[j].bands[name])
        gaps = difference(domain, covered)
        interior = [g for g in gaps if g.hi > covered[0].lo and g.lo < covered[-1].hi]
        if chain.fallback is None:
            report = list(gaps)
            outcome = "matches no branch: the result is unknown there"
        else:
            report = [g for g in interior if len(gaps) > 1 or g.lo == g.hi]
            outcome = f"matches no band and falls to {chain.fallback}"
        for g in report:
            after = next((j for j in live if any(iv.lo >= g.hi for iv in summaries[j].bands[name])), live[-1])
            b = chain.branches[after]
            if g.lo == g.hi:
                c = _num(g.lo, unit) + _unit_text(unit)
                what = f"the value {c} exactly"
                fix = (f"put {c} in one of the neighbouring bands (`{name} <= {c}` or `{name} >= {c}`); "
                       "以上/以下/不低于/不超过 include the number, 超过/低于/小于 exclude it")
            else:
                what = show((g,), unit)
                fix = f"extend a neighbouring band over {what}, or add a band for it"
            if chain.fallback is None:
                fix += ", or add an `otherwise` branch"
            diags.append(Diagnostic(
                "W402", f"the bands of `{name}` in {chain.where} leave a gap: {what} {outcome}",
                b.span if chain.fallback is not None or g in interior else chain.span,
                notes=tuple(Note(chain.branches[j].span, f"{chain.branches[j].what}: "
                                 f"{show(intersect(summaries[j].bands[name], domain), unit)}") for j in live),
                help=fix, severity="warning"))
    return diags


def never(checked, e, value: bool) -> bool:
    """True when condition ``e`` can never be ``value`` for an entity (a constant, or a band that
    misses — or, for ``value=False``, fills — the declared domain of its number)."""
    if isinstance(e, T.Const) and isinstance(e.value, bool):
        return e.value is not value
    b = band(e)
    if b is None:
        return False
    domain = domain_of(checked, b.name)
    if value:
        return not intersect(b.intervals, domain)
    return subset(domain, b.intervals)


# --------------------------------------------------------------------------- unused declarations


def _unused(ruleset) -> list[Diagnostic]:
    c = ruleset.checked
    g = ruleset.graph.graph
    diags = []
    if c.results:
        for r in c.rules:
            if not any(k == "result" for k, _ in ruleset.graph.affected_by(("rule", r.id))):
                diags.append(Diagnostic(
                    "W405", f"rule `{r.id}` is used by no result", r.decl.name_span,
                    help="`normrules eval` still outputs its verdict; name it in a result "
                         "(e.g. `all(core.*)`), or remove it",
                    severity="warning"))
    for i in c.inputs:
        if g.out_degree(("input", i.name)) == 0:
            diags.append(Diagnostic("W406", f"input `{i.name}` is read by no value, rule or result", i.decl.name_span,
                                    help="use it, or remove the declaration", severity="warning"))
    return diags


# --------------------------------------------------------------------------- entry point


def lint(ruleset) -> list[Diagnostic]:
    """Every lint warning of a compiled ruleset (:class:`~normrules.api.Ruleset`), in source order."""
    diags = []
    for chain in chains(ruleset.checked):
        diags.extend(_chain_diagnostics(ruleset.checked, chain))
    diags.extend(_unused(ruleset))
    seen, out = set(), []
    for d in diags:
        k = (d.code, d.message, d.span)
        if k not in seen:
            seen.add(k)
            out.append(d)
    return sorted(out, key=lambda d: (d.span.file, d.span.line, d.span.col, d.code))
