"""Reading one entity's inputs: Python values to canonical values, and the errors of bad ones.

:class:`_InputSpec` reads one declared input (a number in its declared unit or a string with its
own unit, a boolean, a category, a date) with the same rules and the same range and category
checks as when a table is read; every problem becomes a :class:`FieldError`, and
:class:`InputError` carries them all.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

import numpy as np

from .. import types as T
from ..errors import DataError, did_you_mean

_EPOCH = _dt.date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_TRUE = {"true", "yes", "y", "1", "是", "t"}
_FALSE = {"false", "no", "n", "0", "否", "f"}
_NUMBER_TEXT = re.compile(r"^\s*([+-]?(?:\d[\d_,]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(.*?)\s*$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


# =========================================================================== errors


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field: ``field`` is ``energy`` or ``line[2].quantity``."""

    field: str
    kind: str          # "type" | "category" | "range" | "unknown_field" | "unit"
    message: str
    value: object = None

    def __str__(self) -> str:
        return f"`{self.field}`: {self.message}"


class InputError(DataError):
    """Inputs of :func:`evaluate_one` / :func:`explain` that do not fit the ruleset.

    ``errors`` lists every problem (:class:`FieldError`); ``column`` is the first bad field.
    """

    def __init__(self, errors: list[FieldError]):
        self.errors = tuple(errors)
        n = len(errors)
        head = "invalid input" if n == 1 else f"{n} invalid inputs"
        super().__init__(f"{head}: " + "; ".join(str(e) for e in errors))
        self.column = errors[0].field if errors else None


# =========================================================================== inputs


def _short(x) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


