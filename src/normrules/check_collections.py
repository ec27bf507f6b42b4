"""Type checking of collections: lookup tables, aggregates over child entities, parent reads.

A mixin of the checker in :mod:`normrules.check`; also compiles ``table`` declarations (inline
rows or a CSV file beside the ruleset, never outside its directory) into :class:`CTable` values
with canonical numbers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from . import ast
from . import types as T
from .errors import Span, did_you_mean
from .units import UnitSyntaxError, dimensionless, parse_unit

AGGREGATES = ("sum", "mean", "min", "max", "count", "any", "all", "share")


@dataclass(frozen=True)
class CTable:
    """A lookup table with canonical values: ``rows[i]`` is one tuple per row, keys first."""

    name: str
    label: ast.Label | None
    keys: tuple[tuple[str, T.Type], ...]
    columns: tuple[tuple[str, T.Type], ...]
    rows: tuple[tuple[object, ...], ...]      # numbers canonical, text as strings, None = empty cell
    provenance: tuple[tuple[str, str], ...]
    file: str | None
    decl: ast.TableDecl

    @property
    def fields(self) -> tuple[tuple[str, T.Type], ...]:
        return self.keys + self.columns

    def index_of(self, field: str) -> int:
        return [n for n, _ in self.fields].index(field)

    def values(self, field: str) -> tuple:
        i = self.index_of(field)
        return tuple(r[i] for r in self.rows)


class CollectionsChecker:
    """Methods of the checker for tables, lookups and aggregates (mixed into ``_Checker``)."""

    # ------------------------------------------------------------------ tables
    def compile_table(self, d: ast.TableDecl) -> CTable | None:
        fields = []
        for f in d.keys + d.columns:
            typ = self.type_of_spec(f.type)
            if isinstance(typ, T.TextT) and not typ.categories:
                typ = None        # categories inferred from the rows
            fields.append((f.name, typ, f))
        if not d.keys:
            self.error("E330", f"table `{d.name}` has no `key`", d.name_span, help="declare e.g. `key gas : text`")
        raw_rows: list[tuple[list, Span]] = []
        if d.file is not None:
            raw_rows = self._table_file_rows(d, fields)
            if raw_rows is None:
                return None
        for row in d.rows:
            span = row[0].span.to(row[-1].span) if row else d.span
            raw_rows.append(([self._table_literal(cell) for cell in row], span))
        if not raw_rows:
            self.error("E331", f"table `{d.name}` has no rows", d.name_span,
                       help='add `row …` lines or `rows from "file.csv"`')
        # text fields without declared categories take theirs from the rows
        for i, (name, typ, f) in enumerate(fields):
            if typ is None:
                cats = tuple(dict.fromkeys(str(r[i][0]) for r, _ in raw_rows if i < len(r) and r[i][0] is not None))
                fields[i] = (name, T.TextT(cats), f)
        rows = []
        seen_keys: dict[tuple, Span] = {}
        nkeys = len(d.keys)
        for values, span in raw_rows:
            if len(values) != len(fields):
                self.error("E332", f"a row of `{d.name}` has {len(values)} value(s); the table has {len(fields)} fields "
                           f"({', '.join(n for n, _, _ in fields)})", span)
                continue
            out = []
            for (name, typ, f), (value, unit, vspan) in zip(fields, values):
                out.append(self._table_cell(d, name, typ, value, unit, vspan))
            key = tuple(out[:nkeys])
            if key in seen_keys:
                self.error("E333", f"table `{d.name}` has two rows for key ({', '.join(map(str, key))})", span)
            seen_keys[key] = span
            rows.append(tuple(out))
        keys = tuple((n, t) for n, t, _ in fields[:nkeys])
        cols = tuple((n, t) for n, t, _ in fields[nkeys:])
        return CTable(d.name, d.label, keys, cols, tuple(rows), d.provenance, d.file, d)

    def _table_literal(self, cell) -> tuple[object, str | None, Span]:
        if isinstance(cell, ast.Number):
            return cell.value, cell.unit, cell.span
        if isinstance(cell, ast.Unary) and isinstance(cell.operand, ast.Number):
            return -cell.operand.value, cell.operand.unit, cell.span
        if isinstance(cell, (ast.String, ast.Bool)):
            return cell.value, None, cell.span
        if isinstance(cell, ast.DateLit):
            return cell.text, None, cell.span
        self.error("E334", "table cells are literals: numbers, quoted text, true/false or dates", cell.span)
        return None, None, cell.span

    def _table_file_rows(self, d: ast.TableDecl, fields) -> list | None:
        base = Path(self.r.module.file).resolve().parent
        target = (base / d.file).resolve()
        if base not in target.parents:
            self.error("E335", f'`{d.file}` is outside the ruleset\'s directory', d.file_span,
                       help="a ruleset reads table files only from its own directory and below")
            return None
        if not target.is_file():
            self.error("E336", f"no table file `{d.file}` beside the ruleset", d.file_span)
            return None
        from .tables import decode_csv_bytes, split_header

        text = decode_csv_bytes(target.read_bytes())
        reader = csv.reader(io.StringIO(text))
        header = next(reader, [])
        columns = {}
        for i, h in enumerate(header):
            name, unit = split_header(h)
            columns[name] = (i, unit)
        missing = [n for n, _, _ in fields if n not in columns]
        if missing:
            self.error("E337", f"`{d.file}` lacks column(s) {', '.join(missing)}", d.file_span,
                       help="columns present: " + ", ".join(columns))
            return None
        rows = []
        for lineno, record in enumerate(reader, start=2):
            if not any(c.strip() for c in record):
                continue
            span = Span(str(target), lineno, 1, lineno, 1)
            values = []
            for name, typ, f in fields:
                i, unit = columns[name]
                cell = record[i].strip() if i < len(record) else ""
                if cell == "":
                    values.append((None, None, span))
                elif isinstance(typ, T.NumT):
                    try:
                        values.append((float(cell.replace("_", "")), unit, span))
                    except ValueError:
                        self.error("E338", f"`{cell}` in column `{name}` of {d.file} line {lineno} is not a number",
                                   d.file_span)
                        values.append((None, None, span))
                else:
                    values.append((cell, None, span))
            rows.append((values, span))
        return rows

    def _table_cell(self, d, name, typ, value, unit, span):
        if value is None:
            return None
        if isinstance(typ, T.NumT):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.error("E339", f"column `{name}` of `{d.name}` holds numbers in {typ}", span)
                return None
            if unit:
                try:
                    u = parse_unit(unit)
                except UnitSyntaxError as exc:
                    self.error("E301", str(exc), span)
                    return None
                if u.dimensionality != typ.unit.dimensionality:
                    self.error("E339", f"column `{name}` of `{d.name}` is in {typ.unit.text}, not {unit}", span)
                    return None
                return float(value) * u.factor
            return float(value) * typ.unit.factor
        if isinstance(typ, T.TextT):
            if str(value) not in typ.categories:
                hint = did_you_mean(str(value), typ.categories)
                self.error("E310", f'"{value}" is not a declared category of `{d.name}.{name}`', span, help=hint)
                return None
            return str(value)
        if isinstance(typ, T.BoolT):
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "是", "否", "1", "0", "yes", "no"):
                value = value.strip().lower() in ("true", "是", "1", "yes")
            if not isinstance(value, bool):
                self.error("E339", f"column `{name}` of `{d.name}` holds true/false", span)
                return None
            return value
        if isinstance(typ, T.DateT):
            from .check import date_ordinal

            try:
                return float(date_ordinal(str(value)))
            except ValueError:
                self.error("E304", f"`{value}` is not a valid date", span)
                return None
        return value

    # ------------------------------------------------------------------ lookups
    def x_Lookup(self, e: ast.Lookup) -> T.TExpr:
        table = self.tables.get(e.table)
        keys = tuple(self.expr(k) for k in e.keys)
        if table is None:
            return T.Lookup(T.ErrorT(), e.table, keys, (), e.latest, e.column, e.span)
        names = [n for n, _ in table.fields]
        if e.column not in names:
            hint = did_you_mean(e.column, names)
            return T.Lookup(self.error("E340", f"table `{e.table}` has no column `{e.column}`", e.column_span,
                                       help=hint or "columns: " + ", ".join(n for n, _ in table.columns)),
                            e.table, keys, (), e.latest, e.column, e.span)
        ctype = dict(table.fields)[e.column]
        if e.latest is not None:
            if len(table.keys) != 1 or not isinstance(table.keys[0][1], (T.NumT, T.DateT)):
                return T.Lookup(self.error("E341", f"`latest` needs a table with one number or date key; `{e.table}` "
                                           f"has {len(table.keys)} key(s)", e.span), e.table, keys, (), e.latest,
                                e.column, e.span)
            if e.latest not in ("<=", "<"):
                return T.Lookup(self.error("E341", f"`latest {e.latest}` — write `latest <= x` or `latest < x`", e.span),
                                e.table, keys, (), e.latest, e.column, e.span)
        elif len(keys) != len(table.keys):
            return T.Lookup(self.error("E342", f"table `{e.table}` is keyed by {len(table.keys)} value(s) "
                                       f"({', '.join(n for n, _ in table.keys)}), not {len(keys)}", e.span),
                            e.table, keys, (), e.latest, e.column, e.span)
        out_keys, maps = [], []
        for (kname, ktype), k in zip(table.keys, keys):
            if isinstance(k.type, T.ErrorT):
                return T.Lookup(T.ErrorT(), e.table, keys, (), e.latest, e.column, e.span)
            if isinstance(ktype, T.TextT):
                if isinstance(k, T.Const) and isinstance(k.value, str):
                    if k.value not in ktype.categories:
                        hint = did_you_mean(k.value, ktype.categories)
                        self.error("E310", f'"{k.value}" is not a key of `{e.table}`', k.span, help=hint)
                        return T.Lookup(T.ErrorT(), e.table, keys, (), e.latest, e.column, e.span)
                    out_keys.append(T.Const(ktype, ktype.categories.index(k.value), k.span, k.text))
                    maps.append(None)
                    continue
                if not isinstance(k.type, T.TextT):
                    return T.Lookup(self.error("E343", f"key `{kname}` of `{e.table}` is text, not {k.type}", k.span),
                                    e.table, keys, (), e.latest, e.column, e.span)
                maps.append(tuple(ktype.categories.index(c) if c in ktype.categories else -1
                                  for c in k.type.categories))
                out_keys.append(k)
            elif isinstance(ktype, T.NumT):
                if not isinstance(k.type, T.NumT) or k.type.unit.dimensionality != ktype.unit.dimensionality:
                    return T.Lookup(self.error("E343", f"key `{kname}` of `{e.table}` is {ktype}, not {k.type}", k.span),
                                    e.table, keys, (), e.latest, e.column, e.span)
                out_keys.append(k)
                maps.append(None)
            else:
                if type(k.type) is not type(ktype) or k.type != ktype:
                    return T.Lookup(self.error("E343", f"key `{kname}` of `{e.table}` is {ktype}, not {k.type}", k.span),
                                    e.table, keys, (), e.latest, e.column, e.span)
                out_keys.append(k)
                maps.append(None)
        return T.Lookup(ctype, e.table, tuple(out_keys), tuple(maps), e.latest, e.column, e.span)

    # ------------------------------------------------------------------ aggregates
    def _child_of_argument(self, arg) -> str | None:
        """The child entity an aggregate's argument ranges over."""
        children = [n for n, ent in self.r.entities.items() if ent.parent == self.ctx]
        if isinstance(arg, ast.Ref) and arg.name in self.r.entities:
            return arg.name
        node = arg.value if isinstance(arg, ast.Where) else arg
        for ref in (n for n in ast.walk(node) if isinstance(n, ast.Ref)):
            sym = self.r.lookup(ref)
            owner = self.rule_entities.get(sym.name) if sym is not None and sym.kind == "rule" else \
                (sym.entity if sym is not None else None)
            if owner in children:
                return owner
        return None

    def aggregate(self, e: ast.Call) -> T.TExpr:
        if len(e.args) != 1:
            return T.Aggregate(self.error("E344", f"{e.func}(…) takes one argument: a child value, optionally "
                                          "`… where <condition>`", e.span), e.func, "", None, None, None, e.span)
        arg = e.args[0]
        child = self._child_of_argument(arg)
        if child is None or self.r.entities[child].parent != self.ctx:
            children = [n for n, ent in self.r.entities.items() if ent.parent == self.ctx]
            return T.Aggregate(self.error(
                "E345", f"{e.func}(…) aggregates the child rows of `{self.ctx}`, but this argument reads none",
                arg.span, help=("children of `%s`: %s" % (self.ctx, ", ".join(children))) if children
                else f"`{self.ctx}` has no child entity: declare one with `entity line of {self.ctx}`"),
                e.func, "", None, None, None, e.span)
        value_ast = arg.value if isinstance(arg, ast.Where) else arg
        saved = self.ctx
        self.ctx = child
        try:
            where = None
            if isinstance(arg, ast.Where):
                where = self._as_bool(self.expr(arg.cond), "a `where` condition")
            is_entity = isinstance(value_ast, ast.Ref) and value_ast.name == child
            value = None if is_entity else self.expr(value_ast)
        finally:
            self.ctx = saved
        if value is not None and isinstance(value.type, T.ErrorT):
            return T.Aggregate(T.ErrorT(), e.func, child, value, where, None, e.span)
        if e.func == "count":
            if value is not None:
                return T.Aggregate(self.error("E346", f"count(…) counts rows: write `count({child})` or "
                                              f"`count({child} where …)`", value_ast.span), e.func, child, None, where,
                                   None, e.span)
            typ: T.Type = T.NumT(dimensionless())
        elif value is None:
            return T.Aggregate(self.error("E346", f"{e.func}(…) needs a value of `{child}`, not the entity itself",
                                          value_ast.span), e.func, child, None, where, None, e.span)
        elif e.func in ("any", "all"):
            value = self._as_bool(value, f"the argument of {e.func}(…)")
            typ = T.BoolT()
        elif e.func == "share":
            value = self._as_bool(value, "the argument of share(…)")
            typ = T.NumT(parse_unit("percent"))
        else:
            if not isinstance(value.type, T.NumT):
                return T.Aggregate(self.error("E346", f"{e.func}(…) needs numbers, but this is a {value.type}",
                                              value_ast.span), e.func, child, value, where, None, e.span)
            typ = value.type
        default = None
        if e.default is not None:
            d = self.expr(e.default)
            if not isinstance(d, T.Const) or isinstance(d.type, T.ErrorT):
                if not isinstance(d.type, T.ErrorT):
                    self.error("E347", "an aggregate's default is a literal", e.default.span)
            elif isinstance(typ, T.NumT) and (not isinstance(d.type, T.NumT)
                                              or d.type.unit.dimensionality != typ.unit.dimensionality):
                self.error("E347", f"the default of {e.func}(…) must be in {typ}, not {d.type}", e.default.span)
            elif not isinstance(typ, T.NumT) and not isinstance(d.type, type(typ)):
                self.error("E347", f"the default of {e.func}(…) must be a {typ}", e.default.span)
            else:
                default = d
        return T.Aggregate(typ, e.func, child, value, where, default, e.span)

    # ------------------------------------------------------------------ per-row units
    def convert(self, e: ast.Call) -> T.TExpr:
        """``convert(quantity, unit, target)``: a number whose unit is named per row by a text value.

        ``unit`` and ``target`` are text values whose categories are unit names; the result is
        the quantity expressed in ``target`` units (a plain number). A row whose units cannot be
        converted (``g`` into ``wafer``) is a data error naming the row.
        """
        if len(e.args) != 3:
            return T.Func(self.error("E353", "convert(quantity, unit, target unit) takes three arguments", e.span),
                          "convert", (), e.span)
        q, a, b = (self.expr(x) for x in e.args)
        if any(isinstance(x.type, T.ErrorT) for x in (q, a, b)):
            return T.Func(T.ErrorT(), "convert", (q, a, b), e.span)
        if not isinstance(q.type, T.NumT) or not q.type.unit.is_dimensionless:
            return T.Func(self.error("E353", f"convert(…) takes a plain number, not {q.type}", q.span), "convert",
                          (q, a, b), e.span)
        # a quoted unit (`convert(q, unit, "kg")`) is a one-category text: its value is that category's code
        a, b = (T.Const(x.type, x.type.categories.index(x.value), x.span, x.text)
                if isinstance(x, T.Const) and isinstance(x.value, str) and isinstance(x.type, T.TextT) else x
                for x in (a, b))
        units = []
        for x in (a, b):
            if not isinstance(x.type, T.TextT):
                return T.Func(self.error("E353", f"convert(…) needs unit names as text, not {x.type}", x.span),
                              "convert", (q, a, b), e.span)
            parsed = []
            for cat in x.type.categories:
                try:
                    parsed.append(parse_unit(cat))
                except UnitSyntaxError as exc:
                    return T.Func(self.error("E301", f'category "{cat}" is not a unit: {exc}', x.span), "convert",
                                  (q, a, b), e.span)
            units.append(parsed)
        matrix = tuple(tuple(u.factor / v.factor if u.dimensionality == v.dimensionality else float("nan")
                             for v in units[1]) for u in units[0])
        return T.Func(T.NumT(dimensionless()), "convert", (q, a, b, T.Const(T.NumT(dimensionless()), matrix, e.span)),
                      e.span)
