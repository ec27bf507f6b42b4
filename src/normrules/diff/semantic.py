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

Imports are paired by alias and compared on the ruleset, version, revision and overrides they
name (:mod:`.imports`). :class:`_Differ` is put together from the expression alignment
(:mod:`.alignment`), the flip statements (:mod:`.flips`), the per-kind comparisons
(:mod:`.comparers`) and the import comparison; the value sets are in :mod:`.intervals`, one
revision in :mod:`.revision`, the wording in :mod:`.formatting`.
"""

from __future__ import annotations

from pathlib import Path

from .alignment import ExpressionAligner
from .comparers import DeclarationComparer
from .edits import KINDS, Change, Edit, Insert, Keep, Move, Remove, RulesetDiff, Update
from .flips import FlipFinder
from .formatting import _entity_text, _label_text, _meta_text, plural
from .imports import ImportComparer
from .intervals import _contains, flip_regions, true_set  # noqa: F401  (importable from here, as before the split)
from .match import Canon, Profile, generic, match_items, sig, type_key
from .revision import Node, Side, _cell, _factor, _is_ctable, _label_key, _range_key, _schema

_META_ORDER = ("title_zh", "title_en", "document", "issuer", "version", "published", "effective",
               "status", "category", "supersedes")

_ORDER = ("input", "param", "table", "value", "rule", "result")


class _Differ(ImportComparer, DeclarationComparer, FlipFinder, ExpressionAligner):
    """Matches the declarations of two revisions and compares them into an edit script."""

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
        return out

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
        out += self.import_edits()
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


def _with_affects(c: Change, affects: tuple[str, ...]) -> Change:
    from dataclasses import replace

    return replace(c, affects=affects)


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
