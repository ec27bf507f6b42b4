"""Hypothesis strategies: random normrules rulesets (as source text) with tables of data.

:func:`cases` draws a :class:`Case`: the text of a ruleset that compiles, plus a dict-of-columns table
to evaluate it over and, when the ruleset has a child entity, the child table. The ruleset is
generated unit-consistently over four dimensions:

* ``E`` energy flow        — inputs ``energy`` [tce/yr], ``energy_gj`` [GJ/yr]
* ``C`` CO2 flow           — inputs ``co2`` [t CO2/yr], ``co2_kg`` [kg CO2/yr]
* ``I`` CO2 per energy     — input ``ef`` [kg CO2/tce]; also ``C / E``
* ``D`` dimensionless      — inputs ``share`` [percent], ``ratio`` [number]; also ``X / X``

plus a boolean ``flag`` and two text inputs ``kind``/``kind2`` over the same categories. Only
quantities of one dimension are added, compared, min/max-ed or joined by if/case; ``*`` and ``/``
combine dimensions as physics does (``C / E = I``, ``E * I = C``, ``X / D = X`` …).

Some rulesets also have (each drawn independently):

* a child entity ``line`` of ``site`` (inputs ``c`` [kg CO2/yr], ``e`` [tce/yr], ``q`` [number],
  ``ok``, ``lkind`` and a per-row mass ``unit``): child lets read the site's values (``Up``), the
  site aggregates them with every aggregate function, with or without ``where`` and ``default``;
  child rules and a child result are judged per line. Sites get 0–3 lines, in shuffled order;
* params (numbers of three dimensions, a boolean, text, a unit name);
* lookup tables keyed by text (one or two keys; categories declared or taken from the rows, and
  only some of them present, so lookups miss) and by a number ``year`` (exact and ``latest <=`` /
  ``latest <``); with a child entity, ``convert(q, unit, target)`` into a table's or param's unit.

Lets, rules and results are generated in tiers so every reference points backwards (no cycles, and
every ``group.*`` glob is complete when it is used)::

    inputs → child lets → lets → rules a.* → lets → child lets → rules b.* → result r0
           → child rules k.* and child result → rules c.* → result r1

A line reads its site's rules one by one (``a.r0``, ``a.r0 is fail``), never in a verdict set
(``all(a.*)`` in a child row is error E354); later lines' rules, the line result and the sites'
aggregates read the line rules ``k.*``.

Every numeric literal is a "nice" quantity drawn from a per-dimension pool and written in one of
several units of its dimension (``300 kg CO2/tce`` is ``0.3 t CO2/tce``); the data draw from the same
pools and from the ruleset's own literals (converted exactly, with :class:`~decimal.Decimal`, into the
input's declared unit), so values land exactly on limits, also across units. Data also holds
missing values (NaN / None), zeros (zero divisors), invalid values (out of a declared range, an
undeclared category: read as unknown with ``invalid="unknown"``) and sometimes a missing column.

:func:`park_table` is a plain numpy generator of data for ``rulesets/gb/zero_carbon_park.nr``;
:func:`pv_tables` one for the PV footprint rulesets (``rulesets/iec/pv_module_cfp.nr``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from hypothesis import strategies as st

ENTITY = "site"
CHILD = "line"
CATEGORIES = ("steel", "cement", "chem")
DIMS = ("E", "C", "I", "D")

# Units of each dimension: (text as written, how many of this unit make one reference unit).
# The reference units are tce/yr, t CO2/yr, t CO2/tce and the plain number.
UNITS: dict[str, tuple[tuple[str, Decimal], ...]] = {
    "E": (("tce/yr", Decimal(1)), ("万tce/yr", Decimal("0.0001")), ("GJ/yr", Decimal("29.3076"))),
    "C": (("t CO2/yr", Decimal(1)), ("kg CO2/yr", Decimal(1000)), ("万t CO2/yr", Decimal("0.0001")),
          ("kt CO2/yr", Decimal("0.001"))),
    "I": (("t CO2/tce", Decimal(1)), ("kg CO2/tce", Decimal(1000))),
    "D": (("", Decimal(1)), ("percent", Decimal(100)), ("%", Decimal(100))),
}

# "Nice" quantities in the reference unit of each dimension: limits and data both come from here.
POOLS: dict[str, tuple[Decimal, ...]] = {
    "E": tuple(map(Decimal, ("0", "1", "5000", "200000", "999999", "1000000", "12345.5"))),
    "C": tuple(map(Decimal, ("0", "1", "40000", "300000", "300001", "2500.25"))),
    "I": tuple(map(Decimal, ("0", "0.2", "0.25", "0.3", "1.5"))),
    "D": tuple(map(Decimal, ("0", "0.25", "0.5", "0.8", "0.9", "1", "2"))),
}


@dataclass(frozen=True)
class NumInput:
    name: str
    dim: str
    unit: str                  # declared unit ("number" for a plain number)
    per_ref: Decimal           # how many declared units make one reference unit
    range: str = ""


NUM_INPUTS = (
    NumInput("energy", "E", "tce/yr", Decimal(1), "in [0, inf)"),
    NumInput("energy_gj", "E", "GJ/yr", Decimal("29.3076")),
    NumInput("co2", "C", "t CO2/yr", Decimal(1), "in [0, inf)"),
    NumInput("co2_kg", "C", "kg CO2/yr", Decimal(1000)),
    NumInput("ef", "I", "kg CO2/tce", Decimal(1000)),
    NumInput("share", "D", "percent", Decimal(100), "in [0, 100]"),
    NumInput("ratio", "D", "number", Decimal(1)),
)
BOOL_INPUTS = ("flag",)
TEXT_INPUTS = ("kind", "kind2")

# The child entity `line` (one site has 0–3 lines).
CHILD_NUM_INPUTS = (
    NumInput("lco2", "C", "kg CO2/yr", Decimal(1000)),
    NumInput("lenergy", "E", "tce/yr", Decimal(1), "in [0, inf)"),
    NumInput("qty", "D", "number", Decimal(1)),
)
CHILD_BOOL_INPUTS = ("lok",)
CHILD_TEXT_INPUTS = ("lkind",)
CHILD_UNIT = "lunit"                   # a line's mass unit (text)
# A line's own value of each dimension (a child row's leaf: an aggregate's argument must read one).
CHILD_LEAF = {"C": "lco2", "E": "lenergy", "D": "qty", "I": "(lco2 / lenergy)"}
MASS_UNITS = ("kg", "g", "t")          # a line's `unit`; "cell" is declared too, and converts to none
CONVERT_TARGETS = ("kg", "t")
YEARS = (2018, 2019, 2020, 2021, 2022, 2023, 2024)
TABLE_YEARS = (2019, 2020, 2021, 2023)

CMP_OPS = ("<=", "<", ">=", ">", "==", "!=")
VERDICT_STATES = ("pass", "fail", "not_applicable", "unknown")


def fmt_decimal(d: Decimal) -> str:
    """A NUMBER token: plain decimal notation, no exponent, no trailing zeros, no sign."""
    text = format(d.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class Literal:
    dim: str
    quantity: Decimal          # in the reference unit of ``dim`` (non-negative)
    unit: str                  # as written


@dataclass(frozen=True)
class TableInfo:
    """A generated lookup table: how to read it."""

    name: str
    key_kinds: tuple[str, ...]                 # "text" | "number" per key
    key_cats: tuple[tuple[str, ...], ...]      # per text key: the categories a literal key may name
    columns: tuple[tuple[str, str], ...]       # (column, dimension | "bool" | "unit")


@dataclass
class Ctx:
    """What an expression may refer to at this point of the ruleset, in one entity.

    The root context's ``child`` is the child entity's context (aggregates range over it); what is
    declared on the root is added to both (a child row reads its site's values), what is declared
    on the child only to the child's.
    """

    num: dict[str, list[str]]
    bools: list[str]
    texts: list[str]
    rules: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    results: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    literals: list[Literal] = field(default_factory=list)
    entity: str = ENTITY
    owner: dict[str, str] = field(default_factory=dict)      # name → entity, for `site.name` spellings
    child: "Ctx | None" = None
    tables: list[TableInfo] = field(default_factory=list)
    years: list[str] = field(default_factory=list)           # number keys of `t_year`
    units: list[str] = field(default_factory=list)           # text values naming a mass unit (child)
    targets: list[str] = field(default_factory=list)         # convert targets besides table columns
    own: set[str] = field(default_factory=set)               # (child) the names of the line's own values
    sets: bool = True                                        # verdict sets allowed (not in a child row)

    def _both(self):
        return (self,) if self.child is None else (self, self.child)

    def add_num(self, dim: str, name: str) -> None:
        for c in self._both():
            c.num.setdefault(dim, []).append(name)

    def add_bool(self, name: str) -> None:
        for c in self._both():
            c.bools.append(name)

    def add_text(self, name: str) -> None:
        for c in self._both():
            c.texts.append(name)

    def add_rules(self, group: str, ids: list[str]) -> None:
        for c in self._both():
            c.rules.extend(ids)
            if ids:
                c.groups.append(group)

    def add_result(self, name: str, labels: tuple[str, ...]) -> None:
        for c in self._both():
            c.results.append((name, labels))


# ------------------------------------------------------------------ expressions


def _pick(draw, options):
    return options[draw(st.integers(0, len(options) - 1))]


def literal(draw, ctx: Ctx, dim: str) -> str:
    q = _pick(draw, POOLS[dim])
    units = UNITS[dim]
    if dim == "D" and abs(q) > 1:
        units = units[1:]      # a plain number above 1 next to a percentage is a compile error (E309)
    unit, per_ref = _pick(draw, units)
    ctx.literals.append(Literal(dim, q, unit))
    text = fmt_decimal(q * per_ref)
    return f"({text} {unit})" if unit else text


def ref(draw, ctx: Ctx, names: list[str]) -> str:
    name = _pick(draw, names)
    owner = ctx.owner.get(name)
    if owner is not None and draw(st.integers(0, 4)) == 0:
        return f"{owner}.{name}"   # the entity-qualified spelling
    return name


def _columns(ctx: Ctx, want: str) -> list[tuple[TableInfo, str]]:
    return [(t, col) for t in ctx.tables for col, kind in t.columns if kind == want]


def lookup(draw, ctx: Ctx, want: str, depth: int) -> str:
    """A lookup of a column of kind ``want`` (a dimension, "bool" or "unit")."""
    table, column = _pick(draw, _columns(ctx, want))
    if table.key_kinds == ("number",):
        key = _pick(draw, ctx.years + ["(year - 1)", "2020", "2022"] if ctx.years else ["2020", "2022"])
        mode = _pick(draw, ("", "latest <= ", "latest < "))
        return f"{table.name}[{mode}{key}].{column}"
    keys = []
    for cats in table.key_cats:
        if draw(st.integers(0, 3)) == 0:
            keys.append(f'"{_pick(draw, cats)}"')
        else:
            keys.append(text_expr(draw, ctx, max(depth - 1, 0)))
    return f"{table.name}[{', '.join(keys)}].{column}"


def _reads_own(ctx: Ctx, text: str) -> bool:
    """Whether an expression (as written) reads a value of the child row itself."""
    names = "|".join(re.escape(name) for name in sorted(ctx.own))
    return re.search(r"(?<![\w.\"])(?:%s\.)?(?:%s)\b" % (CHILD, names), text) is not None


AGGREGATES = ("sum", "mean", "min", "max", "count", "share", "any", "all")


def aggregate(draw, ctx: Ctx, dim: str | None, depth: int, func: str | None = None) -> str:
    """An aggregate over the child rows (``dim`` None: any/all, a condition). Its argument reads a
    line's own value (else it aggregates nothing of the lines: error E345)."""
    child = ctx.child
    if func is not None:
        pass
    elif dim is None:
        func = _pick(draw, ("any", "all"))
    else:
        func = _pick(draw, ("sum", "mean", "min", "max") + (("count", "count", "share", "share") if dim == "D" else ()))
    if func == "count":
        arg = CHILD
    elif dim is None or func == "share":
        arg = bool_expr(draw, child, depth, verdict=False)
        if not _reads_own(child, arg):
            arg = f"({arg} {_pick(draw, ('and', 'or'))} {child_anchor(draw, child)})"
    else:
        arg = num_expr(draw, child, dim, depth)
        if not _reads_own(child, arg):
            arg = f"({arg} {_pick(draw, ('+', '-'))} {CHILD_LEAF[dim]})"
    if draw(st.booleans()):
        cond = child_anchor(draw, child) if draw(st.booleans()) else bool_expr(draw, child, depth)
        arg += f" where {cond}"
    text = f"{func}({arg})"
    if draw(st.booleans()):
        text += " default " + (_pick(draw, ("true", "false")) if dim is None else literal(draw, ctx, dim))
    return f"({text})"


def convert(draw, ctx: Ctx, depth: int) -> str:
    """``convert(quantity, unit, target)``: a plain number, in a child row."""
    quantity = "qty" if draw(st.booleans()) else num_expr(draw, ctx, "D", depth)
    targets = list(ctx.targets) + (["table"] if _columns(ctx, "unit") else [])
    target = _pick(draw, targets)
    if target == "table":
        target = lookup(draw, ctx, "unit", depth)
    return f"convert({quantity}, {_pick(draw, ctx.units)}, {target})"


def num_expr(draw, ctx: Ctx, dim: str, depth: int) -> str:
    if depth <= 0:
        if ctx.num.get(dim) and draw(st.integers(0, 2)) != 0:
            return ref(draw, ctx, ctx.num[dim])
        return literal(draw, ctx, dim)
    kinds = ["leaf", "addsub", "neg", "muldiv", "func", "if", "case"]
    if _columns(ctx, dim):
        kinds += ["lookup", "lookup"]
    if ctx.child is not None:
        kinds += ["agg", "agg"]
    if dim == "D" and ctx.units and (ctx.targets or _columns(ctx, "unit")):
        kinds.append("convert")
    kind = _pick(draw, kinds)
    sub = depth - 1
    if kind == "leaf":
        return num_expr(draw, ctx, dim, 0)
    if kind == "lookup":
        return lookup(draw, ctx, dim, sub)
    if kind == "agg":
        return aggregate(draw, ctx, dim, sub)
    if kind == "convert":
        return convert(draw, ctx, sub)
    if kind == "addsub":
        op = _pick(draw, ("+", "-"))
        return f"({num_expr(draw, ctx, dim, sub)} {op} {num_expr(draw, ctx, dim, sub)})"
    if kind == "neg":
        return f"(-{num_expr(draw, ctx, dim, sub)})"
    if kind == "muldiv":
        # (left dimension, operator, right dimension) that give ``dim``
        shapes = [(dim, "*", "D"), ("D", "*", dim), (dim, "/", "D")]
        if dim == "C":
            shapes += [("E", "*", "I"), ("I", "*", "E")]
        elif dim == "I":
            shapes += [("C", "/", "E")]
        elif dim == "E":
            shapes += [("C", "/", "I")]
        else:
            shapes += [(d, "/", d) for d in DIMS]
        a, op, b = _pick(draw, shapes)
        return f"({num_expr(draw, ctx, a, sub)} {op} {num_expr(draw, ctx, b, sub)})"
    if kind == "func":
        name = _pick(draw, ("min", "max", "abs"))
        if name == "abs":
            return f"abs({num_expr(draw, ctx, dim, sub)})"
        n = draw(st.integers(2, 3))
        return f"{name}(" + ", ".join(num_expr(draw, ctx, dim, sub) for _ in range(n)) + ")"
    if kind == "if":
        return (f"(if {bool_expr(draw, ctx, sub, verdict=True)} then {num_expr(draw, ctx, dim, sub)} "
                f"else {num_expr(draw, ctx, dim, sub)})")
    return case_expr(draw, ctx, sub, lambda: num_expr(draw, ctx, dim, sub))


def case_expr(draw, ctx: Ctx, depth: int, value) -> str:
    n = draw(st.integers(1, 3))
    whens = " ".join(f"when {bool_expr(draw, ctx, depth, verdict=True)} then {value()}" for _ in range(n))
    return f"(case {whens} else {value()} end)"


def text_expr(draw, ctx: Ctx, depth: int) -> str:
    kind = _pick(draw, ("leaf", "if", "case")) if depth > 0 else "leaf"
    if kind == "leaf":
        return ref(draw, ctx, ctx.texts)
    if kind == "if":
        return (f"(if {bool_expr(draw, ctx, depth - 1, verdict=True)} then {text_expr(draw, ctx, depth - 1)} "
                f"else {text_expr(draw, ctx, depth - 1)})")
    return case_expr(draw, ctx, depth - 1, lambda: text_expr(draw, ctx, depth - 1))


def any_expr(draw, ctx: Ctx, depth: int) -> str:
    """An expression of any type (the operand of ``is known`` / ``is unknown``)."""
    kind = _pick(draw, ("num", "bool", "text", "result") if ctx.results else ("num", "bool", "text"))
    if kind == "num":
        return num_expr(draw, ctx, _pick(draw, DIMS), depth)
    if kind == "bool":
        return bool_expr(draw, ctx, depth, verdict=False)
    if kind == "text":
        return text_expr(draw, ctx, depth)
    return _pick(draw, ctx.results)[0]


def verdict_set(draw, ctx: Ctx) -> str:
    args = []
    for _ in range(draw(st.integers(1, 3))):
        if ctx.groups and draw(st.booleans()):
            args.append(_pick(draw, ctx.groups) + ".*")
        else:
            args.append(_pick(draw, ctx.rules))
    return f"{_pick(draw, ('all', 'any'))}({', '.join(args)})"


def comparison(draw, ctx: Ctx, depth: int) -> str:
    dim = _pick(draw, DIMS)
    op = _pick(draw, CMP_OPS)
    right = literal(draw, ctx, dim) if draw(st.booleans()) else num_expr(draw, ctx, dim, depth)
    return f"({num_expr(draw, ctx, dim, depth)} {op} {right})"


def bool_atom(draw, ctx: Ctx, depth: int, verdict: bool, cmp: bool = True) -> str:
    """A condition that is not built from other conditions with and/or/not/if/case."""
    kinds = (["cmp"] if cmp else []) + ["const", "flag", "known", "text_eq", "text_in", "bool_eq"]
    if ctx.rules:
        kinds += ["rule_is"] + (["set_is"] if ctx.sets else [])
        if verdict:
            kinds += ["rule"] + (["set"] if ctx.sets else [])
    if ctx.results:
        kinds += ["result_eq"]
    if ctx.child is not None:
        kinds += ["agg"]
    if _columns(ctx, "bool"):
        kinds += ["lookup"]
    kind = _pick(draw, kinds)
    if kind == "cmp":
        return comparison(draw, ctx, depth)
    if kind == "const":
        return _pick(draw, ("true", "false"))
    if kind == "flag":
        return ref(draw, ctx, ctx.bools)
    if kind == "agg":
        return aggregate(draw, ctx, None, max(depth - 1, 0))
    if kind == "lookup":
        return lookup(draw, ctx, "bool", depth)
    if kind == "known":
        return f"(({any_expr(draw, ctx, depth)}) is {_pick(draw, ('unknown', 'known'))})"
    if kind == "text_eq":
        left = text_expr(draw, ctx, depth)
        right = f'"{_pick(draw, CATEGORIES)}"' if draw(st.integers(0, 3)) else text_expr(draw, ctx, depth)
        op = _pick(draw, ("==", "!="))
        return f"({left} {op} {right})" if draw(st.booleans()) else f"({right} {op} {left})"
    if kind == "text_in":
        opts = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3))
        return f"({text_expr(draw, ctx, depth)} in {{" + ", ".join(f'"{c}"' for c in opts) + "})"
    if kind == "bool_eq":
        return f"({ref(draw, ctx, ctx.bools)} {_pick(draw, ('==', '!='))} {bool_expr(draw, ctx, depth, verdict=False)})"
    if kind == "rule":
        return _pick(draw, ctx.rules)
    if kind == "set":
        return verdict_set(draw, ctx)
    if kind == "rule_is":
        return f"({_pick(draw, ctx.rules)} is {_pick(draw, VERDICT_STATES)})"
    if kind == "set_is":
        return f"({verdict_set(draw, ctx)} is {_pick(draw, VERDICT_STATES)})"
    name, labels = _pick(draw, ctx.results)
    return f'({name} {_pick(draw, ("==", "!="))} "{_pick(draw, labels)}")'


