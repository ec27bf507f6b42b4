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
from .parse import parse
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


def compile_text(text: str, file: str = "<string>") -> "Ruleset":
    """Run every compile phase on ruleset text; raise :class:`CheckFailed` with all diagnostics."""
    sources = SourceMap()
    module = parse(text, file, sources)
    checked, diags = check(resolve(module))
    if checked is None:
        raise CheckFailed(sorted(diags, key=lambda d: (d.span.line, d.span.col)), sources)
    try:
        graph = build_graph(checked)
    except CheckFailed as exc:
        raise CheckFailed(exc.diagnostics, sources) from None
    return Ruleset(checked, graph, make_plan(graph), sources)


def load(path: str | Path) -> "Ruleset":
    """Load and compile one ruleset file (``.nr``)."""
    p = Path(path)
    if not p.is_file():
        raise RulesetNotFound(f"no ruleset file at {p}")
    return compile_text(p.read_text("utf-8"), str(p))


def loads(text: str, file: str = "<string>") -> "Ruleset":
    """Compile ruleset text."""
    return compile_text(text, file)


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

    def evaluate(self, table, *, outputs: Iterable[str] | None = None, invalid: str = "error") -> "Evaluation":
        """Evaluate over every row of ``table`` (pandas DataFrame, pyarrow Table or dict of arrays).

        ``invalid="unknown"`` reads out-of-range values and undeclared categories as unknown (and
        counts them) instead of raising :class:`~normrules.errors.DataError`.
        """
        reader = InputReader(self.checked, invalid)
        inputs, n, keys = reader.read(table)
        plan = self.plan if outputs is None else self.plan_for(outputs)
        env, counters = execute(plan, inputs, n)
        return Evaluation(self, plan, env, n, keys, counters, tuple(reader.warnings), dict(reader.invalid_counts))


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

    def _item(self, name: str):
        return self.ruleset.checked.by_name()[name]

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

    def to_arrow(self, include_inputs: bool = False) -> pa.Table:
        """One row per entity: key, [inputs,] every value, verdict and result of the plan."""
        rs = self.ruleset.checked
        names, arrays = [rs.key], [pa.array(self.keys.astype(str))]
        wanted = [n for k, n in self.plan.steps if k != "input" or include_inputs]
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
