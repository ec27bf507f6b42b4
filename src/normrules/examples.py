"""Running the examples written in a ruleset (``example "…" { given … expect … }``).

Each example is evaluated by the vectorized executor *and* the reference interpreter; an example
passes when both give what it expects.

Examples may also live beside the ruleset, in ``<name>.examples.nr`` (``example`` blocks only).
:func:`load_with_examples` appends that file's text to the ruleset's and compiles the whole, then
moves positions back into the examples file, so diagnostics and failing examples name the file
they are in. (The alternative, parsing the examples file on its own, would need the grammar to
accept a file without a header and the checker to type examples against a ruleset compiled
separately; appending reuses every check unchanged.) :func:`ruleset_files` lists the rulesets
under some paths without the examples files. :func:`example_values` and
:func:`example_verdict_sets` give what an example computes, for coverage
(:mod:`normrules.coverage`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import ast
from . import types as T
from .errors import CheckFailed, Diagnostic, Note, RulesetNotFound, SourceMap, Span
from .columns import Col, column_of_values
from .execute import NO_LABEL, REL_TOL, execute
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


def _coded(checked, values: dict[str, object]) -> dict[str, object]:
    """Example values with text categories turned into the input's codes."""
    types = {i.name: i.type for i in checked.inputs}
    out = {}
    for name, v in values.items():
        typ = types.get(name)
        out[name] = typ.categories.index(v) if v is not None and isinstance(typ, T.TextT) else v
    return out


def _example_data(ruleset, example):
    """(root inputs, child rows by entity) of an example, both in canonical values."""
    children: dict[str, list[dict]] = {}
    for entity, rows in example.children:
        children.setdefault(entity, []).append(dict(rows))
    return dict(example.given), children


def _local(checked, given: dict, children: dict):
    """The inputs of ``checked`` among ``given`` and ``children`` (imported inputs are `alias.name`)."""
    root = {i.name: given.get(i.name) for i in checked.inputs if (i.entity or checked.entity) == checked.entity}
    kids = {}
    for e in checked.entities:
        if e.parent is not None:
            names = [i.name for i in checked.inputs if i.entity == e.name]
            kids[e.name] = [_coded(checked, {n: row.get(n) for n in names}) for row in children.get(e.name, [])]
    return _coded(checked, root), kids


def _sub_given(alias: str, given: dict) -> dict:
    prefix = alias + "."
    return {k[len(prefix):]: v for k, v in given.items() if k.startswith(prefix)}


def executor_env(ruleset, given: dict, children: dict) -> dict[str, Col]:
    """Every column the vectorized executor computes for one example entity (and its child rows)."""
    from .execute import Entities

    checked = ruleset.checked
    imported: dict[str, Col] = {}
    for alias, sub in checked.imports:
        inner = executor_env(sub, _sub_given(alias, given), children)
        imported.update({f"{alias}.{k}": v for k, v in inner.items()})
    root, kids = _local(checked, given, children)
    types = {i.name: i.type for i in checked.inputs}
    cols = {name: column_of_values(types[name], [v]) for name, v in root.items()}
    for entity, rows in kids.items():
        for name in (i.name for i in checked.inputs if i.entity == entity):
            cols[name] = column_of_values(types[name], [r.get(name) for r in rows])
    entities = Entities(checked.entity, {checked.entity: 1, **{e: len(r) for e, r in kids.items()}},
                        {e: np.zeros(len(r), dtype=np.int64) for e, r in kids.items()},
                        {e.name: e.parent for e in checked.entities if e.parent is not None})
    env, _ = execute(ruleset.plan, cols, entities, imported)
    return env


def reference_env(ruleset, given: dict, children: dict) -> dict[str, object]:
    """The reference interpreter's values for one example entity (root values only)."""
    checked = ruleset.checked
    root, kids = _local(checked, given, children)
    for alias, sub in checked.imports:
        inner = reference_env(sub, _sub_given(alias, given), children)
        root.update({f"{alias}.{k}": v for k, v in inner.items()})
    return Interpreter(checked, root, kids).run(ruleset.plan.steps)