def bool_expr(draw, ctx: Ctx, depth: int, verdict: bool = True) -> str:
    """A condition. ``verdict=False`` keeps a bare rule verdict out of the top (if/case branches
    must all be booleans: a verdict first and a boolean second is a type error, E318)."""
    if depth <= 0:
        return bool_atom(draw, ctx, 0, verdict)
    kind = _pick(draw, ("atom", "and", "or", "not", "if", "case"))
    sub = depth - 1
    if kind == "atom":
        return bool_atom(draw, ctx, sub, verdict)
    if kind in ("and", "or"):
        return f"({bool_expr(draw, ctx, sub)} {kind} {bool_expr(draw, ctx, sub)})"
    if kind == "not":
        return f"(not {bool_expr(draw, ctx, sub)})"
    if kind == "if":
        return (f"(if {bool_expr(draw, ctx, sub)} then {bool_expr(draw, ctx, sub, verdict=False)} "
                f"else {bool_expr(draw, ctx, sub, verdict=False)})")
    return case_expr(draw, ctx, sub, lambda: bool_expr(draw, ctx, sub, verdict=False))


def rounded_requirement(draw, ctx: Ctx, depth: int) -> tuple[str, list[str]]:
    """A requirement for ``judge rounded``: comparisons against a limit holding a literal (so the
    limit's stated precision is known), joined by and/or/not. Returns the text and the dimensions used."""
    dims: list[str] = []

    def limit(dim: str) -> str:
        # a literal, or an expression holding literals of the limit's dimension (its precision is
        # theirs), so the executor also compares against a computed column, not only a constant
        kind = _pick(draw, ("literal", "if", "minmax"))
        if kind == "literal":
            return literal(draw, ctx, dim)
        if kind == "if":
            return (f"(if {bool_expr(draw, ctx, depth, verdict=True)} then {literal(draw, ctx, dim)} "
                    f"else {literal(draw, ctx, dim)})")
        return f"{_pick(draw, ('min', 'max'))}({literal(draw, ctx, dim)}, {num_expr(draw, ctx, dim, depth)})"

    def go(d: int) -> str:
        kind = _pick(draw, ("cmp", "and", "or", "not", "atom")) if d > 0 else "cmp"
        if kind == "cmp":
            dim = _pick(draw, DIMS)
            dims.append(dim)
            return f"({num_expr(draw, ctx, dim, depth)} {_pick(draw, CMP_OPS)} {limit(dim)})"
        if kind == "not":
            return f"(not {go(d - 1)})"
        if kind == "atom":
            # not a numeric comparison: the rounding would need its limit's precision too
            return f"({go(d - 1)} and {bool_atom(draw, ctx, 0, verdict=True, cmp=False)})"
        return f"({go(d - 1)} {kind} {go(d - 1)})"

    return go(draw(st.integers(0, 2))), dims


