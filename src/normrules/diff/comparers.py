"""Comparing one matched pair of declarations of each kind (input, value, rule, result, param, table)."""

from __future__ import annotations

from .. import types as T
from ..explain import format_number
from .edits import Change
from .flips import _limit_path
from .formatting import _fields_text, _key_text, _label_text, _normalised, _row_text, _squash, _trend
from .match import r12, type_key
from .revision import Side, _cell, _is_ctable, _item_name, _label_key, _range_key, _range_set, _schema


class DeclarationComparer:
    """The per-kind comparisons of :class:`~.semantic._Differ`: ``compare_<kind>(old, new)``
    returns the :class:`~.edits.Change` values of one matched pair."""

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
        out = self._title(o, n) + _type_changes(o, n, "values are computed in canonical units; only the unit they "
                                                        "are shown in changes")
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
        out = self._title(o, n) + _type_changes(o, n, "the value is carried in canonical units; only the unit it is "
                                                        "shown in changes")
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


def _type_changes(o, n, unit_note: str) -> list[Change]:
    """A changed type, or for the same quantity a changed display unit (canonical values unchanged)."""
    if type_key(o.type) != type_key(n.type):
        return [Change("type", "type", str(o.type), str(n.type))]
    if isinstance(n.type, T.NumT) and r12(o.type.unit.factor) != r12(n.type.unit.factor):
        return [Change("unit", "type", o.type.unit.text, n.type.unit.text, effect="display", note=unit_note)]
    return []