def _executor_values(ruleset, given: dict, children: dict) -> dict[str, object]:
    env = executor_env(ruleset, given, children)
    items = ruleset.checked.by_name()
    out = {}
    for name, col in env.items():
        item = items.get(name)
        if item is None and "." in name:        # an imported column: `alias.name`
            alias, rest = name.split(".", 1)
            sub = dict(ruleset.checked.imports).get(alias)
            item = sub.checked.by_name().get(rest) if sub is not None else None
        if item is None or len(col.data) != 1:
            continue
        if hasattr(item, "require"):
            out[name] = int(col.data[0])
        elif hasattr(item, "branches"):
            out[name] = None if col.data[0] == NO_LABEL else int(col.data[0])
        else:
            out[name] = col.data[0].item() if bool(col.known[0]) else None
    return out


def _item_of(ruleset, name: str):
    item = ruleset.checked.by_name().get(name)
    if item is None and "." in name:
        alias, rest = name.split(".", 1)
        sub = dict(ruleset.checked.imports).get(alias)
        item = sub.checked.by_name().get(rest) if sub is not None else None
    return item


def run_example(ruleset, example) -> ExampleOutcome:
    given, children = _example_data(ruleset, example)
    engines = {
        "executor": _executor_values(ruleset, given, children),
        "reference": reference_env(ruleset, given, children),
    }
    items = {name: _item_of(ruleset, name) for name, _ in example.expect}
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


# --------------------------------------------------------------------------- what examples produce


def example_values(ruleset, example) -> dict[str, object]:
    """Everything one example computes, from the reference interpreter: canonical values (None =
    unknown), verdict codes (``types.PASS`` …) for rules and label indices (None = unknown) for
    results. The reference interpreter is used because it is the specification the executor is
    tested against; :func:`run_example` already checks that both engines agree where it matters."""
    given, children = _example_data(ruleset, example)
    return reference_env(ruleset, given, children)


def example_verdicts(ruleset) -> list[tuple[object, dict[str, int]]]:
    """For every example of a compiled ruleset: ``(example, {rule id: verdict code})`` — the
    verdict each rule of the root entity gets in it, whether or not the example's ``expect``
    names the rule. (Rules on child entities have one verdict per child row: see
    :func:`example_verdict_sets`.)"""
    out = []
    rule_ids = [r.id for r in ruleset.checked.rules]
    for ex in ruleset.checked.examples:
        values = example_values(ruleset, ex)
        out.append((ex, {rid: int(values[rid]) for rid in rule_ids if values.get(rid) is not None}))
    return out


def example_verdict_sets(ruleset, example) -> dict[str, set[int]]:
    """Every verdict code each rule gets in one example: one code for a rule of the root entity
    (reference interpreter), the codes of all child rows for a rule on a child entity (vectorized
    executor — the reference interpreter computes root values only)."""
    values = example_values(ruleset, example)
    out: dict[str, set[int]] = {}
    missing = []
    for r in ruleset.checked.rules:
        if values.get(r.id) is not None:
            out[r.id] = {int(values[r.id])}
        else:
            missing.append(r.id)
    if missing:
        env = executor_env(ruleset, *_example_data(ruleset, example))
        for rid in missing:
            col = env.get(rid)
            out[rid] = {int(c) for c in col.data} if col is not None else set()
    return out


# --------------------------------------------------------------------------- examples beside a ruleset

EXAMPLES_SUFFIX = ".examples.nr"


def is_examples_file(path) -> bool:
    """True for ``<name>.examples.nr``: examples of the ruleset ``<name>.nr`` beside it."""
    return str(path).endswith(EXAMPLES_SUFFIX)


def examples_file_for(path) -> Path:
    """``park.nr`` → ``park.examples.nr`` (the file may or may not exist)."""
    p = Path(path)
    return p.with_name(p.name[: -len(".nr")] + EXAMPLES_SUFFIX) if p.name.endswith(".nr") else p.with_name(p.name + EXAMPLES_SUFFIX)


def ruleset_file_for(path) -> Path:
    """``park.examples.nr`` → ``park.nr``; any other path is returned as it is."""
    p = Path(path)
    return p.with_name(p.name[: -len(EXAMPLES_SUFFIX)] + ".nr") if is_examples_file(p) else p