# ------------------------------------------------------------------ declarations


def let_decl(draw, ctx: Ctx, name: str, depth: int) -> str:
    kinds = ("num", "num", "bool", "text") + (("convert",) if ctx.units else ())
    kinds += ("agg", "agg") if ctx.child is not None else ()
    kinds += ("lookup",) if ctx.tables else ()
    kind = _pick(draw, kinds)
    if kind == "agg":
        # the shape of real rulesets: `let module.cfp = sum(emissions)`
        func = _pick(draw, AGGREGATES)
        dim = None if func in ("any", "all") else "D" if func in ("count", "share") else _pick(draw, DIMS)
        expr = aggregate(draw, ctx, dim, depth, func)
        annotation = ""
        if dim is None:
            ctx.add_bool(name)
        else:
            ctx.add_num(dim, name)
    elif kind == "lookup":
        # `let x = factor[kind].f`
        dim = _pick(draw, [d for d in DIMS if _columns(ctx, d)])
        expr = lookup(draw, ctx, dim, depth)
        annotation = ""
        ctx.add_num(dim, name)
    elif kind == "convert":
        # a line's quantity in its process's unit, times a factor (the shape of a BOM line's emissions)
        dim = _pick(draw, DIMS)
        expr = f"({convert(draw, ctx, depth - 1)} * {num_expr(draw, ctx, dim, draw(st.integers(0, depth)))})"
        annotation = ""
        ctx.add_num(dim, name)
    elif kind == "num":
        dim = _pick(draw, DIMS)
        expr = num_expr(draw, ctx, dim, draw(st.integers(0, depth)))
        annotation = ""
        if draw(st.booleans()):
            unit = _pick(draw, UNITS[dim])[0] or "number"
            annotation = f" : {unit}"
        ctx.add_num(dim, name)
    elif kind == "bool":
        expr = bool_expr(draw, ctx, draw(st.integers(0, depth)))
        annotation = " : boolean" if draw(st.booleans()) else ""
        ctx.add_bool(name)
    else:
        expr = text_expr(draw, ctx, draw(st.integers(0, depth)))
        annotation = ""
        ctx.add_text(name)
    ctx.owner[name] = ctx.entity
    if ctx.entity == CHILD:
        ctx.own.add(name)
    return f"let {ctx.entity}.{name}{annotation} = {expr}"


