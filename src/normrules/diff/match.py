"""Matching declarations of two revisions, and the canonical form that decides "same meaning".

**Canonical form.** :class:`Canon` turns a typed expression into nested tuples that keep only
what decides a result: number constants in canonical (pint base) units rounded to 12
significant digits (so ``0.3 t CO2/tce`` and ``300 kg CO2/tce`` are equal), categories and
result labels as text (not codes), rule patterns expanded to sorted rule ids, operands of
commutative operators (``and``, ``or``, ``+``, ``*``, ``min``, ``max``) sorted, a constant always
on the right of a comparison, and the quantum of a rounded-value judgement (``0.30 t`` and
``300 kg`` differ there, because the stated precision differs). Spans, comments, the written
form of numbers and units, and declaration order are not part of it. Names of the old revision
are read through the rename map, so a renamed input does not make every formula reading it
look changed.

**Matching** (:func:`match_items`), like sqlglot's ChangeDistiller with rule ids as the
pre-matching: declarations of one kind pair up

1. by name (rule id, input/value/result name), then
2. by identical canonical content (a pure rename), then
3. by content similarity — the Dice coefficient of the sets of character bigrams (sqlglot's
   ``_dice_coefficient``) of the canonical expression text, the title, the clause and the name,
   weighted 0.6 / 0.2 / 0.1 / 0.1 — best pairs first, if the score is at least ``threshold``.
"""

from __future__ import annotations

import heapq
import math
from functools import lru_cache
from dataclasses import fields, is_dataclass
from typing import Callable, Hashable, Iterable, Sequence

from .. import types as T

SIMILARITY_THRESHOLD = 0.7
WEIGHTS = {"expr": 0.6, "title": 0.2, "clause": 0.1, "name": 0.1}

_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_COMMUTATIVE_ARITH = ("+", "*")


def r12(x) -> float:
    """A float rounded to 12 significant digits: hides the noise of unit conversion."""
    x = float(x)
    if math.isnan(x):
        return "nan"          # equal to itself, unlike the float
    if x == 0 or not math.isfinite(x):
        return x + 0.0
    return float(f"{x:.12g}")


def dim_key(unit) -> tuple:
    return _dim_key(unit.dimensionality)


@lru_cache(maxsize=4096)
def _dim_key(dimensionality) -> tuple:
    return tuple(sorted((str(k), float(v)) for k, v in dict(dimensionality).items()))


def type_key(t) -> tuple:
    """The meaning of a type: for numbers the dimension (the display unit is compared apart)."""
    if isinstance(t, T.NumT):
        return ("num", dim_key(t.unit))
    if isinstance(t, T.TextT):
        return ("text", tuple(sorted(t.categories)))
    if isinstance(t, T.DateT):
        return ("date", t.precision)
    if isinstance(t, T.LabelT):
        return ("label", t.labels)
    return (type(t).__name__,)


def rounding_quantum(r: T.Rounding | None) -> float | None:
    """The step of a rounded-value judgement in canonical units (None = full-value judgement)."""
    if r is None:
        return None
    return r12(r.factor * 10.0 ** (-r.decimals))


def orient(e: T.Cmp) -> tuple[str, object, object]:
    """(op, quantity side, limit side) of a comparison, with a constant limit on the right."""
    if isinstance(e.left, T.Const) and not isinstance(e.right, T.Const):
        return _MIRROR[e.op], e.right, e.left
    return e.op, e.left, e.right


