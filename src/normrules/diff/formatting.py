"""How the diff words things: labels, names, limits in their unit, judgements, trends, table cells."""

from __future__ import annotations

import re

from .. import types as T
from ..explain import format_number, format_value
from .match import r12


def _label_text(label) -> str:
    if label is None:
        return ""
    return label.zh + (f" / {label.en}" if label.en else "")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def _names(names, cap: int = 20) -> str:
    """``a, b, c`` — or, for a long list, the first ``cap`` names and how many more."""
    names = list(names)
    if len(names) <= cap:
        return ", ".join(names)
    return ", ".join(names[:cap]) + f", … {len(names) - cap} more ({len(names)} in all)"


def _normalised(text: str, const, typ) -> str:
    """``250 kg CO2/tce (= 0.25 t CO2/tce)`` when a limit is written in another unit than the
    quantity it bounds."""
    if isinstance(const, T.Const) and isinstance(const.type, T.NumT) and isinstance(typ, T.NumT) \
            and r12(_written_factor(const)) != r12(typ.unit.factor) and typ.unit.text != "1":
        return f"{text} (= {format_value(typ, const.value)})"
    return text


def _written_factor(const) -> float:
    """The factor of the unit a constant is written in (``250 kg CO2/tce`` → kg CO2/tce)."""
    _, _, unit = const.text.partition(" ")
    if unit:
        try:
            from ..units import parse_unit

            return parse_unit(unit).factor
        except Exception:
            pass
    return const.type.unit.factor


def _judgement(r: T.Rounding | None) -> str:
    if r is None:
        return "full value"
    step = format_number(10.0 ** (-r.decimals))
    return f"rounded to {step}{' ' + r.unit_text if r.unit_text and r.unit_text != '1' else ''}"


def _trend(flips) -> str:
    pairs = {(f.before, f.after) for f in flips}
    if not pairs:
        return ""
    if pairs == {("pass", "fail")}:
        return "stricter"
    if pairs == {("fail", "pass")}:
        return "more lenient"
    if pairs == {("not_applicable", "applies")}:
        return "wider scope"
    if pairs == {("applies", "not_applicable")}:
        return "narrower scope"
    return ""


def _category_names(e: T.InSet) -> list[str]:
    cats = e.operand.type.categories if isinstance(e.operand.type, T.TextT) else ()
    return [cats[i] if 0 <= i < len(cats) else str(i) for i in e.codes]


def _fields_text(fields) -> str:
    return ", ".join(f"{name} : {t}" for name, t in fields)


def _format_cell(typ, v) -> str:
    if v is None:
        return "(empty)"
    if isinstance(typ, T.TextT):
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(typ.categories):
            return f'"{typ.categories[v]}"'
        return f'"{v}"'
    if isinstance(v, str):
        return f'"{v}"'
    if typ is None:
        return str(v)
    if isinstance(typ, T.NumT) and typ.unit.text == "1" and isinstance(v, (int, float)):
        return f"{float(v):.12g}"           # plain numbers (years, codes): no digit grouping, as in render
    try:
        return format_value(typ, v)
    except Exception:  # pragma: no cover - a cell of an unexpected kind
        return str(v)


def _key_text(table, key: tuple) -> str:
    return "[" + ", ".join(_format_cell(t, v) for (_, t), v in zip(table.keys, key)) + "]"


def _row_text(table, row: tuple, columns: list[str]) -> str:
    idx = {name: (i, t) for i, (name, t) in enumerate(table.fields)}
    return ", ".join(f"{c} {_format_cell(idx[c][1], row[idx[c][0]])}" for c in columns if c in idx)


def _entity_text(e) -> str:
    if e is None:
        return ""
    return f"{e.name} key {e.key}" + (f" of {e.parent}" if getattr(e, "parent", None) else "") + \
        (f" ({_label_text(e.label)})" if getattr(e, "label", None) is not None else "")


def _meta_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, tuple) and len(v) == 2:
        return f'{v[0]} @ "{v[1]}"'
    return str(v)