def rule_decl(draw, ctx: Ctx, rule_id: str, depth: int) -> str:
    lines = [f"rule {rule_id}", f"  severity {_pick(draw, ('mandatory', 'guidance'))}"]
    if draw(st.booleans()):
        lines.append(f'  clause "{rule_id}"')
    if draw(st.booleans()):
        lines.append(f"  applies when {bool_expr(draw, ctx, draw(st.integers(0, depth)))}")
    judge = _pick(draw, ("none", "none", "full", "rounded", "rounded_to"))
    if judge in ("rounded", "rounded_to"):
        require, dims = rounded_requirement(draw, ctx, draw(st.integers(0, depth - 1)))
        lines.append(f"  require {require}")
        if judge == "rounded_to":
            unit, _ = _pick(draw, UNITS[_pick(draw, dims)])
            step = _pick(draw, ("1", "0.1", "0.01", "5", "0.5"))
            lines.append(f"  judge rounded to {step}" + (f" {unit}" if unit else ""))
        else:
            lines.append("  judge rounded")
    else:
        lines.append(f"  require {bool_expr(draw, ctx, draw(st.integers(0, depth)))}")
        if judge == "full":
            lines.append("  judge full")
    return "\n".join(lines)


def result_decl(draw, ctx: Ctx, name: str, depth: int, first: str | None = None) -> tuple[str, tuple[str, ...]]:
    """A result; ``first``, if given, is the first branch's condition."""
    n = draw(st.integers(1, 3))
    otherwise = draw(st.booleans())
    labels = tuple(f"{name}_l{i}" for i in range(n + otherwise))
    lines = [f"result {ctx.entity}.{name} {{"]
    for i, label in enumerate(labels[:n]):
        cond = first if i == 0 and first is not None else bool_expr(draw, ctx, draw(st.integers(0, depth)))
        lines.append(f'  "{label}" when {cond}')
    if otherwise:
        lines.append(f'  "{labels[-1]}" otherwise')
    lines.append("}")
    return "\n".join(lines), labels


