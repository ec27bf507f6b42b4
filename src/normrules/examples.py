"""Running the examples written in a ruleset (``example "…" { given … expect … }``).

Each example is evaluated by the vectorized executor *and* the reference interpreter; an example
passes when both give what it expects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import types as T
from .execute import NO_LABEL, REL_TOL, Col, execute
from .reference import Interpreter


@dataclass(frozen=True)
class Mismatch:
    name: str
    expected: str
    actual: str
    engine: str            # "executor" | "reference"


@dataclass(frozen=True)
class ExampleOutcome:
    name: str
    file: str
    line: int
    mismatches: tuple[Mismatch, ...]

    @property
    def passed(self) -> bool:
        return not self.mismatches


def _fmt_number(value: float, typ: T.NumT) -> str:
    shown = value / typ.unit.factor
    unit = "" if typ.unit.text == "1" else f" {typ.unit.text}"
    return f"{shown:.10g}{unit}"


def _describe(item, value) -> str:
    """Human text of a canonical value / verdict code / label index (None = unknown)."""
    if hasattr(item, "require"):
        return T.VERDICT_NAMES[int(value)]
    if value is None:
        return "unknown"
    if hasattr(item, "branches"):
        return f'"{item.labels[int(value)]}"'
    typ = item.type
    if isinstance(typ, T.NumT):
        return _fmt_number(float(value), typ)
    if isinstance(typ, T.TextT):
        return f'"{typ.categories[int(value)]}"' if not isinstance(value, str) else f'"{value}"'
    if isinstance(typ, T.BoolT):
        return "true" if value else "false"
    return str(value)


def _expected_text(item, expected) -> str:
    if expected == "unknown":
        return "unknown"
    if hasattr(item, "require"):
        return str(expected)
    if hasattr(item, "branches") or isinstance(item.type, T.TextT):
        return f'"{expected}"'
    return _describe(item, expected)


def _matches(item, expected, actual) -> bool:
    if hasattr(item, "require"):
        return T.VERDICT_NAMES[int(actual)] == expected
    if expected == "unknown":
        return actual is None
    if actual is None:
        return False
    if hasattr(item, "branches"):
        return item.labels[int(actual)] == expected
    typ = item.type
    if isinstance(typ, T.NumT):
        return abs(float(actual) - float(expected)) <= REL_TOL * abs(float(expected)) + 1e-300
    if isinstance(typ, T.TextT):
        return typ.categories[int(actual)] == expected
    return actual == expected


def _canonical_inputs(ruleset, example) -> dict[str, object]:
    given = dict(example.given)
    out = {}
    for inp in ruleset.checked.inputs:
        v = given.get(inp.name)
        if v is not None and isinstance(inp.type, T.TextT):
            v = inp.type.categories.index(v)
        out[inp.name] = v
    return out


def _executor_values(ruleset, inputs: dict[str, object]) -> dict[str, object]:
    cols = {}
    types = {i.name: i.type for i in ruleset.checked.inputs}
    for name, v in inputs.items():
        typ = types[name]
        if isinstance(typ, T.BoolT):
            data = np.array([bool(v)])
        elif isinstance(typ, T.TextT):
            data = np.array([v if v is not None else 0], dtype=np.int32)
        else:
            data = np.array([v if v is not None else np.nan], dtype=float)
        cols[name] = Col(data, np.array([v is not None]))
    env, _ = execute(ruleset.plan, cols, 1)
    out = {}
    for name, col in env.items():
        kind = ruleset.checked.by_name()[name]
        if hasattr(kind, "require"):
            out[name] = int(col.data[0])
        elif hasattr(kind, "branches"):
            out[name] = None if col.data[0] == NO_LABEL else int(col.data[0])
        else:
            out[name] = col.data[0].item() if bool(col.known[0]) else None
    return out


def run_example(ruleset, example) -> ExampleOutcome:
    inputs = _canonical_inputs(ruleset, example)
    engines = {
        "executor": _executor_values(ruleset, inputs),
        "reference": Interpreter(ruleset.checked, inputs).run(ruleset.plan.steps),
    }
    items = ruleset.checked.by_name()
    mismatches = []
    for engine, values in engines.items():
        for name, expected in example.expect:
            item = items[name]
            actual = values.get(name)
            if not _matches(item, expected, actual):
                mismatches.append(Mismatch(name, _expected_text(item, expected), _describe(item, actual), engine))
    span = example.decl.span
    return ExampleOutcome(example.name, span.file, span.line, tuple(mismatches))


def run_examples(ruleset) -> list[ExampleOutcome]:
    """Run every example of a compiled ruleset."""
    return [run_example(ruleset, ex) for ex in ruleset.checked.examples]