class Canon:
    """Canonical form of typed expressions, reading names through ``rename`` ((kind, name) → name)."""

    def __init__(self, rename: dict[tuple[str, str], str] | None = None):
        self.rename = rename if rename is not None else {}
        self._cache: dict[int, tuple] = {}
        self._keep: list = []        # keep cached nodes alive so their ids stay unique

    def name(self, kind: str, name: str) -> str:
        return self.rename.get((kind, name), name)

    def clear(self) -> None:
        self._cache.clear()
        self._keep.clear()

    def __call__(self, e) -> tuple:
        if e is None:
            return ("none",)
        key = id(e)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        out = self._canon(e)
        self._cache[key] = out
        self._keep.append(e)
        return out

    def _sorted(self, items: Iterable) -> tuple:
        return tuple(sorted(items, key=repr))

    def _canon(self, e) -> tuple:
        method = _DISPATCH.get(type(e))
        if method is not None:
            return method(self, e)
        up, agg, lookup = (getattr(T, n, None) for n in ("Up", "Aggregate", "Lookup"))
        if up is not None and isinstance(e, up):
            return ("up", e.child, self(e.operand))
        if agg is not None and isinstance(e, agg):
            return ("agg", e.func, self.name("entity", e.child), self(e.value), self(e.where), self(e.default))
        if lookup is not None and isinstance(e, lookup):
            # key_maps only translate category codes: they follow from the keys and the table
            return ("lk", self.name("table", e.table), tuple(self(k) for k in e.keys), e.latest, e.column)
        return generic(e, self)

    # one method per node type (dispatched on the exact type: the hot path of the diff)
    def _const(self, e) -> tuple:
        t = e.type
        if isinstance(t, T.NumT):
            v = e.value
            return ("c", "num", dim_key(t.unit), r12(v) if isinstance(v, (int, float)) else generic(v, self))
        if isinstance(t, T.TextT):
            v = e.value
            if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(t.categories):
                v = t.categories[v]
            return ("c", "text", str(v))
        if isinstance(t, T.LabelT):
            v = e.value
            if isinstance(v, int) and 0 <= v < len(t.labels):
                v = t.labels[v]
            return ("c", "label", str(v))
        if isinstance(t, T.DateT):
            return ("c", "date", t.precision, float(e.value))
        if isinstance(t, T.BoolT):
            return ("c", "bool", bool(e.value))
        return ("c", type(t).__name__, repr(e.value))

    def _load(self, e) -> tuple:
        return ("ld", e.kind, self.rename.get((e.kind, e.name), e.name))

    def _neg(self, e) -> tuple:
        return ("neg", self(e.operand))

    def _arith(self, e) -> tuple:
        a, b = self(e.left), self(e.right)
        if e.op in _COMMUTATIVE_ARITH and repr(b) < repr(a):
            a, b = b, a
        return ("ar", e.op, a, b)

    def _cmp(self, e) -> tuple:
        op, q, lim = orient(e)
        a, b = self(q), self(lim)
        if op in ("==", "!=") and not isinstance(lim, T.Const) and repr(b) < repr(a):
            a, b = b, a
        return ("cmp", op, a, b, rounding_quantum(e.rounding))

    def _boolop(self, e) -> tuple:
        return ("bool", e.op) + self._sorted(self(x) for x in _flatten(e, e.op))

    def _not(self, e) -> tuple:
        return ("not", self(e.operand))

    def _is(self, e) -> tuple:
        return ("is", e.state, self(e.operand))

    def _inset(self, e) -> tuple:
        cats = e.operand.type.categories if isinstance(e.operand.type, T.TextT) else ()
        names = sorted(cats[i] if 0 <= i < len(cats) else str(i) for i in e.codes)
        return ("in", self(e.operand), tuple(names))

    def _if(self, e) -> tuple:
        return ("if", self(e.cond), self(e.then), self(e.else_))

    def _case(self, e) -> tuple:
        return ("case", tuple((self(w), self(v)) for w, v in e.whens), self(e.else_))

    def _func(self, e) -> tuple:
        args = tuple(self(a) for a in e.args)
        if e.name in ("min", "max"):
            args = self._sorted(args)
        return ("fn", e.name, args)

    def _verdicts(self, e) -> tuple:
        return ("vs", e.func, tuple(sorted(self.name("rule", r) for r in e.rules)))


_DISPATCH = {T.Const: Canon._const, T.Load: Canon._load, T.Neg: Canon._neg, T.Arith: Canon._arith, T.Cmp: Canon._cmp,
             T.BoolOp: Canon._boolop, T.NotOp: Canon._not, T.IsState: Canon._is, T.InSet: Canon._inset,
             T.IfElse: Canon._if, T.CaseWhen: Canon._case, T.Func: Canon._func, T.VerdictSet: Canon._verdicts}


def _flatten(e, op: str) -> list:
    """Operands of a chain of the same associative boolean operator: a and (b and c) → [a, b, c]."""
    if isinstance(e, T.BoolOp) and e.op == op:
        return _flatten(e.left, op) + _flatten(e.right, op)
    return [e]


_SKIP_FIELDS = {"decl", "span", "module", "diagnostics", "content_hash", "examples", "key_maps"}


def generic(obj, canon: Canon | None = None):
    """Canonical form of anything else (lookup tables added later, labels, units): dataclass
    fields without spans and source declarations; floats rounded; typed expressions via ``canon``."""
    canon = canon or Canon()
    if isinstance(obj, T.EXPRESSION_NODE_TYPES):
        return canon(obj)
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return r12(obj)
    if isinstance(obj, (T.NumT, T.TextT, T.DateT, T.BoolT, T.LabelT, T.VerdictT)):
        return type_key(obj) + ((r12(obj.unit.factor),) if isinstance(obj, T.NumT) else ())
    if hasattr(obj, "dimensionality") and hasattr(obj, "factor"):
        return ("unit", dim_key(obj), r12(obj.factor))
    if isinstance(obj, dict):
        return tuple(sorted(((generic(k, canon), generic(v, canon)) for k, v in obj.items()), key=repr))
    if isinstance(obj, (list, tuple)):
        return tuple(generic(x, canon) for x in obj)
    if isinstance(obj, (set, frozenset)):
        return tuple(sorted((generic(x, canon) for x in obj), key=repr))
    if is_dataclass(obj):
        return (type(obj).__name__,) + tuple(
            (f.name, generic(getattr(obj, f.name), canon)) for f in fields(obj)
            if f.name not in _SKIP_FIELDS and not f.name.endswith("span"))
    return repr(obj)