def rule_group(draw, ctx: Ctx, group: str, low: int, high: int, depth: int) -> list[str]:
    ids = [f"{group}.r{i}" for i in range(draw(st.integers(low, high)))]
    out = []
    for rid in ids:
        out.append(rule_decl(draw, ctx, rid, depth))
    # the group is complete: later items may read its rules one by one or as `group.*`
    ctx.add_rules(group, ids)
    return out


def child_anchor(draw, child: Ctx) -> str:
    """A condition reading a line's own input: a rule or result holding it is judged per line."""
    inp = _pick(draw, CHILD_NUM_INPUTS)
    return f"({ref(draw, child, [inp.name])} {_pick(draw, CMP_OPS)} {literal(draw, child, inp.dim)})"


def child_rule_decl(draw, child: Ctx, rule_id: str, depth: int) -> str:
    """A rule judged per line (its requirement reads a line's own input)."""
    lines = [f"rule {rule_id}", f"  severity {_pick(draw, ('mandatory', 'guidance'))}"]
    if draw(st.booleans()):
        lines.append(f"  applies when {bool_expr(draw, child, draw(st.integers(0, depth)))}")
    require = child_anchor(draw, child)
    if draw(st.booleans()):
        require = f"({require} {_pick(draw, ('and', 'or'))} {bool_expr(draw, child, draw(st.integers(0, depth)))})"
    lines.append(f"  require {require}")
    return "\n".join(lines)


def param_decls(draw, ctx: Ctx) -> list[str]:
    out = []
    for name, dim, unit in (("p_c", "C", "t CO2/yr"), ("p_i", "I", "kg CO2/tce"), ("p_d", "D", "number")):
        if draw(st.booleans()):
            out.append(f"param {name} : {unit} = {literal(draw, ctx, dim)}")
            ctx.add_num(dim, name)
    if draw(st.booleans()):
        out.append(f"param p_flag : boolean = {_pick(draw, ('true', 'false'))}")
        ctx.add_bool("p_flag")
    if draw(st.booleans()):
        cats = ", ".join(f'"{c}"' for c in CATEGORIES)
        out.append(f'param p_kind : text {{{cats}}} = "{_pick(draw, CATEGORIES)}"')
        ctx.add_text("p_kind")
    if ctx.child is not None and draw(st.booleans()):
        out.append(f'param p_unit : text {{"kg", "t"}} = "{_pick(draw, CONVERT_TARGETS)}"')
        ctx.child.targets.append("p_unit")
    return out


def table_cell(draw, dim: str, declared_per_ref: Decimal) -> str:
    """A number cell: in the column's unit (no unit written) or in another unit of its dimension."""
    q = _pick(draw, POOLS[dim])
    if draw(st.booleans()):
        return fmt_decimal(q * declared_per_ref)
    unit, per_ref = _pick(draw, UNITS[dim])
    return f"{fmt_decimal(q * per_ref)} {unit}".rstrip()


def _text_key(draw, name: str, used: list[str]) -> tuple[str, tuple[str, ...]]:
    """A text key: categories declared (all of them, some without rows) or taken from the rows."""
    if draw(st.booleans()):
        cats = ", ".join(f'"{c}"' for c in CATEGORIES)
        return f"  key {name} : text {{{cats}}}", CATEGORIES
    return f"  key {name} : text", tuple(dict.fromkeys(used))


