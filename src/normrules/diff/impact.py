"""Impact of a revision on a population: both revisions evaluated on the same entities.

For every rule present in both revisions (matched by id or as a rename) the 4×4 matrix of
verdict transitions (pass, fail, not_applicable, unknown — old in rows, new in columns); for
every result the matrix of labels (old labels + unknown in rows, new labels + unknown in
columns); and every entity whose verdict or label changed on a matched output, with its key and
the before/after values; for every numeric derived value that moved, how many entities it moved
for and the range of the change. Rules and results only one revision has get their verdict counts on
their side.

Rulesets with child entities (BOM lines of a module, fuels of an enterprise) are evaluated with
the ``children`` tables; a changed child-level rule lists the child rows (``entity`` names the
child entity). Renamed inputs are fed from the same column: a column named after the old input (also with a
unit in brackets, ``co2 [kt CO2/yr]``) is read for the new name when the table has no column of
the new name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import types as T
from ..execute import NO_LABEL
from .edits import Insert, Keep, Move, Remove, Update
from .match import r12

VERDICTS = T.VERDICT_NAMES


@dataclass(frozen=True)
class Transition:
    before: str | None          # None: unknown (no label) for results
    after: str | None
    count: int

    def to_dict(self) -> dict:
        return {"from": self.before, "to": self.after, "count": self.count}


@dataclass(frozen=True)
class RuleImpact:
    name: str                   # the new id (the old id for a removed rule)
    old_name: str | None        # None for an added rule
    status: str                 # matched | added | removed
    before: dict | None         # verdict counts in the old revision
    after: dict | None
    matrix: tuple[tuple[int, ...], ...] = ()     # 4×4, old verdict × new verdict
    transitions: tuple[Transition, ...] = ()     # the non-zero off-diagonal cells
    changed: int = 0

    def count(self, before: str, after: str) -> int:
        return self.matrix[VERDICTS.index(before)][VERDICTS.index(after)] if self.matrix else 0


@dataclass(frozen=True)
class ResultImpact:
    name: str
    old_name: str | None
    status: str
    labels_before: tuple[str, ...]
    labels_after: tuple[str, ...]
    before: dict | None         # label counts ("unknown" for no label)
    after: dict | None
    matrix: tuple[tuple[int, ...], ...] = ()     # (old labels + unknown) × (new labels + unknown)
    transitions: tuple[Transition, ...] = ()
    changed: int = 0


@dataclass(frozen=True)
class ValueImpact:
    """How a numeric derived value moved (new − old, in the new revision's display unit)."""

    name: str
    old_name: str
    unit: str
    changed: int                # entities whose value changed (beyond 1e-9 relative), known in both
    became_unknown: int
    became_known: int
    min_change: float | None
    max_change: float | None


@dataclass(frozen=True)
class OutputChange:
    output: str
    before: str | None          # verdict name, result label, None = unknown label
    after: str | None


@dataclass(frozen=True)
class EntityChange:
    key: str
    row: int                    # 0-based row of the entity's table
    changes: tuple[OutputChange, ...]
    entity: str = ""            # the entity (the root entity, or a child entity such as a BOM line)


@dataclass(frozen=True)
class Impact:
    n: int
    key: str                    # the key column of the new revision's entity
    rules: tuple[RuleImpact, ...]
    results: tuple[ResultImpact, ...]
    entities: tuple[EntityChange, ...]
    invalid_before: dict
    invalid_after: dict
    warnings: tuple[str, ...] = ()
    values: tuple[ValueImpact, ...] = ()      # numeric values whose results moved

    def rule(self, name: str) -> RuleImpact:
        return next(r for r in self.rules if r.name == name or r.old_name == name)

    def result(self, name: str) -> ResultImpact:
        return next(r for r in self.results if r.name == name or r.old_name == name)


# ------------------------------------------------------------------ evaluation


def _load_table(data):
    if isinstance(data, (str, Path)):
        from ..tables import read_table

        return read_table(data)
    return data


def _to_arrow(data):
    import pyarrow as pa

    try:
        from ..tables import to_arrow

        return to_arrow(data)
    except ImportError:  # pragma: no cover - older tables module
        if isinstance(data, pa.Table):
            return data
        if hasattr(data, "to_dict") and hasattr(data, "columns"):
            return pa.Table.from_pandas(data, preserve_index=False)
        return pa.table({k: list(v) for k, v in data.items()})


def _renamed_inputs(data, renames: dict[str, str]):
    """The table with columns of renamed inputs also available under the new names."""
    if not renames:
        return data
    table = _to_arrow(data)
    names = list(table.column_names)
    bases = [n.split("[", 1)[0].strip() for n in names]
    present = set(bases)
    new_names = []
    for name, base in zip(names, bases):
        target = renames.get(base)
        if target and target not in present:
            new_names.append(target + name[len(name.split("[", 1)[0].rstrip()):])
        else:
            new_names.append(name)
    return table.rename_columns(new_names) if new_names != names else table


def _verdict_counts(codes: np.ndarray) -> dict:
    c = np.bincount(codes, minlength=4)
    return {VERDICTS[i]: int(c[i]) for i in range(4)}


def _label_index(codes: np.ndarray, n_labels: int) -> np.ndarray:
    return np.where(codes == NO_LABEL, n_labels, codes).astype(np.int64)


def _label_counts(idx: np.ndarray, labels: tuple[str, ...]) -> dict:
    c = np.bincount(idx, minlength=len(labels) + 1)
    return {lab: int(c[i]) for i, lab in enumerate(labels)} | {"unknown": int(c[-1])}


def _evaluate(rs, data, children, as_of, invalid):
    kw = {"invalid": invalid}
    if children:
        kw["children"] = children
    if as_of is not None:
        kw["as_of"] = as_of
    return rs.evaluate(data, **kw)


def _entity_of(rs, name: str) -> str:
    c = rs.checked
    try:
        return (c.entity_of(name) if hasattr(c, "entity_of") else None) or c.entity
    except KeyError:  # pragma: no cover
        return c.entity


def _keys(ev, entity: str) -> np.ndarray:
    by = getattr(ev, "keys_by_entity", None) or {}
    keys = by.get(entity)
    return (ev.keys if keys is None else keys).astype(str)


def compute_impact(old, new, data, edits, rename: dict, invalid: str = "unknown", children=None,
                   as_of=None) -> Impact:
    """Evaluate both revisions on ``data`` (and ``children`` tables of child entities) and compare."""
    data = _load_table(data)
    children = {k: _load_table(v) for k, v in (children or {}).items()}
    input_renames = {o: n for (k, o), n in rename.items() if k == "input"}
    ev_old = _evaluate(old, data, children, as_of, invalid)
    ev_new = _evaluate(new, _renamed_inputs(data, input_renames),
                       {k: _renamed_inputs(v, input_renames) for k, v in children.items()}, as_of, invalid)
    if ev_old.n != ev_new.n:  # pragma: no cover - same table
        raise ValueError("the two evaluations have different numbers of entities")
    n = ev_new.n
    rules, results = [], []
    # (entity, output name, mask, before texts, after texts)
    per_output: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]] = []

    for e in edits:
        if e.kind not in ("rule", "result"):
            continue
        if isinstance(e, (Keep, Update, Move)):
            o_name = e.old_name if isinstance(e, Move) else e.name
            status = "matched"
        elif isinstance(e, Insert):
            o_name, status = None, "added"
        elif isinstance(e, Remove):
            o_name, status = e.name, "removed"
        else:  # pragma: no cover
            continue
        n_name = None if isinstance(e, Remove) else e.name
        if e.kind == "rule":
            oc = ev_old.verdict_codes(o_name).astype(np.int64) if o_name else None
            nc = ev_new.verdict_codes(n_name).astype(np.int64) if n_name else None
            if status == "matched" and len(oc) != len(nc):     # judged on another entity now
                status = "incomparable"
            if status != "matched":
                rules.append(RuleImpact(e.name, o_name, status, _verdict_counts(oc) if oc is not None else None,
                                        _verdict_counts(nc) if nc is not None else None))
                continue
            m = np.bincount(oc * 4 + nc, minlength=16).reshape(4, 4)
            trans = tuple(Transition(VERDICTS[i], VERDICTS[j], int(m[i, j]))
                          for i in range(4) for j in range(4) if i != j and m[i, j])
            changed = int(m.sum() - np.trace(m))
            rules.append(RuleImpact(e.name, o_name, status, _verdict_counts(oc), _verdict_counts(nc),
                                    tuple(tuple(int(x) for x in row) for row in m), trans, changed))
            mask = oc != nc
            if changed:
                names = np.array(VERDICTS, dtype=object)
                per_output.append((_entity_of(new, e.name), e.name, mask, names[oc], names[nc]))
        else:
            o_item = old.checked.by_name()[o_name] if o_name else None
            n_item = new.checked.by_name()[n_name] if n_name else None
            ol = tuple(o_item.labels) if o_item is not None else ()
            nl = tuple(n_item.labels) if n_item is not None else ()
            oi = _label_index(ev_old.columns[o_name].data, len(ol)) if o_name else None
            ni = _label_index(ev_new.columns[n_name].data, len(nl)) if n_name else None
            if status == "matched" and len(oi) != len(ni):
                status = "incomparable"
            if status != "matched":
                results.append(ResultImpact(e.name, o_name, status, ol, nl,
                                            _label_counts(oi, ol) if oi is not None else None,
                                            _label_counts(ni, nl) if ni is not None else None))
                continue
            m = np.bincount(oi * (len(nl) + 1) + ni, minlength=(len(ol) + 1) * (len(nl) + 1)).reshape(len(ol) + 1, len(nl) + 1)
            rows = list(ol) + [None]
            cols = list(nl) + [None]
            # an old label and a new label are "the same" when their text is equal
            same = np.array([cols.index(lab) if lab in cols else -1 for lab in rows])
            mapped = same[oi]
            mask = mapped != ni
            trans = tuple(Transition(rows[i], cols[j], int(m[i, j]))
                          for i in range(len(rows)) for j in range(len(cols)) if same[i] != j and m[i, j])
            changed = int(mask.sum())
            results.append(ResultImpact(e.name, o_name, status, ol, nl, _label_counts(oi, ol), _label_counts(ni, nl),
                                        tuple(tuple(int(x) for x in row) for row in m), trans, changed))
            if changed:
                per_output.append((_entity_of(new, e.name), e.name, mask, np.array(rows, dtype=object)[oi],
                                   np.array(cols, dtype=object)[ni]))

    entities: list[EntityChange] = []
    if per_output:
        root = new.checked.entity
        order = [root] + [x for x in dict.fromkeys(ent for ent, *_ in per_output) if x != root]
        rows_changes: dict[tuple[int, int], list[OutputChange]] = {}
        for ent, name, mask, before, after in per_output:
            for r in np.flatnonzero(mask):
                rows_changes.setdefault((order.index(ent), int(r)), []).append(OutputChange(name, before[r], after[r]))
        keys = {ent: _keys(ev_new, ent) for ent in order}
        entities = [EntityChange(str(keys[order[i]][r]), r, tuple(rows_changes[(i, r)]), order[i])
                    for i, r in sorted(rows_changes)]
    warnings = tuple(dict.fromkeys(list(ev_old.warnings) + list(ev_new.warnings)))
    return Impact(n, new.checked.key, tuple(rules), tuple(results), tuple(entities),
                  dict(ev_old.invalid_counts), dict(ev_new.invalid_counts), warnings,
                  _value_impacts(old, new, ev_old, ev_new, edits))