# ------------------------------------------------------------------ similarity


def sig(c) -> str:
    """Compact text of a canonical tuple, for bigram similarity."""
    if isinstance(c, tuple) and c:
        head = c[0]
        if head == "ld":
            return str(c[2])
        if head == "c":
            v = c[-1]
            return f"{v:.6g}" if isinstance(v, float) else str(v)
        if head == "cmp":
            return f"{sig(c[2])}{c[1]}{sig(c[3])}"
        if head in ("ar", "bool"):
            return "(" + f" {c[1]} ".join(sig(x) for x in c[2:]) + ")"
        return str(head) + "(" + ",".join(sig(x) for x in c[1:]) + ")"
    if isinstance(c, float):
        return f"{c:.6g}"
    return "" if c is None else str(c)


def bigrams(text: str) -> frozenset:
    """The set of character bigrams of a text."""
    return frozenset(text[i:i + 2] for i in range(max(0, len(text) - 1)))


def dice(a: frozenset, b: frozenset) -> float:
    """Dice coefficient of two bigram sets (sqlglot's ``_dice_coefficient``, on sets)."""
    total = len(a) + len(b)
    if not total:
        return 1.0
    return 2 * len(a & b) / total


class Profile:
    """Bigram sets of the parts of a declaration that similarity compares."""

    __slots__ = ("parts", "sizes")

    def __init__(self, parts: dict[str, str]):
        self.parts = {k: bigrams(v) for k, v in parts.items()}
        self.sizes = {k: len(v) for k, v in self.parts.items()}

    def score(self, other: "Profile", threshold: float = 0.0) -> float:
        num = den = bound = 0.0
        for k, w in WEIGHTS.items():
            a, b = self.sizes.get(k, 0), other.sizes.get(k, 0)
            if a == 0 and b == 0:
                continue
            den += w
            bound += w * (2 * min(a, b) / (a + b))
        if den == 0 or bound / den < threshold:    # cannot reach the threshold: skip the real work
            return 0.0
        empty = frozenset()
        for k, w in WEIGHTS.items():
            if self.sizes.get(k, 0) or other.sizes.get(k, 0):
                num += w * dice(self.parts.get(k, empty), other.parts.get(k, empty))
        return num / den


def match_items(old_names: Sequence[str], new_names: Sequence[str],
                content_old: Callable[[str], Hashable], content_new: Callable[[str], Hashable],
                profile_old: Callable[[str], Profile], profile_new: Callable[[str], Profile],
                threshold: float = SIMILARITY_THRESHOLD, forced: Iterable[tuple[str, str]] = (),
                exact_only: bool = False) -> list[tuple[str, str, float]]:
    """Pairs (old name, new name, similarity) of declarations of one kind; see the module doc.

    ``forced`` pairs are taken first (like sqlglot's ``matchings``); names that pair by name come
    next (similarity 1.0). With ``exact_only`` only identical content pairs beyond the names.
    """
    pairs: list[tuple[str, str, float]] = []
    old_left = list(old_names)
    new_set = set(new_names)
    taken_new: set[str] = set()
    for o, n in forced:
        if o in old_left and n in new_set and n not in taken_new:
            pairs.append((o, n, 1.0))
            old_left.remove(o)
            taken_new.add(n)
    for o in list(old_left):
        if o in new_set and o not in taken_new:
            pairs.append((o, o, 1.0))
            old_left.remove(o)
            taken_new.add(o)
    new_left = [n for n in new_names if n not in taken_new]
    if not old_left or not new_left:
        return pairs
    # identical content under another name: a rename
    by_content: dict[Hashable, list[str]] = {}
    for n in new_left:
        by_content.setdefault(content_new(n), []).append(n)
    for o in list(old_left):
        hits = by_content.get(content_old(o))
        if hits:
            n = hits.pop(0)
            pairs.append((o, n, 1.0))
            old_left.remove(o)
            new_left.remove(n)
    if exact_only or not old_left or not new_left:
        return pairs
    heap: list = []
    po = {o: profile_old(o) for o in old_left}
    pn = {n: profile_new(n) for n in new_left}
    for i, o in enumerate(old_left):
        for j, n in enumerate(new_left):
            s = po[o].score(pn[n], threshold)
            if s >= threshold:
                heapq.heappush(heap, (-s, i, j, o, n))
    used_o: set[str] = set()
    used_n: set[str] = set()
    while heap:
        s, _, _, o, n = heapq.heappop(heap)
        if o in used_o or n in used_n:
            continue
        used_o.add(o)
        used_n.add(n)
        pairs.append((o, n, round(-s, 4)))
    return pairs


__all__ = ["Canon", "generic", "match_items", "Profile", "sig", "r12", "dim_key", "type_key",
           "rounding_quantum", "orient", "SIMILARITY_THRESHOLD"]