def table_decls(draw, ctx: Ctx) -> list[str]:
    out = []
    which = {name for name in ("t_kind", "t_pair", "t_year") if draw(st.booleans())} or {"t_year"}
    # some keys of every table have no row: lookups miss
    if "t_kind" in which:
        kinds = draw(st.permutations(CATEGORIES))[:draw(st.integers(1, 2))]
        key, cats = _text_key(draw, "kind", list(kinds))
        lines = ["table t_kind", key, "  column f : kg CO2/tce", "  column g : number", "  column b : boolean",
                 '  column u : text {"kg", "t"}']
        for k in kinds:
            lines.append(f'  row "{k}", {table_cell(draw, "I", Decimal(1000))}, {table_cell(draw, "D", Decimal(1))}, '
                         f'{_pick(draw, ("true", "false"))}, "{_pick(draw, CONVERT_TARGETS)}"')
        out.append("\n".join(lines))
        columns = (("f", "I"), ("g", "D"), ("b", "bool"), ("u", "unit"))
        ctx.tables.append(TableInfo("t_kind", ("text",), (cats,), columns))
    if "t_pair" in which:
        pairs = draw(st.lists(st.tuples(st.sampled_from(CATEGORIES), st.sampled_from(CATEGORIES)),
                              min_size=1, max_size=4, unique=True))
        key1, cats1 = _text_key(draw, "k1", [a for a, _ in pairs])
        key2, cats2 = _text_key(draw, "k2", [b for _, b in pairs])
        lines = ["table t_pair", key1, key2, "  column e : tce/yr"]
        lines += [f'  row "{a}", "{b}", {table_cell(draw, "E", Decimal(1))}' for a, b in pairs]
        out.append("\n".join(lines))
        ctx.tables.append(TableInfo("t_pair", ("text", "text"), (cats1, cats2), (("e", "E"),)))
    if "t_year" in which:
        years = draw(st.permutations(TABLE_YEARS))[:draw(st.integers(1, len(TABLE_YEARS) - 1))]
        lines = ["table t_year", "  key year : number", "  column lim : t CO2/yr", "  column r : percent"]
        lines += [f"  row {y}, {table_cell(draw, 'C', Decimal(1))}, {table_cell(draw, 'D', Decimal(100))}"
                  for y in years]
        out.append("\n".join(lines))
        ctx.tables.append(TableInfo("t_year", ("number",), (), (("lim", "C"), ("r", "D"))))
    return out


def _header(child: bool) -> str:
    text = """ruleset test.generated {
  title "generated"
  document "hypothesis"
  version "1"
  status draft
}

entity site "Site" key id
"""
    if child:
        text += f'entity {CHILD} "Line" of {ENTITY} key line_id\n'
    return text


HEADER = _header(False)


@dataclass(frozen=True)
class Shape:
    """Which optional parts a generated ruleset has."""

    child: bool = False
    params: bool = False
    tables: bool = False
    bad_units: bool = False        # with a child: some lines in "cell", which converts to nothing


def ruleset_source(draw, ctx: Ctx, depth: int, shape: Shape = Shape()) -> str:
    parts = [_header(shape.child)]
    for inp in NUM_INPUTS:
        parts.append(f"input {ENTITY}.{inp.name} : {inp.unit}" + (f" {inp.range}" if inp.range else ""))
    for name in BOOL_INPUTS:
        parts.append(f"input {ENTITY}.{name} : boolean")
    cats = ", ".join(f'"{c}"' for c in CATEGORIES)
    for name in TEXT_INPUTS:
        parts.append(f"input {ENTITY}.{name} : text {{{cats}}}")
    child = ctx.child
    if shape.tables:
        parts.append(f"input {ENTITY}.year : number")
        ctx.owner["year"] = ENTITY
        ctx.years.append("year")
        if child is not None:
            child.years.append("year")
    if child is not None:
        for inp in CHILD_NUM_INPUTS:
            parts.append(f"input {CHILD}.{inp.name} : {inp.unit}" + (f" {inp.range}" if inp.range else ""))
        for name in CHILD_BOOL_INPUTS:
            parts.append(f"input {CHILD}.{name} : boolean")
        for name in CHILD_TEXT_INPUTS:
            parts.append(f"input {CHILD}.{name} : text {{{cats}}}")
        units = ", ".join(f'"{u}"' for u in MASS_UNITS + ("cell",))
        parts.append(f"input {CHILD}.{CHILD_UNIT} : text {{{units}}}")
        child.units.append(CHILD_UNIT)
        child.targets.extend(f'"{u}"' for u in CONVERT_TARGETS)
        if shape.bad_units:       # the first line is 1 cell: a data error, from both engines
            parts.append(f'let {CHILD}.wbad = convert(qty, {CHILD_UNIT}, "kg")')
            child.add_num("D", "wbad")
            child.own.add("wbad")
    if shape.params:
        parts += param_decls(draw, ctx)
    if shape.tables:
        parts += table_decls(draw, ctx)
        if child is not None:
            child.tables.extend(ctx.tables)
    lets = 0
    if child is not None:
        for i in range(draw(st.integers(0, 2))):
            parts.append(let_decl(draw, child, f"w{i}", depth))
    for _ in range(draw(st.integers(1, 4))):
        parts.append(let_decl(draw, ctx, f"v{lets}", depth))
        lets += 1
    parts += rule_group(draw, ctx, "a", 1, 3, depth)
    for _ in range(draw(st.integers(0, 2))):
        parts.append(let_decl(draw, ctx, f"v{lets}", depth))
        lets += 1
    if child is not None:
        for i in range(2, 2 + draw(st.integers(0, 2))):
            parts.append(let_decl(draw, child, f"w{i}", depth))
    parts += rule_group(draw, ctx, "b", 0, 3, depth)
    text, labels = result_decl(draw, ctx, "r0", depth)
    parts.append(text)
    ctx.add_result("r0", labels)
    if child is not None:
        for i in range(draw(st.integers(0, 2))):
            parts.append(child_rule_decl(draw, child, f"k.r{i}", depth))
            child.rules.append(f"k.r{i}")      # later lines' rules, result and the sites' aggregates read it
            child.own.add(f"k.r{i}")
        if draw(st.booleans()):
            text, labels = result_decl(draw, child, "lr", depth, first=child_anchor(draw, child))
            parts.append(text)
            child.results.append(("lr", labels))
            child.own.add("lr")
    parts += rule_group(draw, ctx, "c", 0, 2, depth)
    text, labels = result_decl(draw, ctx, "r1", depth)
    parts.append(text)
    return "\n\n".join(parts) + "\n"