def ruleset_files(paths) -> list[Path]:
    """The ruleset files named by ``paths`` (files or directories), in a stable order, without the
    ``*.examples.nr`` files: an examples file named directly stands for the ruleset beside it."""
    from .api import find_rulesets

    out: list[Path] = []
    for f in find_rulesets(paths):
        f = ruleset_file_for(f)
        if f not in out:
            out.append(f)
    return out


class _Remap:
    """Moves spans that fall after the ruleset's own text into the examples file."""

    def __init__(self, file: str, ex_file: str, lines: int, chars: int):
        self.file, self.ex_file, self.lines, self.chars = file, ex_file, lines, chars

    def span(self, s: Span) -> Span:
        if s.file != self.file or s.line <= self.lines:
            return s
        return Span(self.ex_file, s.line - self.lines, s.col, s.end_line - self.lines, s.end_col,
                    max(s.start - self.chars, 0), max(s.end - self.chars, 0))

    def diagnostic(self, d: Diagnostic) -> Diagnostic:
        notes = tuple(Note(self.span(n.span), n.message) for n in d.notes)
        return replace(d, span=self.span(d.span), notes=notes)


def load_with_examples(path, *, roots=None, as_of=None):
    """Compile the ruleset at ``path`` together with ``<name>.examples.nr`` beside it, if any.

    The examples file holds only ``example`` blocks. Its text is appended to the ruleset's text
    (after a line break) and the whole is compiled as one ruleset, so its examples are checked
    against the ruleset's inputs, values, rules and results exactly like examples written inside
    it. Positions are then moved back: every diagnostic and every example in the examples file
    names that file and its own line numbers. Anything other than an ``example`` block in an
    examples file is error E520. ``roots`` and ``as_of`` are passed on as to
    :func:`~normrules.api.load` (imports).

    Returns a :class:`~normrules.api.Ruleset` (its ``checked.examples`` are the ruleset's examples
    followed by the file's; its content hash covers both texts); raises
    :class:`~normrules.errors.CheckFailed`.
    """
    from .api import compile_text, load
    from .parse import SyntaxFailed, parse

    p = ruleset_file_for(path)
    ex_path = examples_file_for(p)
    if not ex_path.is_file():
        return load(p, roots=roots, as_of=as_of)
    if not p.is_file():
        raise RulesetNotFound(f"{ex_path} has no ruleset beside it (expected {p})")
    text = p.read_text("utf-8")
    ex_text = ex_path.read_text("utf-8")
    head = text if text.endswith("\n") or not text else text + "\n"
    remap = _Remap(str(p), str(ex_path), head.count("\n"), len(head))
    combined = head + ex_text

    def own_sources(sources: SourceMap | None) -> SourceMap:
        sources = sources if sources is not None else SourceMap()
        sources.add(str(p), text)          # replaces the combined text
        sources.add(str(ex_path), ex_text)
        return sources

    try:
        try:
            items = parse(combined, str(p)).items
        except SyntaxFailed as exc:        # compile_text below reports these with the semantic errors
            items = exc.partial.items if exc.partial is not None else ()
        stray = [d for d in items if not isinstance(d, ast.ExampleDecl) and d.span.line > remap.lines]
        if stray:
            raise CheckFailed([Diagnostic("E520", "an examples file holds only `example` blocks", d.span,
                                          help=f"move this declaration into {p.name}") for d in stray])
        rs = compile_text(combined, str(p), roots=roots, as_of=as_of)
    except CheckFailed as exc:
        raise CheckFailed([remap.diagnostic(d) for d in exc.diagnostics], own_sources(exc.sources)) from None
    examples = tuple(replace(ex, decl=replace(ex.decl, span=remap.span(ex.decl.span))) for ex in rs.checked.examples)
    warnings = tuple(remap.diagnostic(d) for d in rs.checked.diagnostics)
    checked = replace(rs.checked, examples=examples, diagnostics=warnings)
    return replace(rs, checked=checked, sources=own_sources(rs.sources))