def _value_impacts(old, new, ev_old, ev_new, edits) -> tuple[ValueImpact, ...]:
    out = []
    for e in edits:
        if e.kind != "value" or not isinstance(e, (Keep, Update, Move)):
            continue
        o_name = e.old_name if isinstance(e, Move) else e.name
        item = new.checked.by_name()[e.name]
        if not isinstance(item.type, T.NumT) or o_name not in ev_old.columns or e.name not in ev_new.columns:
            continue
        a, b = ev_old.columns[o_name], ev_new.columns[e.name]
        if len(a.data) != len(b.data):
            continue
        ka, kb = np.asarray(a.known, bool), np.asarray(b.known, bool)
        both = ka & kb
        x, y = np.asarray(a.data, float), np.asarray(b.data, float)
        with np.errstate(all="ignore"):
            moved = both & ~(np.abs(y - x) <= 1e-9 * np.maximum(np.abs(x), np.abs(y)))
        lost, gained = int((ka & ~kb).sum()), int((~ka & kb).sum())
        if not moved.any() and not lost and not gained:
            continue
        delta = (y[moved] - x[moved]) / item.type.unit.factor
        out.append(ValueImpact(e.name, o_name, item.type.unit.text if item.type.unit.text != "1" else "",
                               int(moved.sum()), lost, gained,
                               r12(delta.min()) if len(delta) else None, r12(delta.max()) if len(delta) else None))
    return tuple(out)


__all__ = ["Impact", "ValueImpact", "RuleImpact", "ResultImpact", "EntityChange", "OutputChange", "Transition", "compute_impact"]