# ------------------------------------------------------------------ data


@dataclass
class Case:
    source: str
    table: dict
    literals: list[Literal] = field(repr=False)
    children: dict | None = None            # child entity → its table (None: no child tables given)

    def __repr__(self) -> str:
        out = f"Case(source=\n{self.source}\ntable=\n" + "\n".join(f"  {k}: {list(v)!r}" for k, v in self.table.items())
        for entity, t in (self.children or {}).items():
            out += f"\n{entity} table=\n" + "\n".join(f"  {k}: {list(v)!r}" for k, v in t.items())
        return out + "\n)"


def number_cell(draw, inp: NumInput, ctx: Ctx, energy: Decimal | None, complete: bool = False):
    """One value in the input's declared unit: None (missing), a Decimal quantity or a float.
    ``complete``: never missing."""
    own = [lit.quantity for lit in ctx.literals if lit.dim == inp.dim]
    intensity = [lit.quantity for lit in ctx.literals if lit.dim == "I"] + list(POOLS["I"])
    kinds = ["pool", "zero", "float"] + ([] if complete else ["missing"]) + (["limit", "limit"] if own else [])
    if inp.dim == "C" and energy is not None:
        kinds.append("on_intensity")     # co2 = energy × an intensity limit: C / E lands on the limit
    kind = _pick(draw, kinds)
    if kind == "missing":
        return None
    if kind == "zero":
        return Decimal(0)
    if kind == "pool":
        q = _pick(draw, POOLS[inp.dim])
    elif kind == "limit":
        q = _pick(draw, own)
    elif kind == "on_intensity":
        q = energy * _pick(draw, intensity)
    else:
        return draw(st.floats(-1e7, 1e7, allow_nan=False, allow_infinity=False))
    return q * inp.per_ref


def _floats(values) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def table(draw, ctx: Ctx, shape: Shape = Shape()) -> dict:
    n = draw(st.integers(1, 8))
    cols: dict[str, list] = {i.name: [] for i in NUM_INPUTS}
    for _ in range(n):
        energy = None
        for inp in NUM_INPUTS:
            v = number_cell(draw, inp, ctx, energy)
            if inp.name == "energy" and isinstance(v, Decimal):
                energy = v
            cols[inp.name].append(v)
    out: dict = {name: _floats(values) for name, values in cols.items()}
    for name in BOOL_INPUTS:
        out[name] = draw(st.lists(st.sampled_from([True, False, None]), min_size=n, max_size=n))
    for name in TEXT_INPUTS:
        out[name] = draw(st.lists(st.sampled_from(CATEGORIES + (None, "other")), min_size=n, max_size=n))
    if shape.tables:
        out["year"] = _floats(draw(st.lists(st.sampled_from(YEARS + (None,)), min_size=n, max_size=n)))
    if draw(st.integers(0, 9)) == 0:     # sometimes a column is absent altogether
        del out[_pick(draw, sorted(out))]
    if shape.child:
        out["id"] = [f"s{i}" for i in range(n)]
    return out


def child_table(draw, ctx: Ctx, n_parents: int, bad_units: bool) -> dict:
    """Lines: 0–3 per site, in shuffled order, naming their site in the column `id`. With
    ``bad_units``, the first line is 1 cell (which converts to no mass unit). A third of the line
    tables have no missing or invalid value: aggregates over them are known more often, so their
    values (not only their unknown states) are compared."""
    parents = [p for p in range(n_parents) for _ in range(draw(st.integers(0, 3)))]
    parents = [parents[i] for i in draw(st.permutations(range(len(parents))))] or ([0] if bad_units else [])
    m = len(parents)
    complete = draw(st.integers(0, 2)) == 0
    holes = () if complete else (None,)
    out: dict = {"id": [f"s{p}" for p in parents]}
    for inp in CHILD_NUM_INPUTS:
        out[inp.name] = _floats(number_cell(draw, inp, ctx, None, complete) for _ in range(m))
    for name in CHILD_BOOL_INPUTS:
        out[name] = draw(st.lists(st.sampled_from((True, False) + holes), min_size=m, max_size=m))
    for name in CHILD_TEXT_INPUTS:
        out[name] = draw(st.lists(st.sampled_from(CATEGORIES + holes + (() if complete else ("other",))),
                                  min_size=m, max_size=m))
    units = MASS_UNITS + holes + (("cell", "cell") if bad_units else ())
    out[CHILD_UNIT] = draw(st.lists(st.sampled_from(units), min_size=m, max_size=m))
    if bad_units:
        out[CHILD_UNIT][0], out["qty"][0] = "cell", 1.0
    elif not complete and draw(st.integers(0, 9)) == 0:     # sometimes a column is absent altogether
        del out[_pick(draw, sorted(k for k in out if k != "id"))]
    return out


