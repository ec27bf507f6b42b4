"""Units: one pint registry for the project, used at compile time and when reading data.

At run time every number is a plain float in the pint *base* units of its dimension; the
factors between a written unit and its base come from here and nowhere else.

Project definitions (see ``compiler/units.md``):

* ``tce`` (tonne of coal equivalent) = 29.3076 GJ (GB/T 2589-2020).
* ``CO2`` and ``CO2e`` are dimensions of their own, so ``t CO2`` (an emission) is never the same
  quantity as ``t`` (a product mass), and CO2 is never silently read as CO2e: turning one into the
  other needs an explicit characterisation factor with unit ``CO2e/CO2``.
* ``万`` (1e4) and ``亿`` (1e8) prefix a unit as the documents write them: ``万tce/yr``.
* ``%`` is ``percent``; ``yr`` is the Julian year of pint.
* ``kt`` is the kilotonne (pint's default reads it as the knot).
* ``piece``, ``wafer`` and ``cell`` are counted things, each a dimension of its own (PV bills of
  materials count wafers and cells, not kilograms).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pint

_DEFINITIONS = """
CO2 = [carbon_dioxide]
CO2e = [co2_equivalent] = CO2eq = CO2_eq
tonne_coal_equivalent = 29.3076 * gigajoule = tce
kilotonne = 1000 * metric_ton = kt
piece = [piece] = pcs
wafer = [wafer]
cell = [pv_cell]
"""


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    ureg = pint.UnitRegistry(on_redefinition="ignore", cache_folder=None)
    for line in _DEFINITIONS.strip().splitlines():
        ureg.define(line)
    return ureg


class UnitSyntaxError(ValueError):
    """A unit that pint cannot read; the message says which part."""


_CN_PREFIX = re.compile(r"([万亿])([A-Za-z_][A-Za-z0-9_]*)")
_CN_FACTORS = {"万": "10000", "亿": "100000000"}


def _to_pint_syntax(text: str) -> str:
    text = text.strip()
    if text == "%":
        return "percent"
    text = _CN_PREFIX.sub(lambda m: f"({_CN_FACTORS[m.group(1)]}*{m.group(2)})", text)
    # factors written side by side multiply: "t CO2/tce" is t·CO2/tce
    text = re.sub(r"(?<=[A-Za-z0-9_)])[ \t]+(?=[A-Za-z_(])", "*", text)
    return text.replace("^", "**")


@dataclass(frozen=True)
class Unit:
    """A unit as written by an author, with its pint meaning."""

    text: str              # as written
    factor: float          # multiply a value in this unit by factor to get base units
    dimensionality: object  # pint UnitsContainer, hashable
    pint_units: object      # pint Unit (includes the multiplier of 万 as a factor, not a unit)

    @property
    def is_dimensionless(self) -> bool:
        return not self.dimensionality

    def dimension_text(self) -> str:
        return dimension_text(self.dimensionality)


@lru_cache(maxsize=4096)
def parse_unit(text: str) -> Unit:
    """Parse a unit as written in a ruleset or a column header (``t CO2/tce``, ``万tce/yr``, ``%``)."""
    ureg = registry()
    expr = _to_pint_syntax(text)
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr)
    for name in names:
        try:
            ureg.parse_units(name)
        except (pint.errors.UndefinedUnitError, AttributeError, ValueError, TypeError):
            raise UnitSyntaxError(f"unknown unit `{name}`") from None
    try:
        q = ureg.parse_expression(expr)
    except Exception as exc:  # pint raises many kinds here
        raise UnitSyntaxError(f"cannot read unit `{text}`: {exc}") from None
    if not isinstance(q, pint.Quantity):
        q = ureg.Quantity(q, "dimensionless")
    base = q.to_base_units()
    return Unit(text, float(base.magnitude), q.dimensionality, q.units)


def dimensionless() -> Unit:
    ureg = registry()
    return Unit("1", 1.0, ureg.dimensionless.dimensionality, ureg.dimensionless)


def percent() -> Unit:
    return parse_unit("percent")


def same_dimension(a: Unit, b: Unit) -> bool:
    return a.dimensionality == b.dimensionality


def dimension_text(dim) -> str:
    """Readable dimension: ``[carbon_dioxide]·[time]²/[length]²``."""
    if not dim:
        return "dimensionless"
    num = [f"{k}{'' if v == 1 else '^' + str(v)}" for k, v in sorted(dim.items()) if v > 0]
    den = [f"{k}{'' if v == -1 else '^' + str(-v)}" for k, v in sorted(dim.items()) if v < 0]
    return " ".join(num or ["1"]) + ("/" + " ".join(den) if den else "")


_EMISSION_UNITS = ("CO2", "CO2e")
_SYMBOLS = {"year": "yr", "percent": "percent"}


def format_units(pint_units) -> str:
    """Write a pint unit the way the documents do: ``t CO2/tce``, ``kg CO2e/kW``."""
    items = list(pint_units._units.items())
    symbol = registry().get_symbol

    def word(name: str, power: float) -> str:
        sym = name if name in _EMISSION_UNITS else _SYMBOLS.get(name) or symbol(name)
        p = abs(power)
        return sym if p == 1 else f"{sym}^{int(p) if float(p).is_integer() else p}"

    num = [(n, p) for n, p in items if p > 0]
    den = [(n, p) for n, p in items if p < 0]
    num.sort(key=lambda np_: np_[0] in _EMISSION_UNITS)
    text = " ".join(word(n, p) for n, p in num) or "1"
    if den:
        text += "/" + "/".join(word(n, p) for n, p in den)
    return text


def combine(op: str, a: Unit, b: Unit) -> Unit:
    """The unit of ``a op b`` for ``*`` and ``/``."""
    units = a.pint_units * b.pint_units if op == "*" else a.pint_units / b.pint_units
    q = registry().Quantity(1.0, units)
    return Unit(format_units(units), float(q.to_base_units().magnitude), q.dimensionality, units)
