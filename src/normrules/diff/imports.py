"""Comparing the imports of two revisions: one edit of kind ``import`` per alias.

An import (``import <id>[@"<version>"] as <alias>`` with its ``override <alias>.<param> = …``
lines) is paired by its alias. A pair is compared on

* ``ruleset``: the alias imports another ruleset (the other aspects are then not compared);
* ``version``: the pinned version as written (``@"2025"``, or none: the revision in force);
* ``revision``: the imported revision that was compiled differs (another version, or the same
  version with other content), with a summary of the imported ruleset's own diff;
* ``override``: an override added, removed or given another value, compared in canonical units
  (``0.18 t CO2/tce`` = ``180 kg CO2/tce``), with the flips of the imported rules that use the
  param as a limit (named ``alias.rule``) and the rules and results of the importing ruleset that
  read what the param changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .. import ast
from .. import types as T
from ..explain import format_value
from .edits import Change, Edit, Insert, Keep, Remove, RulesetDiff, Update
from .formatting import _names, _normalised, _trend
from .revision import Node, Side


@dataclass(frozen=True)
class _Import:
    """One import of one revision, with the overrides it declares."""

    alias: str
    ruleset: object = field(repr=False)          # the compiled imported ruleset, overrides applied
    version: str | None                          # the version pinned in the declaration
    text: str                                    # the declaration and its overrides, as written
    overrides: dict = field(repr=False)          # param name → CParam (``overridden`` is the original)


def _imports(side: Side) -> dict[str, _Import]:
    c = side.c
    decls = {d.alias: d for d in c.module.items if isinstance(d, ast.ImportDecl)}
    written = {}
    for d in c.module.items:
        if isinstance(d, ast.OverrideDecl):
            alias, _, name = d.target.name.partition(".")
            written[(alias, name)] = d
    out = {}
    for alias, sub in getattr(c, "imports", ()) or ():
        decl = decls.get(alias)
        overrides = {p.name: p for p in sub.checked.params if p.overridden is not None}
        version = decl.version if decl is not None else None
        lines = [_span_text(side, decl) or f"import {sub.checked.id}{_pin(version)} as {alias}"]
        for name, p in overrides.items():
            lines.append(_span_text(side, written.get((alias, name)))
                         or f"override {alias}.{name} = {p.expr.text or format_value(p.type, p.expr.value)}")
        out[alias] = _Import(alias, sub, version, "\n".join(lines), overrides)
    return out


def _span_text(side: Side, decl) -> str:
    span = getattr(decl, "span", None)
    if span is None or not span.end > span.start or span.end > len(side.source):
        return ""
    return side.source[span.start:span.end].strip()


def _pin(version: str | None) -> str:
    return f'@"{version}"' if version is not None else ""


def _pin_text(version: str | None) -> str:
    return _pin(version) or "(no version: the final revision in force)"


def _const_text(p) -> str:
    return p.expr.text or format_value(p.type, p.expr.value)


class ImportComparer:
    """The import edits of :class:`~.semantic._Differ` (reads its revisions ``o``/``n``)."""

    def import_edits(self) -> list[Edit]:
        """One edit of kind ``import`` per alias: new aliases in declaration order, then removed ones."""
        old, new = _imports(self.o), _imports(self.n)
        out: list[Edit] = []
        for alias, b in new.items():
            a = old.get(alias)
            if a is None:
                out.append(Insert("import", alias, b.ruleset, b.text, self._alias_affects(alias, (self.n,))))
                continue
            changes = self.compare_import(a, b)
            if changes:
                affects = tuple(dict.fromkeys(x for c in changes for x in c.affects))
                out.append(Update("import", alias, a.ruleset, b.ruleset, tuple(changes), affects))
            else:
                out.append(Keep("import", alias, a.ruleset, b.ruleset))
        for alias, a in old.items():
            if alias not in new:
                out.append(Remove("import", alias, a.ruleset, a.text, self._alias_affects(alias, (self.o,))))
        return out

    def compare_import(self, a: _Import, b: _Import) -> list[Change]:
        ac, bc = a.ruleset.checked, b.ruleset.checked
        if ac.id != bc.id:
            return [Change("ruleset", "ruleset", ac.ref, bc.ref, note="the alias now imports another ruleset",
                           affects=self._alias_affects(a.alias, (self.o, self.n)))]
        out = []
        if a.version != b.version:
            same = ac.ref == bc.ref
            out.append(Change("version", "version", _pin_text(a.version), _pin_text(b.version),
                              effect="behaviour" if not same else "documentation",
                              note=f"both take {bc.ref}" if same else "",
                              affects=() if same else self._alias_affects(a.alias, (self.o, self.n))))
        revised = ac.ref != bc.ref or ac.content_hash != bc.content_hash
        overrides = [name for name in dict.fromkeys([*b.overrides, *a.overrides])
                     if not self._same_override(a.overrides.get(name), b.overrides.get(name))]
        if revised or overrides:
            from .semantic import _Differ

            sub = _Differ(a.ruleset, b.ruleset)       # the imported revisions, overrides applied
            sub_edits = sub.edits()
            if revised:
                out.append(self._revision_change(a, b, sub_edits))
            out += [self._override_change(a, b, name, sub) for name in overrides]
        return out

    def _same_override(self, oa, ob) -> bool:
        """The same value overridden by both revisions, whatever unit it is written in."""
        return oa is not None and ob is not None and self.cn(oa.expr) == self.cn(ob.expr) \
            and self.cn(oa.overridden) == self.cn(ob.overridden)

    def _revision_change(self, a: _Import, b: _Import, sub_edits) -> Change:
        """The imported revision changed: what its own diff says, leaving out the param values
        that differ only because of the overrides."""
        def original(imp: _Import, name: str):
            p = imp.overrides.get(name) or next((x for x in imp.ruleset.checked.params if x.name == name), None)
            return None if p is None else (p.overridden if p.overridden is not None else p.expr)

        def own(e) -> bool:
            if e.kind != "param" or not isinstance(e, Update) or e.name not in {*a.overrides, *b.overrides}:
                return True
            before, after = original(a, e.name), original(b, e.name)
            return before is None or after is None or self.cn(before) != self.cn(after) or any(
                c.aspect not in ("value", "threshold") for c in e.changes)

        sub = RulesetDiff(a.ruleset, b.ruleset, tuple(e for e in sub_edits if own(e)))
        s = sub.summary()
        what = _names([f"{x.kind} {x.name}" for x in sub.changes], 5)
        note = (f"the imported ruleset differs: {s['update']} changed, {s['insert']} added, {s['remove']} removed, "
                f"{s['move']} renamed ({what})" if not sub.is_empty else "the imported ruleset differs only in form")
        return Change("revision", "ruleset", a.ruleset.checked.ref, b.ruleset.checked.ref, note=note,
                      affects=self._alias_affects(a.alias, (self.o, self.n)))

    def _override_change(self, a: _Import, b: _Import, name: str, sub) -> Change:
        """An override added, removed or given another value; ``sub`` diffs the imported revisions."""
        oa, ob = a.overrides.get(name), b.overrides.get(name)
        where = f"{b.alias}.{name}"
        pa = next((p for p in a.ruleset.checked.params if p.name == name), None)
        pb = next((p for p in b.ruleset.checked.params if p.name == name), None)
        before = _normalised(_const_text(oa), oa.expr, oa.type) if oa is not None else ""
        after = _normalised(_const_text(ob), ob.expr, ob.type) if ob is not None else ""
        if pa is None or pb is None:          # the param is not in one of the imported revisions
            return Change("override", where, before, after, affects=self._param_affects(a, b, name),
                          note=f"`{name}` is not a param of {(a if pa is None else b).ruleset.checked.ref}")
        if ob is not None and oa is None:
            what = f"override added; the imported ruleset says {_normalised(_const_text(pa), pa.expr, pa.type)}"
        elif oa is not None and ob is None:
            what = f"override removed; the imported ruleset says {_normalised(_const_text(pb), pb.expr, pb.type)}"
        else:
            what = ""
        if self.cn(pa.expr) == self.cn(pb.expr):
            note = ", ".join(x for x in (what, "the value in effect is the same") if x)
            return Change("override", where, before, after, effect="documentation", note=note)
        flips: tuple = ()
        used = False
        if isinstance(pa.expr.type, T.NumT) and isinstance(pb.expr.type, T.NumT):
            flips, used = sub.propagate(("param", name), ("param", name), pa.expr, pb.expr, [])
            flips = tuple(_prefixed(f, b.alias) for f in flips)
        note = ", ".join(x for x in (what, _trend(flips)) if x)
        return Change("override", where, before, after, aspects=("override", "threshold" if used else "value"),
                      note=note, flips=flips, affects=self._param_affects(a, b, name))

    # -------------------------------------------------------------- what an import affects
    def _alias_affects(self, alias: str, sides, reads=None) -> tuple[str, ...]:
        """Rules and results of the importing revisions (under new names) that read names of
        ``alias`` (only those in ``reads``, imported names without the alias, when given)."""
        outs: set[Node] = set()
        for side in sides:
            for node in side.graph.nodes:
                if node[0] != "import" or not node[1].startswith(alias + "."):
                    continue
                if reads is not None and node[1][len(alias) + 1:] not in reads:
                    continue
                outs |= {(k, self.rename.get((k, x), x)) if side is self.o else (k, x)
                         for k, x in side.downstream(*node)}
        return self._sorted_outputs(outs)

    def _param_affects(self, a: _Import, b: _Import, name: str) -> tuple[str, ...]:
        """What an override of the param ``name`` can change in the importing revisions."""
        reads = set()
        for imp in (a, b):
            g = imp.ruleset.graph.graph
            node = ("param", name)
            if node in g:
                reads |= {x for _, x in nx.descendants(g, node)} | {name}
        return self._alias_affects(b.alias, (self.o, self.n), reads)


def _prefixed(flip, alias: str):
    """A flip of the imported ruleset, its output named through the alias (``national.core.intensity``)."""
    from dataclasses import replace

    return replace(flip, output=f"{alias}.{flip.output}")


__all__ = ["ImportComparer"]
