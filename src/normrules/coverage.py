"""Example coverage: which outcomes of which rules the examples of a ruleset exercise.

Every rule has *outcome slots* that its examples should reach:

* ``pass`` — some example makes the rule pass;
* ``fail`` — some example makes it fail;
* ``not_applicable`` — only for a rule with an ``applies when`` condition: some example puts an
  entity outside the rule's scope.

A verdict the rule can never give is not required: pass and fail of a rule with
``applies when false`` (a clause recorded without a requirement), not_applicable of an
``applies when`` that is always true, fail of a ``require`` that can never be false, and so on
(constants, and bands that miss or fill an input's declared range).

A slot is covered when evaluating some example (``given`` inputs, everything else missing) gives
the rule that verdict — whether or not the example's ``expect`` names the rule; for a rule on a
child entity, when some child row of some example gets it. ``unknown`` is
not a slot. The coverage of a ruleset is covered slots / required slots; rules are shown grouped
by the clause they cite. Result labels reached by the examples are listed as well, but are not
counted.

``normrules test --coverage [--min PCT]`` prints :func:`render` for every ruleset. Examples may
be written in the ruleset or in ``<name>.examples.nr`` beside it
(:func:`normrules.examples.load_with_examples`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from . import types as T
from .examples import example_values, example_verdict_sets
from .lint import never

SLOT_NAMES = {T.PASS: "pass", T.FAIL: "fail", T.NOT_APPLICABLE: "not_applicable"}
_HEAD = {T.PASS: "pass", T.FAIL: "fail", T.NOT_APPLICABLE: "n/a"}


@dataclass(frozen=True)
class Slot:
    verdict: int                  # types.PASS | FAIL | NOT_APPLICABLE
    required: bool
    examples: tuple[str, ...]     # names of the examples that give the rule this verdict
    impossible: str | None = None  # why no entity can get this verdict (then it is not required)

    @property
    def name(self) -> str:
        return SLOT_NAMES[self.verdict]

    @property
    def covered(self) -> bool:
        return bool(self.examples)


@dataclass(frozen=True)
class RuleCoverage:
    rule: str
    clause: str | None
    slots: tuple[Slot, ...]       # pass, fail, not_applicable (the last required only with `applies when`)

    @property
    def required(self) -> int:
        return sum(s.required for s in self.slots)

    @property
    def covered(self) -> int:
        return sum(s.required and s.covered for s in self.slots)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.slots if s.required and not s.covered)


@dataclass(frozen=True)
class ResultCoverage:
    result: str
    labels: tuple[tuple[str, int], ...]   # (label, number of examples giving it), declaration order


@dataclass(frozen=True)
class Coverage:
    ref: str
    file: str
    examples: int
    rules: tuple[RuleCoverage, ...]
    results: tuple[ResultCoverage, ...]

    @property
    def required(self) -> int:
        return sum(r.required for r in self.rules)

    @property
    def covered(self) -> int:
        return sum(r.covered for r in self.rules)

    @property
    def percent(self) -> float:
        """Covered / required slots in percent; 100 when nothing is required (no rules)."""
        return 100.0 * self.covered / self.required if self.required else 100.0

    def missing(self) -> list[tuple[str, str]]:
        """``(rule id, verdict)`` of every required slot no example reaches."""
        return [(r.rule, m) for r in self.rules for m in r.missing]


def coverage(ruleset) -> Coverage:
    """The example coverage of a compiled ruleset (:class:`~normrules.api.Ruleset`)."""
    c = ruleset.checked
    reached: dict[str, dict[int, list[str]]] = {r.id: {} for r in c.rules}
    labels: dict[str, dict[int | None, int]] = {res.name: {} for res in c.results}
    for ex in c.examples:
        values = example_values(ruleset, ex)
        for rid, codes in example_verdict_sets(ruleset, ex).items():
            for code in codes:
                reached[rid].setdefault(code, []).append(ex.name)
        for res in c.results:
            code = values.get(res.name)
            labels[res.name][code] = labels[res.name].get(code, 0) + 1
    rules = []
    for r in c.rules:
        why = _impossible(c, r)
        slots = tuple(
            Slot(v, (v != T.NOT_APPLICABLE or r.applies is not None) and v not in why,
                 tuple(reached[r.id].get(v, ())), why.get(v))
            for v in (T.PASS, T.FAIL, T.NOT_APPLICABLE)
        )
        rules.append(RuleCoverage(r.id, r.clause, slots))
    results = tuple(
        ResultCoverage(res.name, tuple((lab, labels[res.name].get(i, 0)) for i, lab in enumerate(res.labels)))
        for res in c.results
    )
    return Coverage(c.ref, str(c.module.file), len(c.examples), tuple(rules), results)


def _impossible(checked, rule) -> dict[int, str]:
    """Verdicts the rule can never give, with the reason: they are not required slots.

    ``applies when false`` (a rule that records a clause without a requirement) can only be
    not_applicable; a requirement that is constant, or a band that misses or fills its input's
    declared range, can never fail or never pass."""
    out: dict[int, str] = {}
    if rule.applies is not None and never(checked, rule.applies, True):
        out[T.PASS] = out[T.FAIL] = "its `applies when` is never true"
        return out
    if rule.applies is not None and never(checked, rule.applies, False):
        out[T.NOT_APPLICABLE] = "its `applies when` is never false"
    if never(checked, rule.require, True):
        out[T.PASS] = "its `require` is never true"
    if never(checked, rule.require, False):
        out[T.FAIL] = "its `require` is never false"
    return out


# --------------------------------------------------------------------------- rendering


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 0)


def _cell(slot: Slot) -> str:
    if not slot.required:
        return "-"
    return str(len(slot.examples)) if slot.covered else "MISSING"


def render(cov: Coverage) -> str:
    """The coverage table of one ruleset: one row per rule, grouped by clause.

    Each cell is the number of examples giving the rule that verdict, ``MISSING`` for a required
    slot no example reaches, ``-`` for a slot not required (``n/a`` of a rule without
    ``applies when``, or a verdict the rule can never give).
    """
    lines = [f"{cov.ref}  ({cov.file}, {cov.examples} example{'s' * (cov.examples != 1)})"]
    if not cov.rules:
        lines.append("  no rules")
    else:
        rows = []
        groups: dict[str, list[RuleCoverage]] = {}
        for r in cov.rules:
            groups.setdefault(r.clause if r.clause is not None else "(no clause)", []).append(r)
        for clause, members in groups.items():
            for k, r in enumerate(members):
                rows.append([clause if k == 0 else "", r.rule] + [_cell(s) for s in r.slots]
                            + [f"{r.covered}/{r.required}"])
        head = ["clause", "rule"] + [_HEAD[v] for v in (T.PASS, T.FAIL, T.NOT_APPLICABLE)] + ["covered"]
        widths = [max(_width(row[i]) for row in rows + [head]) for i in range(len(head))]

        def fmt(row):
            left = [_pad(row[i], widths[i]) for i in (0, 1)]
            right = [" " * (widths[i] - _width(row[i])) + row[i] for i in range(2, len(row))]
            return ("  " + "  ".join(left + right)).rstrip()

        lines.append(fmt(head))
        lines.extend(fmt(row) for row in rows)
    for r in cov.rules:
        reasons: dict[str, list[str]] = {}
        for slot in r.slots:
            if slot.impossible:
                reasons.setdefault(slot.impossible, []).append(slot.name)
        for why, names in reasons.items():
            lines.append(f"  not required: `{r.rule}` {' or '.join(names)} — {why}")
    for rule, verdict in cov.missing():
        lines.append(f"  missing: no example makes `{rule}` {verdict}")
    for res in cov.results:
        parts = ", ".join(f'"{lab}" {n}' for lab, n in res.labels)
        lines.append(f"  result {res.result}: {parts}  (examples per label; not counted)")
    lines.append(f"  coverage: {cov.covered}/{cov.required} outcome slots = {format_percent(cov.percent)}")
    return "\n".join(lines)


def format_percent(p: float) -> str:
    """``100 %``, ``93.3 %`` — never rounds a shortfall up to 100."""
    if p >= 100.0:
        return "100 %"
    shown = int(p * 10) / 10
    return f"{shown:g} %"


def total(coverages) -> tuple[int, int, float]:
    """(covered, required, percent) over several rulesets."""
    covered = sum(c.covered for c in coverages)
    required = sum(c.required for c in coverages)
    return covered, required, (100.0 * covered / required if required else 100.0)
