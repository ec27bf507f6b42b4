"""Type checking of ``example`` blocks: given values, expectations and child rows.

Part of the checker (:mod:`normrules.check`): example values are literals, converted to canonical
values against the type of the input or output they name.
"""

from __future__ import annotations

from . import ast
from . import types as T
from .errors import did_you_mean


def _example_value(ck, target_type: T.Type, value, target: str):
    """The canonical value of a literal in an example, checked against the target's type."""
    if isinstance(value, ast.Ref) and value.name == "unknown":
        return None
    if isinstance(target_type, T.ErrorT):
        return None
    if isinstance(target_type, T.VerdictT):
        if isinstance(value, ast.Ref) and value.name in T.VERDICT_NAMES:
            return value.name
        ck.error("E511", f"`{target}` is a rule: expect pass, fail, not_applicable or unknown", value.span)
        return None
    if isinstance(target_type, T.LabelT):
        if isinstance(value, ast.String) and value.value in target_type.labels:
            return value.value
        hint = did_you_mean(getattr(value, "value", ""), target_type.labels) if isinstance(value, ast.String) else None
        ck.error("E511", f"`{target}` is a result: expect one of " + ", ".join(f'"{l}"' for l in target_type.labels)
                 + " or unknown", value.span, help=hint)
        return None
    x = ck.expr(value)
    if isinstance(x.type, T.ErrorT):
        return None
    if not isinstance(x, T.Const) and not (isinstance(x, T.Neg) and isinstance(x.operand, T.Const)):
        ck.error("E512", "example values are literals (a number with its unit, a quoted category, true/false, a date)", value.span)
        return None
    if isinstance(x, T.Neg):
        x = T.Const(x.operand.type, -x.operand.value, x.span, "-" + x.operand.text)
    if isinstance(target_type, T.NumT) and isinstance(x.type, T.NumT):
        if target_type.unit.dimensionality != x.type.unit.dimensionality:
            ck.error("E513", f"`{target}` is in {target_type.unit.text}, but the example gives {x.type.unit.text}", value.span)
            return None
        if x.type.unit.text == "1" and target_type.unit.text in ("percent", "%") and abs(x.value) > 1:
            ck.error("E309", f"`{target}` is a percentage, but the example gives the plain number {x.text}", value.span,
                     help=f"write `{x.text} percent` (or the fraction {x.value / 100:g})")
            return None
        return float(x.value)
    if isinstance(target_type, T.TextT) and isinstance(x.type, T.TextT):
        if x.value not in target_type.categories:
            hint = did_you_mean(str(x.value), target_type.categories)
            ck.error("E310", f'"{x.value}" is not a declared category of `{target}`', value.span, help=hint)
            return None
        return x.value
    if isinstance(target_type, T.BoolT) and isinstance(x.type, T.BoolT):
        return bool(x.value)
    if isinstance(target_type, T.DateT) and isinstance(x.type, T.DateT) and x.type.precision == target_type.precision:
        return x.value
    ck.error("E513", f"`{target}` is a {target_type}, but the example gives a {x.type}", value.span)
    return None


def check_example(ck, d: ast.ExampleDecl):
    given, expect = [], []
    for a in d.given:
        sym = ck.r.lookup(a.target)
        if sym is None:
            continue
        if sym.kind != "input":
            ck.error("E514", f"`{sym.name}` is a {sym.kind}, not an input: `given` sets inputs only", a.target.span)
            continue
        typ = ck.imported_type(sym) if sym.imported else ck.types.get(sym.name, T.ErrorT())
        given.append((sym.name, _example_value(ck, typ, a.value, sym.name)))
    for a in d.expect:
        sym = ck.r.lookup(a.target)
        if sym is None:
            continue
        typ = ck.imported_type(sym) if sym.imported else ck.types.get(sym.name, T.ErrorT())
        v = _example_value(ck, typ, a.value, sym.name)
        expect.append((sym.name, v if v is not None else "unknown"))
    children = []
    for c in d.children:
        owner = ck.r.entities.get(c.entity)
        if owner is None or owner.parent is None:
            hint = did_you_mean(c.entity, [n for n, e in ck.r.entities.items() if e.parent is not None])
            ck.error("E515", f"`{c.entity}` is not a child entity", c.entity_span, help=hint)
            continue
        rows = []
        for a in c.given:
            sym = ck.r.lookup(a.target)
            if sym is None:
                from .resolve import imported_symbol

                found = [x for alias, imp in ck.r.imports.items()
                         if (x := imported_symbol(alias, imp, a.target.name)) is not None and x.kind == "input"]
                if not found:
                    continue
                sym = found[0]
            if sym.kind != "input" or sym.entity != c.entity:
                ck.error("E514", f"`{sym.name}` is not an input of `{c.entity}`", a.target.span)
                continue
            typ = ck.imported_type(sym) if sym.imported else ck.types.get(sym.name, T.ErrorT())
            rows.append((a.target.name if sym.imported else sym.name, _example_value(ck, typ, a.value, sym.name)))
        children.append((c.entity, tuple(rows)))
    from .check import CExample

    return CExample(d.name, tuple(given), tuple(expect), d, tuple(children))