@st.composite
def cases(draw, max_depth: int = 3) -> Case:
    """A random ruleset (source text) that compiles, with tables of data for it."""
    shape = Shape(child=draw(st.booleans()), params=draw(st.booleans()), tables=draw(st.booleans()))
    if shape.child and draw(st.integers(0, 7)) == 0:
        shape = Shape(shape.child, shape.params, shape.tables, bad_units=True)
    ctx = Ctx(num={i.dim: [] for i in NUM_INPUTS}, bools=list(BOOL_INPUTS), texts=list(TEXT_INPUTS))
    for i in NUM_INPUTS:
        ctx.num[i.dim].append(i.name)
    ctx.owner.update({name: ENTITY for name in [i.name for i in NUM_INPUTS] + list(BOOL_INPUTS) + list(TEXT_INPUTS)})
    if shape.child:
        # in a line, the site's rules are read one by one (`a.r0`, `a.r0 is fail`), never as a verdict
        # set: all(a.*) in a child row is error E354
        child = Ctx(num={d: list(v) for d, v in ctx.num.items()}, bools=list(ctx.bools), texts=list(ctx.texts),
                    literals=ctx.literals, entity=CHILD, owner=ctx.owner, sets=False,
                    own={i.name for i in CHILD_NUM_INPUTS} | set(CHILD_BOOL_INPUTS + CHILD_TEXT_INPUTS + (CHILD_UNIT,)))
        for i in CHILD_NUM_INPUTS:
            child.num[i.dim].append(i.name)
            ctx.owner[i.name] = CHILD
        child.bools += CHILD_BOOL_INPUTS
        child.texts += CHILD_TEXT_INPUTS
        ctx.owner.update({name: CHILD for name in CHILD_BOOL_INPUTS + CHILD_TEXT_INPUTS})
        ctx.child = child
    depth = draw(st.integers(1, max_depth))
    source = ruleset_source(draw, ctx, depth, shape)
    root = table(draw, ctx, shape)
    children = None
    if shape.child and (shape.bad_units or draw(st.integers(0, 9)) != 0):   # else no line table: no site has lines
        children = {CHILD: child_table(draw, ctx, len(root["id"]), shape.bad_units)}
    return Case(source, root, ctx.literals, children)


# ------------------------------------------------------------------ the park ruleset


def park_table(n: int, seed: int = 0, missing: float = 0.05) -> dict:
    """Data for rulesets/gb/zero_carbon_park.nr: ``n`` parks with about ``missing`` of each column
    unknown, values around the 20/100 万tce/yr scope limits, some exactly on them."""
    rng = np.random.default_rng(seed)

    def holes(values: np.ndarray) -> np.ndarray:
        values = values.astype(float)
        values[rng.random(n) < missing] = np.nan
        return values

    energy = rng.choice([199_999.0, 200_000.0, 999_999.0, 1_000_000.0, 0.0], n)
    energy = np.where(rng.random(n) < 0.5, rng.uniform(0, 2e6, n), energy)
    intensity = np.where(rng.random(n) < 0.3, rng.choice([0.2, 0.3], n), rng.uniform(0, 0.5, n))
    flags = rng.random(n) < 0.8
    product_energy = np.where(rng.random(n) < missing, None, flags).tolist()
    return {
        "id": np.array([f"P{i:06d}" for i in range(n)], dtype=object),
        "energy": holes(energy),
        "co2": holes(energy * intensity),
        "clean_share": holes(rng.choice([90.0, 95.0, 50.0], n)),
        "product_energy_level2": product_energy,
        "solid_waste_util": holes(rng.uniform(0, 100, n)),
        "waste_heat_util": holes(rng.uniform(0, 100, n)),
    }


# ------------------------------------------------------------------ the PV footprint rulesets

PV_PROCESSES = ("polysilicon", "ingot", "wafer", "cell", "glass", "glass_tempering", "eva", "pet", "pvf")
PV_COUNTRIES = ("CN", "FR", "DE", "US")
# the unit of each process's factor in rulesets/iec/pv_module_cfp.nr (`pv_factor.unit`)
PV_PROCESS_UNIT = ("kg", "kg", "wafer", "cell", "kg", "kg", "kg", "kg", "kg")
PV_UNITS = ("kg", "g", "t", "wafer", "cell")        # the categories of `line.unit`, in declared order
# a typical quantity of each process in one module, in the process's unit
PV_TYPICAL = np.array([1.0, 1.2, 110.0, 110.0, 12.0, 12.0, 1.0, 0.5, 0.1])


def pv_tables(n: int, lines: int = 10, seed: int = 0, missing: float = 0.02, arrow: bool = False):
    """Data for ``rulesets/iec/pv_module_cfp.nr`` and ``rulesets/intl/pv_export_markets.nr``: ``n``
    modules (``module_id`` 0…n-1, ``rated_power`` [W], ``project_capacity`` [kW]) and ``lines`` BOM
    lines per module, module by module (``module_id``, ``process``, ``country``, ``quantity``,
    ``unit``). Every line's unit fits its process (kg, g or t of a material; wafers; cells), so
    no conversion fails; about ``missing`` of the quantities and of the rated powers are missing
    (NaN). Text columns are numpy object arrays, or with ``arrow`` Arrow dictionary arrays (cheap
    to build for 10⁷ lines). Returns ``(modules, lines, codes)``: ``codes`` holds the integer codes
    behind the line columns (``module``, ``process``, ``country``, ``unit``: indexes into the module
    rows, PV_PROCESSES, PV_COUNTRIES and PV_UNITS) for hand-written reference computations."""
    rng = np.random.default_rng(seed)
    m = n * lines
    module = np.repeat(np.arange(n, dtype=np.int64), lines)
    process = rng.integers(0, len(PV_PROCESSES), m)
    country = rng.integers(0, len(PV_COUNTRIES), m)
    is_mass = np.array([u == "kg" for u in PV_PROCESS_UNIT])[process]
    mass_unit = rng.integers(0, 3, m)                                   # kg, g, t
    own_unit = np.array([PV_UNITS.index(u) for u in PV_PROCESS_UNIT])[process]
    unit = np.where(is_mass, mass_unit, own_unit)
    quantity = PV_TYPICAL[process] * rng.uniform(0.5, 1.5, m) * np.array([1.0, 1000.0, 0.001, 1.0, 1.0])[unit]
    quantity[rng.random(m) < missing] = np.nan
    rated_power = rng.choice([350.0, 400.0, 450.0, 550.0, 1000.0], n)
    rated_power[rng.random(n) < missing] = np.nan
    capacity = rng.choice([50.0, 99.0, 100.0, 250.0], n)

    def text(codes, categories):
        if arrow:
            import pyarrow as pa

            return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(categories))
        return np.array(categories, dtype=object)[codes]

    modules = {"module_id": np.arange(n, dtype=np.int64), "rated_power": rated_power, "project_capacity": capacity}
    rows = {"module_id": module, "process": text(process, PV_PROCESSES), "country": text(country, PV_COUNTRIES),
            "quantity": quantity, "unit": text(unit, PV_UNITS)}
    codes = {"module": module, "process": process, "country": country, "unit": unit}
    return modules, rows, codes
