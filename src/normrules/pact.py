"""PACT export: one WBCSD PACT ProductFootprint (Technical Specifications v3.0.3) per product.

    ev = normrules.load("rulesets/iec/pv_module_cfp.nr").evaluate(modules, children={"line": lines})
    footprints = normrules.pact.to_pact(ev, modules, created="2025-06-30")
    normrules.pact.write_pact(ev, modules, "footprints.json", created="2025-06-30")

What the PCR computes comes from the evaluation: ``pcfExcludingBiogenicUptake`` is the footprint
value (``cfp`` by default, in kg CO2e per product, so the declared unit is 1 ``piece``), and a
per-unit figure (``cfp_per_kw``) is carried alongside in ``comment`` and, given a schema URL, in a
data model extension. The product rule set's header gives ``productOrSectorSpecificRules``.
Everything else PACT requires is *declared*: for each field, either a column of the product table
named like the field in snake case (``pcf.productMassPerDeclaredUnit`` → column
``product_mass_per_declared_unit``, a unit in the header converted, e.g. ``[g]``) or a param of the
ruleset named ``pact_`` + that (``pact_ipcc_characterization_factors``). Nothing is invented: a field
given nowhere, a blank cell or an unknown footprint stops the export with :class:`PactExportError`,
which lists every such problem with the field, the products and what to add.

The ``id`` of a footprint is ``uuid5(ID_NAMESPACE, "<ruleset ref>|<product key>|<sha256 of the
footprint's other fields>")``: the same inputs give the same file, and any change to a footprint
gives it a new id, as PACT v3 requires of an immutable footprint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import sys
import uuid
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import types as T
from .atomic import write_text_atomic
from .errors import NormrulesError
from .tables import split_header, to_arrow
from .units import UnitSyntaxError, parse_unit

PACT_SPEC_VERSION = "3.0.3"
"""The version of the PACT Technical Specifications the footprints follow (``specVersion``)."""

ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:normrules:pact:product-footprint")
"""The uuid5 namespace of footprint ids."""

PER_UNIT_EXTENSION_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "normrules: the footprint per the PCR's own declared unit",
    "type": "object",
    "required": ["value", "unit", "name", "ruleset"],
    "properties": {
        "value": {"type": "string", "pattern": r"^[+-]?\d+(\.\d+)?$"},
        "unit": {"type": "string", "minLength": 1},
        "name": {"type": "string", "minLength": 1},
        "label": {"type": "string"},
        "ruleset": {"type": "string", "minLength": 1},
    },
    "additionalProperties": False,
}
"""JSON Schema of the ``data`` of the per-unit extension; publish it where ``extension_schema`` points."""

_DECLARED_UNITS = ("liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer",
                   "square meter", "piece", "hour", "megabit second")
_RFC3339 = "%Y-%m-%dT%H:%M:%SZ"
_INVALID = object()           # a value already reported as a problem (not also reported as missing)


class PactExportError(NormrulesError):
    """The evaluation or the declarations cannot give a complete ProductFootprint.

    ``problems`` lists each missing or unusable field with the products it concerns.
    """

    def __init__(self, problems, entity: str = "product"):
        self.problems = tuple(problems)
        lines = [f"cannot write PACT v3 footprints: {len(self.problems)} problem{'s' * (len(self.problems) != 1)}"]
        lines += [f"  {p.render(entity)}" for p in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class PactProblem:
    """One field that cannot be filled: ``keys`` are the products (empty: every product)."""

    field: str
    message: str
    keys: tuple[str, ...] = ()

    def render(self, entity: str) -> str:
        if not self.keys:
            return f"{self.field}: {self.message}"
        shown = ", ".join(self.keys[:8]) + (f" and {len(self.keys) - 8} more" if len(self.keys) > 8 else "")
        return f"{self.field} ({entity} {shown}): {self.message}"


@dataclass(frozen=True)
class PactMapping:
    """Which computed values are the PACT figures.

    ``footprint``: kg CO2e per product (a value of the ruleset, or of one ruleset it imports, found
    as ``alias.name``); ``per_unit``: the same footprint per the PCR's own declared unit (None: none);
    ``extension_schema``: the public URL of :data:`PER_UNIT_EXTENSION_SCHEMA`, to also carry the
    per-unit figure as a PACT data model extension.
    """

    footprint: str = "cfp"
    per_unit: str | None = "cfp_per_kw"
    declared_unit: str = "piece"
    extension_schema: str | None = None


@dataclass(frozen=True)
class _Field:
    path: str                 # PACT path: "companyName", "pcf.exemptedEmissionsPercent"
    kind: str                 # text | list | decimal | percent | datetime | boolean
    unit: str = ""            # decimal: the unit PACT states it in
    sign: str = ""            # decimal: "+" must be ≥ 0, "-" must be ≤ 0
    pattern: str = ""         # text and list items must match it (whole value)
    example: str = ""
    column_name: str = ""     # when not a PACT field
    what: str = ""            # what the declaration says, when the path does not

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def column(self) -> str:
        return self.column_name or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", self.name).lower()

    @property
    def param(self) -> str:
        return "pact_" + self.column


_URN = r"[uU][rR][nN]:\S+"
_KG_CO2E = "kg CO2e"
_BIOGENIC_APPLICABLE = _Field("pcf.pcfIncludingBiogenicUptake", "boolean", example="false",
                              column_name="biogenic_emissions_applicable",
                              what="whether biogenic and land-sector emissions apply; if they do, each biogenic "
                                   "figure is declared too, else they are all 0")
_REQUIRED = (
    _Field("companyName", "text", example="Example PV Co."),
    _Field("companyIds", "list", pattern=_URN, example="urn:company:example:pv-co"),
    _Field("productDescription", "text", example="400 W monocrystalline module"),
    _Field("productIds", "list", pattern=_URN, example="urn:pact:example.com:product-id:M001"),
    _Field("productNameCompany", "text", example="PV-400"),
    _Field("pcf.productMassPerDeclaredUnit", "decimal", unit="kg", sign="+", example="21.5"),
    _Field("pcf.referencePeriodStart", "datetime", example="2024-01-01"),
    _Field("pcf.referencePeriodEnd", "datetime", example="2025-01-01"),
    _Field("pcf.fossilCarbonContent", "decimal", unit="kg", sign="+", example="0.9"),
    _Field("pcf.ipccCharacterizationFactors", "list", pattern=r"AR\d+", example="AR6"),
    _Field("pcf.crossSectoralStandards", "list", pattern=r"\S+", example="ISO14067"),
    _Field("pcf.exemptedEmissionsPercent", "percent", example="0"),
    _Field("pcf.ccsTechnologicalCO2CaptureIncluded", "boolean", example="false"),
    _BIOGENIC_APPLICABLE,
)
# PACT: "required if biogenic and land sector related emissions are applicable, 0 if not applicable"
_BIOGENIC = (
    _Field("pcf.biogenicCarbonContent", "decimal", unit="kg", sign="+"),
    _Field("pcf.landUseChangeGhgEmissions", "decimal", unit=_KG_CO2E, sign="+"),
    _Field("pcf.landManagementFossilGhgEmissions", "decimal", unit=_KG_CO2E, sign="+"),
    _Field("pcf.landManagementBiogenicCO2Emissions", "decimal", unit=_KG_CO2E, sign="+"),
    _Field("pcf.landManagementBiogenicCO2Removals", "decimal", unit=_KG_CO2E, sign="-"),
    _Field("pcf.biogenicCO2Uptake", "decimal", unit=_KG_CO2E, sign="-"),
    _Field("pcf.biogenicNonCO2Emissions", "decimal", unit=_KG_CO2E, sign="+"),
)
_OPTIONAL = (
    _Field("productClassifications", "list", pattern=_URN),
    _Field("validityPeriodStart", "datetime"),
    _Field("validityPeriodEnd", "datetime"),
    _Field("pcf.geographyRegionOrSubregion", "text"),
    _Field("pcf.geographyCountry", "text", pattern=r"[A-Z]{2}"),
    _Field("pcf.geographyCountrySubdivision", "text", pattern=r"[A-Z]{2}-[A-Z0-9]{1,3}"),
    _Field("pcf.boundaryProcessesDescription", "text"),
    _Field("pcf.exemptedEmissionsDescription", "text"),
    _Field("pcf.packagingEmissionsIncluded", "boolean"),
    _Field("pcf.primaryDataShare", "percent"),
)
_GEOGRAPHY = ("pcf.geographyRegionOrSubregion", "pcf.geographyCountry", "pcf.geographyCountrySubdivision")


# --------------------------------------------------------------------------- formatting


def decimal_text(value) -> str:
    """A PACT ``Decimal``: a plain decimal string, never an exponent (``1e-05`` → ``"0.00001"``).

    Floats are rounded to 12 significant digits first, hiding the noise of unit conversion.
    """
    if isinstance(value, Decimal):
        d = value
    else:
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        d = Decimal(f"{float(value):.12g}")
    d = d.normalize()
    return "0" if d == 0 else format(d, "f")


def rfc3339(value) -> str:
    """A date or date-time as an RFC 3339 UTC date-time; a date is its midnight, a naive time is UTC."""
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            value = dt.date.fromisoformat(text)
        else:
            value = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[s]").astype(dt.datetime)
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo is None else value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.strftime(_RFC3339)
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00Z"
    raise ValueError(f"not a date: {value!r}")


# --------------------------------------------------------------------------- declarations


class _Declarations:
    """Reads each field from the product table's column or a ruleset's ``pact_`` param."""

    def __init__(self, products: pa.Table, rows: np.ndarray, keys: list[str], rulesets, problems: list):
        self.products, self.rows, self.keys, self.problems = products, rows, keys, problems
        self.columns = {split_header(c)[0]: (c, split_header(c)[1]) for c in products.column_names}
        self.rulesets = rulesets                   # [(ruleset, its params by name)], the evaluated one first

    def read(self, field: _Field, required: bool) -> list | None:
        """Per product, the field's value (None where missing or invalid); None when given nowhere."""
        params = [(rs, ps[field.param]) for rs, ps in self.rulesets if field.param in ps]
        values = [self._param(field, rs, p) for rs, p in params]
        given = field.column in self.columns
        if len({json.dumps(v, default=str) for v in values}) > 1:
            where = " and ".join(f"`{p.name}` of {rs.ref}" for rs, p in params)
            out = self._problem(field, f"declared differently by {where}: keep one")
        elif given and params:
            out = self._problem(field, f"given twice, by the column `{field.column}` and by the param "
                                       f"`{field.param}` of {params[0][0].ref}: keep one")
        elif given:
            out = self._column(field)
        elif params:
            out = values[0] if values[0] is _INVALID else [values[0]] * len(self.keys)
        else:
            if required:
                what = f" ({field.what})" if field.what else ""
                header = f"{field.column} [{field.unit}]" if field.unit else field.column
                self._problem(field, f"not declared{what}: add a column `{header}` to the product table "
                                     f"(e.g. `{field.example}`) or declare a param `{field.param}` in the ruleset")
            return None
        if out is _INVALID:
            return None
        if required:
            missing = tuple(k for k, v in zip(self.keys, out) if v is None)
            if missing:
                self._problem(field, f"empty in the column `{field.column}`", missing)
        return [None if v is _INVALID else v for v in out]

    def _problem(self, field: _Field, message: str, keys=()):
        self.problems.append(PactProblem(field.path, message, tuple(keys)))
        return _INVALID

    # ------------------------------------------------------------------ params

    def _param(self, field: _Field, rs, param):
        typ, value = param.type, param.expr.value
        want = {"text": T.TextT, "list": T.TextT, "boolean": T.BoolT, "datetime": T.DateT}.get(field.kind, T.NumT)
        if not isinstance(typ, want) or (isinstance(typ, T.DateT) and typ.precision != "day") \
                or (field.kind == "percent" and typ.unit.text not in ("percent", "%")):
            return self._problem(field, f"the param `{param.name}` of {rs.ref} is {typ}; declare it as "
                                        f"{_param_type(field)}")
        if field.kind in ("text", "list"):
            return self._check_text(field, typ.categories[int(value)], f"the param `{param.name}`", ())
        if field.kind == "boolean":
            return bool(value)
        if field.kind == "datetime":
            return rfc3339(dt.date(1970, 1, 1) + dt.timedelta(days=int(value)))
        target = parse_unit("percent" if field.kind == "percent" else field.unit)
        if typ.unit.dimensionality != target.dimensionality:
            return self._problem(field, f"the param `{param.name}` of {rs.ref} is in {typ.unit.text}; declare it "
                                        f"as {_param_type(field)}")
        return self._check_number(field, float(value) / target.factor, f"the param `{param.name}`", ())

    # ------------------------------------------------------------------ columns

    def _column(self, field: _Field):
        column, unit = self.columns[field.column]
        arr = self.products.column(column).combine_chunks().take(pa.array(self.rows))
        if field.kind in ("decimal", "percent"):
            return self._numbers(field, column, unit, arr)
        if field.kind == "boolean":
            return self._booleans(field, column, arr)
        out: list = []
        for key, v in zip(self.keys, arr.to_pylist()):
            text = v.strip() if isinstance(v, str) else v
            if text is None or text == "":
                out.append(None)
            elif field.kind == "datetime":
                try:
                    out.append(rfc3339(text))
                except ValueError:
                    out.append(self._problem(field, f"`{text}` in the column `{column}` is not a date "
                                                    f"(write e.g. {field.example or '2024-01-01'})", (key,)))
            else:
                out.append(self._check_text(field, str(text), f"the column `{column}`", (key,)))
        return out

    def _numbers(self, field: _Field, column: str, unit: str | None, arr: pa.Array):
        factor = 1.0
        if unit:
            try:
                given, target = parse_unit(unit), parse_unit("percent" if field.kind == "percent" else field.unit)
            except UnitSyntaxError as exc:
                return self._problem(field, f"{exc} in the header `{column}`")
            if given.dimensionality != target.dimensionality:
                return self._problem(field, f"the column `{column}` is in {unit}; PACT states this field in "
                                            f"{'percent' if field.kind == 'percent' else field.unit}")
            factor = given.factor / target.factor
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            text = pc.replace_substring(pc.utf8_trim_whitespace(arr), "%", "")
            text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
            bad = pc.invert(pc.fill_null(pc.match_substring_regex(text, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"), True))
            if pc.any(bad).as_py():
                keys = tuple(np.asarray(self.keys, dtype=object)[np.asarray(bad)])
                return self._problem(field, f"not a number in the column `{column}`", keys)
            arr = text
        if pa.types.is_boolean(arr.type):
            return self._problem(field, f"the column `{column}` holds true/false, not numbers")
        values = np.asarray(pc.fill_null(arr.cast(pa.float64()), np.nan), dtype=float) * factor
        return [None if math.isnan(v) else self._check_number(field, v, f"the column `{column}`", (k,))
                for k, v in zip(self.keys, values)]

    def _booleans(self, field: _Field, column: str, arr: pa.Array) -> list:
        words = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False, "是": True, "否": False}
        out: list = []
        for key, v in zip(self.keys, arr.to_pylist()):
            if v is None or isinstance(v, bool):
                out.append(v)
            elif str(v).strip().lower() in words:
                out.append(words[str(v).strip().lower()])
            elif str(v).strip() == "":
                out.append(None)
            else:
                out.append(self._problem(field, f"`{v}` in the column `{column}` is not true or false", (key,)))
        return out

    # ------------------------------------------------------------------ checks

    def _check_text(self, field: _Field, text: str, where: str, keys):
        if field.kind == "list":
            items = [s for s in re.split(r"[;\s]+", text) if s]
            bad = [s for s in items if not re.fullmatch(field.pattern, s)]
            if bad or not items:
                return self._problem(field, f"`{bad[0] if bad else text}` in {where} is not a valid item "
                                            f"(e.g. `{field.example}`; separate several by `;`)", keys)
            return list(dict.fromkeys(items))
        if field.pattern and not re.fullmatch(field.pattern, text):
            return self._problem(field, f"`{text}` in {where} does not match {field.pattern}", keys)
        return text

    def _check_number(self, field: _Field, value: float, where: str, keys):
        if field.kind == "percent" and not 0 <= value <= 100:
            return self._problem(field, f"{decimal_text(value)} % in {where} is outside [0, 100]", keys)
        if (field.sign == "+" and value < 0) or (field.sign == "-" and value > 0):
            return self._problem(field, f"{decimal_text(value)} in {where} must be {'≥' if field.sign == '+' else '≤'} 0",
                                 keys)
        return decimal_text(value)


def _param_type(field: _Field) -> str:
    return {"text": "text {…}", "list": "text {…} (several values separated by `;`)", "boolean": "boolean",
            "datetime": "date", "percent": "percent"}.get(field.kind, field.unit)


# --------------------------------------------------------------------------- the export


def _value_owner(evaluation, name: str, what: str):
    """(column name in the evaluation, the Ruleset that computes it, the name there) for ``name``
    or ``alias.name``."""
    rs = evaluation.ruleset
    if name in rs.checked.by_name():
        return name, rs, name
    alias, _, rest = name.partition(".")
    imports = dict(rs.checked.imports)
    if rest and alias in imports and rest in imports[alias].checked.by_name():
        return name, imports[alias], rest
    found = [a for a, sub in rs.checked.imports if name in sub.checked.by_name()]
    if len(found) == 1:
        return f"{found[0]}.{name}", imports[found[0]], name
    hint = f"; it is in the imports {', '.join(found)}: name one (`{found[0]}.{name}`)" if found else ""
    raise PactExportError([PactProblem(what, f"{rs.ref} has no value `{name}`{hint}; pass "
                                             f"mapping=PactMapping(...) naming the value")])


def _figures(evaluation, name: str, owner, unit: str | None, what: str):
    """(texts or None per entity, display unit text, label) of a numeric value of the root entity."""
    item = evaluation._item(name)
    typ = getattr(item, "type", None)
    if not isinstance(typ, T.NumT) or (unit and typ.unit.dimensionality != parse_unit(unit).dimensionality):
        raise PactExportError([PactProblem(what, f"`{name}` is {typ or 'not a value'}, not a quantity in {unit}")])
    root = owner.checked.entity
    if (getattr(item, "entity", "") or root) != root:
        raise PactExportError([PactProblem(what, f"`{name}` is a value of each {item.entity}, not of the {root}")])
    col = evaluation.columns[name]
    factor = parse_unit(unit).factor if unit else typ.unit.factor
    texts = [decimal_text(v) if k else None for v, k in zip(col.data / factor, col.known)]
    label = item.label.en if item.label and item.label.en else (item.label.zh if item.label else name)
    return texts, typ.unit.text, label


def _created(evaluation, created, problems) -> list:
    if created is not None:
        return [rfc3339(created)] * evaluation.n
    item = evaluation.ruleset.checked.by_name().get("as_of")
    if item is not None and isinstance(item.type, T.DateT) and item.type.precision == "day":
        col = evaluation.columns["as_of"]
        return [rfc3339(dt.date(1970, 1, 1) + dt.timedelta(days=int(d))) if k else None
                for d, k in zip(col.data, col.known)]
    problems.append(PactProblem("created", "no creation date: pass created=DATE (from the command line: "
                                           "--as-of DATE); it is never taken from the clock, so output is reproducible"))
    return [None] * evaluation.n


def _product_rows(evaluation, products: pa.Table, entity: str, key: str) -> np.ndarray:
    names = {split_header(c)[0]: c for c in products.column_names}
    if key not in names:
        raise PactExportError([PactProblem("productIds", f"the product table has no key column `{key}`: the "
                                                         f"{entity}s are matched to the evaluation by it")], entity)
    given = products.column(names[key]).cast(pa.string()).combine_chunks()
    if len(pc.unique(given)) != len(given):
        raise PactExportError([PactProblem("productIds", f"the key column `{key}` of the product table repeats a key")],
                              entity)
    keys = pa.array(evaluation.keys.astype(str).tolist(), pa.string())
    idx = pc.index_in(keys, value_set=given)
    missing = np.asarray(pc.is_null(idx))
    if missing.any():
        raise PactExportError([PactProblem("productIds", "not in the product table",
                                           tuple(np.asarray(keys)[missing].tolist()))], entity)
    return np.asarray(idx, dtype=np.int64)


def to_pact(evaluation, products, *, created=None, mapping: PactMapping | None = None) -> list[dict]:
    """One PACT v3 ``ProductFootprint`` (a JSON-ready dict) per entity of ``evaluation``.

    ``products`` is the entity table (pandas DataFrame, pyarrow Table or dict of columns; usually
    the one evaluated) with the key column and the declared columns (see the module docstring and
    docs/embedding.md, "PACT export"). ``created`` (a date, a date-time or an ISO string) stamps
    every footprint; without it the ruleset's ``as_of`` input does. Raises :class:`PactExportError`
    listing every field that cannot be filled.
    """
    mapping = mapping or PactMapping()
    checked = evaluation.ruleset.checked
    entity, key = checked.entity, checked.key_of(checked.entity) if checked.entities else checked.key
    if mapping.declared_unit not in _DECLARED_UNITS:
        raise PactExportError([PactProblem("pcf.declaredUnitOfMeasurement", f"`{mapping.declared_unit}` is not one "
                                                                             f"of {', '.join(_DECLARED_UNITS)}")], entity)
    name, owner, _ = _value_owner(evaluation, mapping.footprint, "pcf.pcfExcludingBiogenicUptake")
    footprint, _, _ = _figures(evaluation, name, owner, _KG_CO2E, "pcf.pcfExcludingBiogenicUptake")
    per_unit = None
    if mapping.per_unit:
        column, unit_owner, unit_name = _value_owner(evaluation, mapping.per_unit, "comment")
        per_unit = (unit_name, *_figures(evaluation, column, unit_owner, None, "comment"))
    products = to_arrow(products)
    keys = evaluation.keys.astype(str).tolist()
    problems: list[PactProblem] = []
    rulesets = [(r, {p.name: p for p in r.checked.params})
                for r in ([evaluation.ruleset] if owner is evaluation.ruleset else [evaluation.ruleset, owner])]
    decl = _Declarations(products, _product_rows(evaluation, products, entity, key), keys, rulesets, problems)
    values = {f.path: decl.read(f, True) for f in _REQUIRED}
    values.update({f.path: decl.read(f, False) for f in _OPTIONAL})
    applicable = values.pop(_BIOGENIC_APPLICABLE.path) or [None] * len(keys)
    biogenic = _biogenic(decl, keys, applicable, problems)
    stamps = _created(evaluation, created, problems)
    unknown = tuple(k for k, v in zip(keys, footprint) if v is None)
    if unknown:
        problems.append(PactProblem("pcf.pcfExcludingBiogenicUptake", f"`{name}` is unknown (missing or unusable data; "
                                                                      f"`normrules explain` shows why)", unknown))
    ccs = tuple(k for k, v in zip(keys, values["pcf.ccsTechnologicalCO2CaptureIncluded"] or []) if v)
    if ccs:
        problems.append(PactProblem("pcf.ccsTechnologicalCO2CaptureIncluded", "true, but this export has no CCS "
                                    "figures to write (ccsTechnologicalCO2Capture, technologicalCO2Removals)", ccs))
    header = owner.checked
    if not header.meta_value("issuer"):
        problems.append(PactProblem("pcf.productOrSectorSpecificRules", f"the ruleset {header.ref} has no `issuer` "
                                    f"in its header (PACT's otherOperatorName of the PCR): add one"))
    if problems:
        raise PactExportError(problems, entity)
    out = []
    for i, product in enumerate(keys):
        row = {path: v[i] for path, v in values.items() if v is not None and v[i] is not None}
        bio = {path: v[i] for path, v in biogenic.items()}
        pcf = _carbon_footprint(mapping, footprint[i], row, bio, header, product, problems)
        comment = [f"Computed by normrules from the ruleset {header.ref} ({header.meta_value('document')}; "
                   f"sha256 {header.content_hash[:16]}) for {entity} {product}."]
        doc = {"id": "", "specVersion": PACT_SPEC_VERSION, "created": stamps[i], "status": "Active",
               **{p: row[p] for p in ("validityPeriodStart", "validityPeriodEnd") if p in row},
               **{p: row[p] for p in ("companyName", "companyIds", "productDescription", "productIds")},
               **({"productClassifications": row["productClassifications"]} if "productClassifications" in row else {}),
               "productNameCompany": row["productNameCompany"], "comment": "", "pcf": pcf}
        if per_unit is not None and per_unit[1][i] is not None:
            unit_name, texts, unit_text, label = per_unit
            comment.append(f"{label}: {texts[i]} {unit_text} (value `{unit_name}`).")
            if mapping.extension_schema:
                doc["extensions"] = [{"specVersion": "2.0.0", "dataSchema": mapping.extension_schema,
                                      "data": {"value": texts[i], "unit": unit_text, "name": unit_name,
                                               "label": label, "ruleset": header.ref}}]
        doc["comment"] = " ".join(comment)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        doc["id"] = str(uuid.uuid5(ID_NAMESPACE, f"{header.ref}|{product}|{digest}"))
        out.append(doc)
    if problems:
        raise PactExportError(problems, entity)
    return out


def _biogenic(decl: _Declarations, keys: list[str], applicable: list, problems: list) -> dict[str, list]:
    """The biogenic and land figures: declared where they apply, "0" where they do not (PACT's rule)."""
    out = {}
    for field in _BIOGENIC:
        given = decl.read(field, False) or [None] * len(keys)
        missing = tuple(k for k, a, v in zip(keys, applicable, given) if a and v is None)
        if missing:
            problems.append(PactProblem(field.path, f"biogenic and land-sector emissions apply: give it in a column "
                                                    f"`{field.column} [{field.unit}]` (0 where it does not occur)", missing))
        stray = tuple(k for k, a, v in zip(keys, applicable, given) if a is False and v not in (None, "0"))
        if stray:
            problems.append(PactProblem(field.path, "given, but biogenic_emissions_applicable is false", stray))
        out[field.path] = [v if a else "0" for a, v in zip(applicable, given)]
    return out


def _carbon_footprint(mapping, excluding: str, row: dict, bio: dict, header, product, problems) -> dict:
    """The ``pcf`` object; fossil emissions are the PCF less its biogenic and land terms (PACT's own sum)."""
    land_and_biogenic = sum(Decimal(bio[f"pcf.{n}"]) for n in (
        "landUseChangeGhgEmissions", "landManagementBiogenicCO2Emissions", "landManagementBiogenicCO2Removals",
        "biogenicNonCO2Emissions"))
    fossil = Decimal(excluding) - land_and_biogenic
    if fossil < 0:
        problems.append(PactProblem("pcf.fossilGhgEmissions", f"the biogenic and land terms ({decimal_text(land_and_biogenic)}"
                                    f" kg CO2e) exceed the footprint {excluding} kg CO2e", (product,)))
    pcf = {"declaredUnitOfMeasurement": mapping.declared_unit, "declaredUnitAmount": "1",
           "productMassPerDeclaredUnit": row["pcf.productMassPerDeclaredUnit"],
           "referencePeriodStart": row["pcf.referencePeriodStart"], "referencePeriodEnd": row["pcf.referencePeriodEnd"]}
    geography = [p for p in _GEOGRAPHY if p in row]
    if len(geography) > 1:
        problems.append(PactProblem(" and ".join(geography), "give at most one geography", (product,)))
    pcf.update({p[4:]: row[p] for p in geography})
    if "pcf.boundaryProcessesDescription" in row:
        pcf["boundaryProcessesDescription"] = row["pcf.boundaryProcessesDescription"]
    pcf.update({"pcfExcludingBiogenicUptake": excluding,
                "pcfIncludingBiogenicUptake": decimal_text(Decimal(excluding) + Decimal(bio["pcf.biogenicCO2Uptake"])),
                "fossilCarbonContent": row["pcf.fossilCarbonContent"],
                "biogenicCarbonContent": bio["pcf.biogenicCarbonContent"],
                "fossilGhgEmissions": decimal_text(fossil)})
    pcf.update({p[4:]: v for p, v in bio.items() if p != "pcf.biogenicCarbonContent"})
    if "pcf.packagingEmissionsIncluded" in row:
        pcf["packagingEmissionsIncluded"] = row["pcf.packagingEmissionsIncluded"]
    pcf.update({"ccsTechnologicalCO2CaptureIncluded": row["pcf.ccsTechnologicalCO2CaptureIncluded"],
                "ipccCharacterizationFactors": row["pcf.ipccCharacterizationFactors"],
                "crossSectoralStandards": row["pcf.crossSectoralStandards"],
                "productOrSectorSpecificRules": [{"operator": "Other", "ruleNames": [str(header.meta_value("document"))],
                                                  "otherOperatorName": str(header.meta_value("issuer"))}],
                "exemptedEmissionsPercent": row["pcf.exemptedEmissionsPercent"]})
    pcf.update({p[4:]: row[p] for p in ("pcf.exemptedEmissionsDescription", "pcf.primaryDataShare") if p in row})
    return pcf


# --------------------------------------------------------------------------- writing


def pact_json(footprints: list[dict]) -> str:
    """The footprints as a JSON array (UTF-8 text, keys in PACT's order, one trailing newline)."""
    return json.dumps(footprints, ensure_ascii=False, indent=2) + "\n"


def write_pact(evaluation, products, path_or_stream, **options) -> list[dict]:
    """Write :func:`to_pact`'s footprints as a JSON array to a path (atomically) or a text stream."""
    footprints = to_pact(evaluation, products, **options)
    text = pact_json(footprints)
    if hasattr(path_or_stream, "write"):
        path_or_stream.write(text)
        return footprints
    write_text_atomic(path_or_stream, text)
    return footprints


def write_pact_output(evaluation, products, output_path=None, *, created=None) -> None:
    """For ``normrules eval --format pact``: write to ``output_path``, or standard output when None."""
    write_pact(evaluation, products, sys.stdout if output_path is None else output_path, created=created)


__all__ = ["to_pact", "write_pact", "write_pact_output", "pact_json", "PactMapping", "PactExportError",
           "PactProblem", "decimal_text", "rfc3339", "PACT_SPEC_VERSION", "ID_NAMESPACE", "PER_UNIT_EXTENSION_SCHEMA"]
