"""Explanations of one entity's verdicts: each rule with its clause, the values and limits it
compared, and for an unknown the missing inputs behind it.

    core.intensity FAIL (发改环资〔2025〕910号 核心指标): intensity 0.241 t CO2/tce > intensity_limit 0.2 t CO2/tce
"""

from __future__ import annotations

import numpy as np

from . import types as T
from .execute import NO_LABEL
from .reference import Interpreter

_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_SHOW_OP = {"<=": "≤", ">=": "≥", "!=": "≠", "==": "=", "<": "<", ">": ">"}


def format_number(value: float) -> str:
    """``1 000 000``, ``0.241``, ``89.99`` — grouped integers, six significant digits otherwise."""
    value = float(f"{value:.12g}")
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}".replace(",", " ")
    if abs(value) >= 1e6:
        return f"{value:,.2f}".replace(",", " ")
    return f"{value:.6g}"


def format_value(typ, value) -> str:
    if value is None:
        return "unknown"
    if isinstance(typ, T.NumT):
        unit = "" if typ.unit.text == "1" else f" {typ.unit.text}"
        return format_number(value / typ.unit.factor) + unit
    if isinstance(typ, T.BoolT):
        return "true" if value else "false"
    if isinstance(typ, T.TextT):
        return f'"{typ.categories[int(value)]}"'
    if isinstance(typ, T.DateT):
        if typ.precision == "month":
            y, m = divmod(int(value), 12)
            return f"{y}-{m + 1:02d}"
        return str(np.datetime64(int(value), "D"))
    return str(value)