class _InputSpec:
    """How to read one declared input from a Python value into its canonical value."""

    __slots__ = ("name", "kind", "factor", "unit", "low", "low_inc", "high", "high_inc", "codes", "categories",
                 "range_text", "type")

    def __init__(self, inp):
        self.name = inp.name
        typ = inp.type
        self.type = typ
        self.factor, self.unit, self.codes, self.categories = 1.0, None, None, ()
        self.low, self.low_inc, self.high, self.high_inc = inp.low, inp.low_inclusive, inp.high, inp.high_inclusive
        self.range_text = ""
        if isinstance(typ, T.NumT):
            self.kind = "number"
            self.factor, self.unit = typ.unit.factor, typ.unit
            d = inp.decl.range if inp.decl is not None else None
            if d is not None:
                self.range_text = (f"{'[' if d.low.inclusive else '('}{d.low.text}, {d.high.text}"
                                   f"{']' if d.high.inclusive else ')'} {typ}")
        elif isinstance(typ, T.BoolT):
            self.kind = "boolean"
        elif isinstance(typ, T.TextT):
            self.kind = "text"
            self.categories = typ.categories
            self.codes = {c: i for i, c in enumerate(typ.categories)}
        elif isinstance(typ, T.DateT):
            self.kind = "date_" + typ.precision
        else:  # pragma: no cover - the checker gives inputs no other type
            raise TypeError(typ)

    def read(self, raw, field: str, invalid: str, errors: list):
        """The canonical value of ``raw`` (None = unknown); problems are appended to ``errors``."""
        if raw is None:
            return None
        kind = self.kind
        if kind == "number":
            t = type(raw)
            if t is float or t is int or (isinstance(raw, (int, float, np.integer, np.floating)) and not isinstance(raw, (bool, np.bool_))):
                value = float(raw)
                if value != value:          # NaN: unknown, as in a table
                    return None
                value *= self.factor
            elif isinstance(raw, str):
                value = self._number_text(raw, field, errors)
                if value is None:
                    return None
            else:
                errors.append(FieldError(field, "type", f"expected a number in {self.unit.text}, got {_short(raw)}", raw))
                return None
            if self.low is None and self.high is None:
                return value
            if ((self.low is not None and (value < self.low if self.low_inc else value <= self.low))
                    or (self.high is not None and (value > self.high if self.high_inc else value >= self.high))):
                if invalid == "unknown":
                    return None
                errors.append(FieldError(field, "range", f"{_short(raw)} is outside the declared range {self.range_text}", raw))
                return None
            return value
        if kind == "text":
            if isinstance(raw, (int, np.integer)) and not isinstance(raw, (bool, np.bool_)):
                raw = str(raw)                  # as a table column of integers is read
            if isinstance(raw, str):
                s = raw.strip()
                if not s:
                    return None
                code = self.codes.get(s)
                if code is not None:
                    return code
                if invalid == "unknown":
                    return None
                hint = did_you_mean(s, self.categories)
                errors.append(FieldError(field, "category", f'"{s}" is not a declared category'
                                         + (f"; {hint}" if hint else "") + " (categories: "
                                         + ", ".join(self.categories) + ")", raw))
                return None
            errors.append(FieldError(field, "type", f"expected one of the categories {', '.join(self.categories)}, "
                                     f"got {_short(raw)}", raw))
            return None
        if kind == "boolean":
            if raw is True or raw is False:
                return raw
            if isinstance(raw, np.bool_):
                return bool(raw)
            if isinstance(raw, (int, np.integer)) and raw in (0, 1):
                return bool(raw)
            if isinstance(raw, float) and raw != raw:
                return None
            if isinstance(raw, str):
                s = raw.strip().lower()
                if not s:
                    return None
                if s in _TRUE:
                    return True
                if s in _FALSE:
                    return False
            errors.append(FieldError(field, "type", f"expected true/false, got {_short(raw)}", raw))
            return None
        # dates
        month = kind == "date_month"
        if isinstance(raw, _dt.datetime):
            raw = raw.date()
        if isinstance(raw, _dt.date):
            return float(raw.year * 12 + raw.month - 1) if month else float(raw.toordinal() - _EPOCH_ORDINAL)
        if isinstance(raw, str):
            s = raw.strip()
            if not s:
                return None
            if (_MONTH if month else _DAY).match(s):
                try:
                    if month:
                        y, m = int(s[:4]), int(s[5:7])
                        if 1 <= m <= 12:
                            return float(y * 12 + m - 1)
                    else:
                        return float(_dt.date.fromisoformat(s).toordinal() - _EPOCH_ORDINAL)
                except ValueError:
                    pass
            errors.append(FieldError(field, "type", f"`{s}` is not a date like {'2025-07' if month else '2025-07-08'}", raw))
            return None
        errors.append(FieldError(field, "type", f"expected a date, got {_short(raw)}", raw))
        return None

    def _number_text(self, raw: str, field: str, errors: list):
        m = _NUMBER_TEXT.match(raw)
        if not m:
            if not raw.strip():
                return None
            errors.append(FieldError(field, "type", f"expected a number in {self.unit.text}, got {_short(raw)}", raw))
            return None
        value = float(m.group(1).replace("_", "").replace(",", ""))
        unit = m.group(2)
        if not unit:
            return value * self.factor
        if unit == "%":
            if not self.unit.is_dimensionless:
                errors.append(FieldError(field, "unit", f"`%` given, but `{self.name}` is in {self.unit.text}", raw))
                return None
            return value * 0.01
        from ..units import UnitSyntaxError, parse_unit

        try:
            u = parse_unit(unit)
        except UnitSyntaxError as exc:
            errors.append(FieldError(field, "unit", str(exc), raw))
            return None
        if u.dimensionality != self.unit.dimensionality:
            errors.append(FieldError(field, "unit", f"{unit} cannot be converted to {self.unit.text} "
                                     f"(the unit `{self.name}` is declared in)", raw))
            return None
        return value * u.factor


def _hint(name: str, names: list[str]) -> str:
    hint = did_you_mean(name, names)
    if hint:
        return hint
    shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
    return f"(inputs: {shown})"


def _as_of_value(as_of):
    if as_of is None or isinstance(as_of, (str, _dt.date)):
        return as_of
    return str(as_of)
