"""The front door: compile a ruleset, evaluate it over a table, read the results.

>>> import normrules
>>> rs = normrules.load("rulesets/gb/zero_carbon_park.nr")
>>> ev = rs.evaluate({"energy": [500_000.0], "co2": [90_000.0], "clean_share": [95.0],
...                   "product_energy_level2": [True], "solid_waste_util": [85.0], "waste_heat_util": [60.0]})
>>> ev.verdicts("core.intensity")
['pass']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pyarrow as pa

from . import types as T
from .check import CheckedRuleset, check
from .errors import CheckFailed, Diagnostic, NormrulesError, RulesetNotFound, SourceMap
from .execute import NO_LABEL, Col, Counters, execute
from .graph import RuleGraph, build_graph
from .parse import SyntaxFailed, parse
from .plan import Plan, make_plan
from .resolve import resolve
from .tables import InputReader

_VERDICTS = np.array(T.VERDICT_NAMES, dtype=object)


def _significant(values: np.ndarray, digits: int = 12) -> np.ndarray:
    """Round to ``digits`` significant digits: hides the float noise of unit conversion in output."""
    with np.errstate(all="ignore"):
        magnitude = np.floor(np.log10(np.abs(values)))
        scale = 10.0 ** np.where(np.isfinite(magnitude), digits - 1 - magnitude, 0)
        return np.where(np.isfinite(values) & (values != 0), np.round(values * scale) / scale, values)


def _with_as_of(table, as_of):
    from .tables import to_arrow

    t = to_arrow(table)
    if "as_of" in t.column_names:
        return t
    return t.append_column("as_of", pa.array([str(as_of)] * t.num_rows, pa.string()))


def compile_module(module, load_import=None, sources: SourceMap | None = None) -> "Ruleset":
    """Resolve, check, graph and plan a parsed module."""
    if sources is None:
        sources = SourceMap()
        sources.add(module.file, module.source)
    checked, diags = check(resolve(module, load_import))
    if checked is None:
        raise CheckFailed(sorted(diags, key=lambda d: (d.span.line, d.span.col)), sources)
    try:
        graph = build_graph(checked)
    except CheckFailed as exc:
        raise CheckFailed(exc.diagnostics, sources) from None
    return Ruleset(checked, graph, make_plan(graph), sources)


def compile_text(text: str, file: str = "<string>", *, roots=None, as_of=None) -> "Ruleset":
    """Run every compile phase on ruleset text; raise :class:`CheckFailed` with all diagnostics.

    Imports are resolved from ``roots`` (default: the shipped ``rulesets/``, ``./rulesets`` and
    ``$NORMRULES_PATH``); ``as_of`` (a date) picks the revision in force for imports without a version.
    """
    import datetime as _dt

    from .imports import ImportLoader

    sources = SourceMap()
    if isinstance(as_of, str):
        as_of = _dt.date.fromisoformat(as_of)
    try:
        module = parse(text, file, sources)
    except SyntaxFailed as exc:
        raise _with_semantic_errors(exc, lambda m: compile_module(m, ImportLoader(roots, as_of, (m.header.id,)),
                                                                  sources)) from None
    return compile_module(module, ImportLoader(roots, as_of, (module.header.id,)), sources)


def _with_semantic_errors(exc: SyntaxFailed, compile_partial) -> CheckFailed:
    """The syntax errors plus the errors of the declarations that did parse — except those that may
    only follow from a broken declaration (a reference to a name it would have declared)."""
    extra: list[Diagnostic] = []
    if exc.partial is not None:
        try:
            compile_partial(exc.partial)
        except CheckFailed as semantic:
            extra = [d for d in semantic.diagnostics if d.severity == "error" and not exc.is_cascade(d)]
        except NormrulesError:
            pass
    diagnostics = sorted([*exc.diagnostics, *extra], key=lambda d: (d.span.line, d.span.col))
    return CheckFailed(diagnostics, exc.sources)


def load(path: str | Path, *, roots=None, as_of=None) -> "Ruleset":
    """Load and compile one ruleset file (``.nr``)."""
    p = Path(path)
    if not p.is_file():
        raise RulesetNotFound(f"no ruleset file at {p}")
    return compile_text(p.read_text("utf-8"), str(p), roots=roots, as_of=as_of)


def loads(text: str, file: str = "<string>", *, roots=None, as_of=None) -> "Ruleset":
    """Compile ruleset text (imports are resolved as for :func:`compile_text`)."""
    return compile_text(text, file, roots=roots, as_of=as_of)


def input_paths(ruleset: "Ruleset", specs: Iterable[str]) -> dict[str, str]:
    """``FILE`` (the root entity's table) or ``ENTITY=FILE`` specs, as ``--input`` takes them, by entity.

    A prefix before ``=`` that names no entity of the ruleset is part of the path."""
    checked = ruleset.checked
    names = [e.name for e in checked.entities] or [checked.entity]
    paths: dict[str, str] = {}
    for spec in specs:
        entity, sep, path = spec.partition("=")
        if not sep or entity not in names:
            entity, path = checked.entity, spec
        paths[entity] = path
    return paths


def find_rulesets(paths: Iterable[str | Path]) -> list[Path]:
    """Every ``.nr`` file named, or under the directories named, in a stable order."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(p.rglob("*.nr")))
        elif p.is_file():
            out.append(p)
        else:
            raise RulesetNotFound(f"no file or directory {p}")
    return out


@dataclass(frozen=True)
class Ruleset:
    """A compiled ruleset: checked, graphed and planned. Immutable; evaluate it any number of times."""

    checked: CheckedRuleset
    graph: RuleGraph
    plan: Plan
    sources: SourceMap

    @property
    def id(self) -> str:
        return self.checked.id

    @property
    def ref(self) -> str:
        """``id@version``."""
        return self.checked.ref

    @property
    def content_hash(self) -> str:
        return self.checked.content_hash

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return self.checked.diagnostics

    def plan_for(self, outputs: Iterable[str]) -> Plan:
        """A plan computing only ``outputs`` and what they need."""
        return make_plan(self.graph, outputs)

    def evaluate(self, table, *, children: dict | None = None, as_of=None, outputs: Iterable[str] | None = None,
                 invalid: str = "error") -> "Evaluation":
        """Evaluate over every row of ``table`` (pandas DataFrame, pyarrow Table or dict of arrays).

        ``children`` maps each child entity to its table (rows linked to ``table`` by a column
        named like the parent's key). ``as_of`` (a date or ``YYYY-MM-DD``) fills an ``as_of``
        input where the table has no such column. ``invalid="unknown"`` reads out-of-range values
        and undeclared categories as unknown (and counts them) instead of raising
        :class:`~normrules.errors.DataError`.
        """
        c = self.checked
        if as_of is not None and any(i.name == "as_of" and (i.entity or c.entity) == c.entity for i in c.inputs):
            table = _with_as_of(table, as_of)
        reader = InputReader(c, invalid)
        if len(c.entities) > 1 or children:
            inputs, entities, keys_by = reader.read_all({c.entity: table, **(children or {})})
            n, keys = entities.sizes[c.entity], keys_by[c.entity]
        else:
            inputs, n, keys = reader.read(table)
            entities, keys_by = n, {c.entity: keys}
        imported: dict[str, Col] = {}
        warnings = list(reader.warnings)
        for alias, sub in c.imports:
            inner = sub.evaluate(table, children=children, as_of=as_of, invalid=invalid)
            imported.update({f"{alias}.{name}": col for name, col in inner.columns.items()})
            warnings += [f"{alias}: {w}" for w in inner.warnings]
        plan = self.plan if outputs is None else self.plan_for(outputs)
        env, counters = execute(plan, inputs, entities, imported)
        return Evaluation(self, plan, env, n, keys, counters, tuple(dict.fromkeys(warnings)),
                          dict(reader.invalid_counts), keys_by)

    def resolved_entities(self):
        """The entity declarations, for a ruleset importing this one without declaring its own."""
        return self.checked.entities


@dataclass(frozen=True)
class Evaluation:
    """The columns computed for every entity, with helpers to read them."""

    ruleset: Ruleset
    plan: Plan
    columns: dict[str, Col]
    n: int
    keys: np.ndarray
    counters: Counters
    warnings: tuple[str, ...]
    invalid_counts: dict[str, int]
    keys_by_entity: dict = None

    def _item(self, name: str):
        item = self.ruleset.checked.by_name().get(name)
        if item is None and "." in name:          # `alias.name`: computed by an imported ruleset
            alias, rest = name.split(".", 1)
            sub = dict(self.ruleset.checked.imports).get(alias)
            item = sub.checked.by_name().get(rest) if sub is not None else None
        if item is None:
            raise KeyError(name)
        return item

    def verdict_codes(self, rule_id: str) -> np.ndarray:
        return self.columns[rule_id].data

    def verdicts(self, rule_id: str) -> list[str]:
        return list(_VERDICTS[self.columns[rule_id].data])

    def labels(self, result: str) -> list[str | None]:
        res = self._item(result)
        table = np.array(list(res.labels) + [None], dtype=object)
        codes = self.columns[result].data
        return list(table[np.where(codes == NO_LABEL, len(res.labels), codes)])

    def values(self, name: str) -> np.ndarray:
        """A numeric value in its declared (display) unit, NaN where unknown."""
        item = self._item(name)
        col = self.columns[name]
        return np.where(col.known, col.data / item.type.unit.factor, np.nan)

    def display_column(self, name: str) -> tuple[str, pa.Array]:
        """The output column for ``name``: header (with unit) and Arrow array (null = unknown)."""
        item = self._item(name)
        col = self.columns[name]
        mask = ~col.known
        if hasattr(item, "require"):
            return name, pa.array(_VERDICTS[col.data].astype(str))
        if hasattr(item, "branches"):
            table = np.array(list(item.labels) + ["unknown"], dtype=object)
            return name, pa.array(table[np.where(col.data == NO_LABEL, len(item.labels), col.data)].astype(str))
        typ = item.type
        if isinstance(typ, T.NumT):
            header = name if typ.unit.text == "1" else f"{name} [{typ.unit.text}]"
            return header, pa.array(_significant(col.data / typ.unit.factor), mask=mask)
        if isinstance(typ, T.BoolT):
            return name, pa.array(col.data.astype(bool), mask=mask)
        if isinstance(typ, T.TextT):
            cats = np.array(typ.categories, dtype=object)
            return name, pa.array(cats[col.data.astype(int)].astype(str), mask=mask)
        if isinstance(typ, T.DateT):
            if typ.precision == "day":
                return name, pa.array(col.data.astype("int32"), mask=mask).cast(pa.date32())
            y, m = np.divmod(col.data.astype(int), 12)
            text = np.char.add(np.char.add(y.astype(str), "-"), np.char.zfill((m + 1).astype(str), 2))
            return name, pa.array(text, mask=mask)
        raise AssertionError(typ)

    def to_arrow(self, include_inputs: bool = False, entity: str | None = None) -> pa.Table:
        """One row per entity (the root entity, or ``entity``): key, [inputs,] every value,
        verdict and result of the plan."""
        rs = self.ruleset.checked
        entity = entity or rs.entity
        keys = self.keys if entity == rs.entity else self.keys_by_entity[entity]
        names, arrays = [rs.key_of(entity) if rs.entities else rs.key], [pa.array(keys.astype(str))]
        wanted = [n for k, n in self.plan.steps if k in ("value", "rule", "result", "import")
                  or (k == "input" and include_inputs)]
        wanted = [n for n in wanted if n in self.columns and len(self.columns[n].data) == len(keys)
                  and (getattr(self._item(n), "entity", "") or rs.entity) == entity]
        for name in wanted:
            header, arr = self.display_column(name)
            names.append(header)
            arrays.append(arr)
        meta = {b"normrules.ruleset": rs.ref.encode(), b"normrules.sha256": rs.content_hash.encode()}
        return pa.Table.from_arrays(arrays, names=names).replace_schema_metadata(meta)

    def to_pandas(self):
        return self.to_arrow().to_pandas()

    def counts(self) -> dict[str, dict[str, int]]:
        """Per rule, how many entities got each verdict; per result, how many got each label."""
        out: dict[str, dict[str, int]] = {}
        for kind, name in self.plan.steps:
            if kind == "rule":
                c = np.bincount(self.columns[name].data, minlength=4)
                out[name] = {T.VERDICT_NAMES[i]: int(c[i]) for i in range(4)}
            elif kind == "result":
                item = self._item(name)
                codes = self.columns[name].data
                c = np.bincount(np.where(codes == NO_LABEL, len(item.labels), codes), minlength=len(item.labels) + 1)
                out[name] = {lab: int(c[i]) for i, lab in enumerate(item.labels)} | {"unknown": int(c[-1])}
        return out

    def row_index(self, key: str) -> int:
        hits = np.flatnonzero(self.keys.astype(str) == str(key))
        if not len(hits):
            raise NormrulesError(f"no entity with {self.ruleset.checked.key} = {key!r}")
        return int(hits[0])


__all__ = ["Ruleset", "Evaluation", "load", "loads", "compile_text", "find_rulesets"]