class Explainer:
    """Explains the row ``index`` of an :class:`~normrules.api.Evaluation`."""

    def __init__(self, evaluation, index: int):
        self.ev = evaluation
        self.rs = evaluation.ruleset
        self.checked = self.rs.checked
        self.index = index
        env = {}
        for name, col in evaluation.columns.items():
            if len(col.data) != evaluation.n:
                continue                      # a child entity's column
            try:
                item = evaluation._item(name)
            except KeyError:
                continue
            if hasattr(item, "require"):
                env[name] = int(col.data[index])
            elif hasattr(item, "branches"):
                env[name] = None if col.data[index] == NO_LABEL else int(col.data[index])
            else:
                env[name] = col.data[index].item() if bool(col.known[index]) else None
        self.interp = Interpreter(self.checked, env)
        self.source = self.checked.module.source

    def text_of(self, e) -> str:
        return self.source[e.span.start:e.span.end] if e.span.end > e.span.start else getattr(e, "text", "?")

    def operand(self, e) -> str:
        if isinstance(e, T.Const):
            return self.text_of(e) or e.text
        value = self.interp.ev(e)
        return f"{self.text_of(e)} {format_value(e.type, value)}"

    def condition(self, e) -> str:
        """Why a condition came out as it did, in words."""
        if isinstance(e, T.Cmp):
            outcome = self.interp.ev(e)
            op = e.op if outcome in (True, None) else _NEGATE[e.op]
            left = self.operand(e.left)
            if e.rounding is not None and self.interp.ev(e.left) is not None:
                from .reference import _round
                rounded = _round(self.interp.ev(e.left), e.rounding)
                left += f" (rounded: {format_number(rounded / e.rounding.factor)} {e.rounding.unit_text})"
            return f"{left} {_SHOW_OP[op]} {self.operand(e.right)}"
        if isinstance(e, T.BoolOp):
            a, b = self.interp.ev(e.left), self.interp.ev(e.right)
            if e.op == "and" and (a is False or b is False):
                parts = [p for p, v in ((e.left, a), (e.right, b)) if v is False]
                return "; ".join(self.condition(p) for p in parts)
            if e.op == "or" and (a is True or b is True):
                parts = [p for p, v in ((e.left, a), (e.right, b)) if v is True]
                return "; ".join(self.condition(p) for p in parts)
            return f"{self.condition(e.left)}; {self.condition(e.right)}"
        if isinstance(e, T.Load) and e.kind == "rule":
            return f"{e.name} is {T.VERDICT_NAMES[self.interp.env[e.name]]}"
        if isinstance(e, T.VerdictSet):
            code = self.interp.verdict_set(e)
            deciding = [r for r in e.rules if self.interp.env[r] == code] if code != T.PASS else []
            detail = f" ({', '.join(deciding)})" if deciding else ""
            return f"{e.func}({', '.join(e.rules)}) is {T.VERDICT_NAMES[code]}{detail}"
        value = self.interp.ev(e)
        return f"{self.text_of(e)} is {format_value(e.type, value) if not isinstance(e.type, T.BoolT) else format_value(T.BoolT(), value)}"

    def missing_inputs(self, node) -> list[str]:
        return [name for name in self.rs.graph.inputs_behind(node) if self.interp.env.get(name) is None]

    def rule_line(self, rule) -> str:
        code = self.interp.env[rule.id]
        verdict = T.VERDICT_NAMES[code].upper()
        doc = self.checked.meta_value("document", "")
        cite = " ".join(x for x in (doc, rule.clause or "") if x)
        head = f"{rule.id} {verdict}" + (f" ({cite})" if cite else "")
        if code == T.NOT_APPLICABLE:
            return f"{head}: does not apply: {self.condition(rule.applies)}"
        if code == T.UNKNOWN:
            missing = self.missing_inputs(("rule", rule.id))
            why = f"missing {', '.join(missing)}" if missing else "a value it needs is unknown"
            divs = [v.name for v in self.checked.values if self.interp.env.get(v.name) is None
                    and ("value", v.name) in self.rs.graph.ancestors(("rule", rule.id))
                    and any(isinstance(n, T.Arith) and n.op == "/" for n in T.texpr_walk(v.expr))]
            if not missing and divs:
                why = f"{', '.join(divs)} is unknown (division by zero?)"
            return f"{head}: unknown — {why}"
        return f"{head}: {self.condition(rule.require)}"

    def result_line(self, result) -> str:
        label = self.interp.env[result.name]
        shown = "unknown" if label is None else f'"{result.labels[label]}"'
        reason = ""
        not_held = []
        for index, cond in result.branches:
            if cond is None:
                reason = "otherwise: " + "; ".join(not_held) if not_held else "otherwise"
                break
            c = self.interp.ev(cond)
            if c is None:
                missing = self.missing_inputs(("result", result.name))
                reason = f'cannot decide "{result.labels[index]}": {self.condition(cond)}' + (
                    f" (missing {', '.join(missing)})" if missing else "")
                break
            if c:
                reason = f'"{result.labels[index]}" because {self.condition(cond)}'
                break
            not_held.append(f'not "{result.labels[index]}": {self.condition(cond)}')
        return f"{result.name} = {shown}" + (f" — {reason}" if reason else "")

    def lines(self) -> list[str]:
        key = self.ev.keys[self.index]
        c = self.checked
        out = [f"{c.entity} {key} — {c.ref} ({c.meta_value('document', '')})"]
        out.append("  inputs:")
        for inp in c.inputs:
            out.append(f"    {inp.name:<24} {format_value(inp.type, self.interp.env.get(inp.name))}")
        params = [(p.name, p) for p in c.params] + [
            (f"{alias}.{p.name}", p) for alias, sub in c.imports for p in sub.checked.params]
        if params:
            out.append("  params:")
            for name, p in params:
                note = ""
                if p.overridden is not None:
                    note = f"   (overridden; the imported ruleset says {format_value(p.type, p.overridden.value)})"
                out.append(f"    {name:<24} {format_value(p.type, p.expr.value)}{note}")
        out.append("  values:")
        for v in c.values:
            out.append(f"    {v.name:<24} {format_value(v.type, self.interp.env.get(v.name))}")
        out.append("  rules:")
        for r in c.rules:
            if r.id in self.interp.env:
                out.append("    " + self.rule_line(r))
        out.append("  results:")
        for res in c.results:
            if res.name in self.interp.env:
                out.append("    " + self.result_line(res))
        return out


def explain(evaluation, key: str) -> str:
    """The explanation of the entity whose key column equals ``key``."""
    return "\n".join(Explainer(evaluation, evaluation.row_index(key)).lines())
