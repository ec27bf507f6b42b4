"""``normrules fmt``: rewrite rulesets in one canonical layout, keeping every comment.

The layout is printed from the syntax tree, never copied from the text, so any two layouts of the
same ruleset (other spacing, other line breaks, declarations of different kinds in another order)
format to the same bytes, and formatting twice changes nothing. The layout:

* **Header** first; its fields in a fixed order (title, document, issuer, version, published,
  effective, status, category, supersedes), one per line, values aligned. A bilingual title is
  written ``zh "…" en "…"``.
* **Declarations** follow, grouped by kind in a fixed order — import, override, entity, param,
  table, input, let, rule, result, example. Within a group the written order is kept: the order of
  lets (read in dependency / reading order), rules (``all(core.*)`` lists them in that order),
  result branches (the first true one wins) and examples is never changed.
* **One blank line** between declarations, except that consecutive one-line declarations of one
  kind are packed: inputs (one block per entity they name, aligned in columns: name, type, range,
  label), lets and params that fit on a line, rules with nothing but ``require`` (aligned at
  ``require``), imports, overrides, entities. Trailing comments of the lines of one block (and of
  one rule's clauses, one result's branches, one table's rows…) start in one column.
* **Rules**: ``rule id "label"``, then one clause per line in a fixed order: ``clause``,
  ``severity``, ``applies when``, ``require``, ``judge``. A ``severity`` or ``judge`` clause is kept
  only when it was written.
* **Results**: one branch per line, the conditions aligned after the branch labels.
* **Tables**: ``table name "label"``, then the provenance lines (``document``, ``clause``,
  ``publisher``, ``published``) in the written order (the compiled table keeps that order), the
  ``key`` and ``column`` lines (aligned), ``rows from "…"``, and one ``row`` per line, cells aligned.
* **Entities** keep ``key …`` only when it was written (``id`` is the default).
* **Examples**: ``given`` / ``expect`` on one line each when that fits in :data:`WIDTH` columns,
  otherwise one assignment per line.
* **Lines** longer than :data:`WIDTH` columns (CJK characters count two): the ``en "…"`` part of
  the label of a title, input, rule or result moves to its own line; a ``let``/``param`` breaks
  after ``=``. A ``let`` whose value is a ``case`` is always a block, one ``when`` per line, the
  values aligned.
* **Expressions** get the fewest parentheses the grammar's precedence allows (``if`` < ``or`` <
  ``and`` < ``not`` < comparisons < ``+ -`` < ``* /`` < unary ``-``), one space around binary
  operators and after commas. Numbers and units are kept as written (``1_000_000``, ``1.5e-3``,
  ``100万tce/yr``); a unit follows its number after one space, except a unit starting with 万 or 亿,
  which is written against it, as the documents do (``20万tce/yr``). Strings are re-quoted.
* **Comments** (:func:`normrules.parse.comments`) are attached to the line they belong to: a
  comment on its own line to the next header field, declaration, rule clause, result branch, example
  line… (printed just before it, at its indent; a comment inside a construct printed on one line
  goes before that line); a comment after code stays at the end of that construct's line (when
  several end up on one line, all but the last move just before it); comments after the last
  declaration stay at the end of the file. Trailing spaces of comments are removed; nothing else
  about a comment changes.

``*.examples.nr`` files (examples kept beside a ruleset) hold only ``example`` blocks and are
formatted as such.
"""

from __future__ import annotations

import os
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

import click

from . import ast
from .errors import CheckFailed, NormrulesError
from .parse import comments as _source_comments
from .parse import parse

WIDTH = 100          # lines longer than this (in terminal columns) are broken where the layout allows
IND = "  "
EXAMPLES_SUFFIX = ".examples.nr"
_EXAMPLES_PREFIX = "ruleset _ {} "   # makes an examples file parse; no newline, so lines keep their numbers

# Declaration groups in canonical order (by class name, so an AST without some of them still works).
GROUPS = ("ImportDecl", "OverrideDecl", "EntityDecl", "ParamDecl", "TableDecl", "InputDecl", "LetDecl",
          "RuleDecl", "ResultDecl", "ExampleDecl")
HEADER_ORDER = ("title", "document", "issuer", "version", "published", "effective", "status", "category",
                "supersedes")

_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


class FmtError(NormrulesError):
    """The ruleset holds a construct this formatter does not know how to print."""


def _cls(name: str):
    """An AST class by name, or ``()`` (matches nothing in isinstance) if this AST has no such class."""
    return getattr(ast, name, ())


# ---------------------------------------------------------------------- text helpers


def display_width(text: str) -> int:
    """Terminal columns taken by ``text``: CJK (wide and full-width) characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def quote(value: str) -> str:
    """A string literal for ``value``: backslashes and double quotes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unit(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text.strip())


def _number(n: ast.Number) -> str:
    if n.unit is None:
        return n.text
    u = _unit(n.unit)
    return f"{n.text}{u}" if u[:1] in ("万", "亿") else f"{n.text} {u}"


def _label(label: ast.Label | None, zh_keyword: bool = False) -> str:
    if label is None:
        return ""
    out = ("zh " if zh_keyword else "") + quote(label.zh)
    return out + (f" en {quote(label.en)}" if label.en is not None else "")


def _type(t: ast.TypeSpec) -> str:
    if t.kind == "unit":
        return _unit(t.unit or "")
    if t.kind in ("number", "boolean"):
        return t.kind
    if t.kind == "text":
        return "text {" + ", ".join(quote(c) for c in t.categories) + "}" if t.categories else "text"
    if t.kind == "date":
        return "date" if t.precision == "day" else f"date({t.precision})"
    raise FmtError(f"cannot format a type of kind {t.kind!r}")


def _range(r) -> str:
    return f"in {'[' if r.low.inclusive else '('}{r.low.text}, {r.high.text}{']' if r.high.inclusive else ')'}"


def _qname(entity: str | None, name: str) -> str:
    return f"{entity}.{name}" if entity else name


ALIGN_CAP = 24        # a cell wider than this (a long `text {…}` type) takes no part in aligning its column


def _align(rows: list[list[str]]) -> list[str]:
    """Rows of cells joined by one space, each column padded to its widest cell.

    Columns empty in every row are dropped; a row's last non-empty cell is not padded (and does not
    widen its column); after the first column, a cell wider than ALIGN_CAP does not widen its
    column either (the rest of that row is simply shifted right)."""
    ncol = max(len(r) for r in rows)
    rows = [list(r) + [""] * (ncol - len(r)) for r in rows]
    keep = [j for j in range(ncol) if any(r[j] for r in rows)]
    rows = [[r[j] for j in keep] for r in rows]
    lasts = [max((j for j, c in enumerate(r) if c), default=-1) for r in rows]
    widths = [max((display_width(r[j]) for r, last in zip(rows, lasts)
                   if j < last and (j == 0 or display_width(r[j]) <= ALIGN_CAP)), default=0)
              for j in range(len(keep))]
    out = []
    for r, last in zip(rows, lasts):
        line = ""
        for j, cell in enumerate(r[: last + 1]):
            if cell:        # starts at its column, or one space after an over-wide cell before it
                column = sum(widths[:j]) + j
                line += " " * max(1 if line else 0, column - display_width(line)) + cell
        out.append(line)
    return out


# ---------------------------------------------------------------------- expressions


def _level(e) -> int:
    """Binding strength of an expression node, loosest 1 (if) to tightest 9 (atoms); see the grammar."""
    if isinstance(e, ast.If):
        return 1
    if isinstance(e, ast.Logic):
        return 2 if e.op == "or" else 3
    if isinstance(e, ast.Not):
        return 4
    if isinstance(e, (ast.Compare, ast.IsState, ast.InSet)):
        return 5
    if isinstance(e, ast.Binary):
        return 6 if e.op in ("+", "-") else 7
    if isinstance(e, ast.Unary):
        return 8
    return 9


def expr(e, min_level: int = 1) -> str:
    """Canonical text of an expression, parenthesised when it sits where the grammar needs a tighter
    binding than its own (``min_level``)."""
    text = _expr(e)
    return f"({text})" if _level(e) < min_level else text


def _expr(e) -> str:
    if isinstance(e, ast.Number):
        return _number(e)
    if isinstance(e, ast.String):
        return quote(e.value)
    if isinstance(e, ast.DateLit):
        return e.text
    if isinstance(e, ast.Bool):
        return "true" if e.value else "false"
    if isinstance(e, ast.Ref):
        return e.name
    if isinstance(e, ast.Glob):
        return f"{e.prefix}.*"
    if isinstance(e, ast.If):
        return f"if {expr(e.cond)} then {expr(e.then)} else {expr(e.else_)}"
    if isinstance(e, ast.Logic):
        mine = _level(e)
        return f"{expr(e.left, mine)} {e.op} {expr(e.right, mine + 1)}"
    if isinstance(e, ast.Not):
        return f"not {expr(e.operand, 4)}"
    if isinstance(e, ast.Compare):
        return f"{expr(e.left, 6)} {e.op} {expr(e.right, 6)}"
    if isinstance(e, ast.IsState):
        return f"{expr(e.operand, 6)} is {e.state}"
    if isinstance(e, ast.InSet):
        return f"{expr(e.operand, 6)} in {{" + ", ".join(expr(o) for o in e.options) + "}"
    if isinstance(e, ast.Binary):
        mine = _level(e)
        return f"{expr(e.left, mine)} {e.op} {expr(e.right, mine + 1)}"
    if isinstance(e, ast.Unary):
        return f"{e.op}{expr(e.operand, 8)}"
    if isinstance(e, ast.Case):
        whens = " ".join(f"when {expr(c)} then {expr(v)}" for c, v in e.whens)
        return f"case {whens} else {expr(e.else_)} end"
    if isinstance(e, ast.Call):
        text = f"{e.func}(" + ", ".join(expr(a) for a in e.args) + ")"
        default = getattr(e, "default", None)
        return text if default is None else f"{text} default {expr(default, 8)}"
    if isinstance(e, _cls("Where")):
        return f"{expr(e.value)} where {expr(e.cond)}"
    if isinstance(e, _cls("Lookup")):
        if e.latest is not None:
            keys = f"latest {e.latest} {expr(e.keys[0])}"
        else:
            keys = ", ".join(expr(k) for k in e.keys)
        return f"{e.table}[{keys}].{e.column}"
    raise FmtError(f"cannot format an expression of type {type(e).__name__}")


# ---------------------------------------------------------------------- source positions


@dataclass
class _Comment:
    pos: int
    text: str
    own_line: bool


class _Source:
    """The text with comments blanked out and string contents blanked, for finding keywords."""

    def __init__(self, text: str, found: list[tuple[int, int, str]], code_from: int = 0):
        self.text = text
        starts = [0] + [m.end() for m in re.finditer("\n", text)]
        chars = list(text)
        self.comments: list[_Comment] = []
        for line, col, ctext in found:
            pos = starts[line - 1] + col - 1
            chars[pos: pos + len(ctext)] = " " * len(ctext)
            before = text[max(starts[line - 1], code_from): pos]
            self.comments.append(_Comment(pos, ctext.rstrip(), not before.strip()))
        masked = "".join(chars)
        self.masked = _STRING.sub(lambda m: '"' + " " * (len(m.group()) - 2) + '"', masked)

    def prev_code(self, pos: int) -> int:
        """Index of the last non-blank character before ``pos`` (-1 if none)."""
        i = pos - 1
        while i >= 0 and self.masked[i].isspace():
            i -= 1
        return i

    def keyword_before(self, pos: int, words: str) -> int:
        """Start of the keyword(s) written just before ``pos`` (``"applies when"``); ``pos`` if absent."""
        start = pos
        for w in reversed(words.split()):
            i = self.prev_code(start) + 1
            j = i - len(w)
            glued = j > 0 and (self.masked[j - 1].isalnum() or self.masked[j - 1] in "_.")
            if j < 0 or self.masked[j:i] != w or glued:
                return pos
            start = j
        return start

    def find(self, char: str, start: int, end: int | None = None) -> int:
        i = self.masked.find(char, start, len(self.masked) if end is None else end)
        return i if i >= 0 else start

    def keywords(self, word: str, start: int, end: int, exclude: list[tuple[int, int]]) -> list[int]:
        """Positions of the keyword ``word`` in [start, end), outside the ``exclude`` ranges."""
        out = []
        for m in re.compile(rf"(?<![\w.]){word}(?!\w)").finditer(self.masked, start, end):
            if not any(a <= m.start() < b for a, b in exclude):
                out.append(m.start())
        return out


# ---------------------------------------------------------------------- layout units


@dataclass
class _Unit:
    """One construct as printed (one or more lines) and the source range it came from; comments
    are attached to units."""

    start: int
    end: int
    lines: list[str]
    indent: str = ""
    leading: list[tuple[int, str]] = field(default_factory=list)
    trailing: list[tuple[int, str]] = field(default_factory=list)
    blank_after_leading: bool = False
    group: object = None        # consecutive units of one group align their trailing comments


@dataclass
class _Decl:
    kind: str
    units: list[_Unit]
    packable: bool = False      # a one-line declaration: consecutive ones of a kind take no blank line


def _grouped(units: list[_Unit]) -> list[_Unit]:
    """Mark units as one alignment group (for their trailing comments)."""
    key = object()
    for u in units:
        u.group = key
    return units


def _head_lines(prefix: str, label: ast.Label | None, suffix: str = "") -> list[str]:
    """``prefix label suffix`` on one line, or with the label's ``en "…"`` on a line of its own when
    the line would be longer than WIDTH."""
    if label is None:
        return [prefix + suffix]
    one = f"{prefix} {_label(label)}{suffix}"
    if display_width(one) <= WIDTH or label.en is None:
        return [one]
    return [f"{prefix} {quote(label.zh)}", f"{IND}en {quote(label.en)}{suffix}"]


class _Formatter:
    def __init__(self, module: ast.Module, src: _Source, examples_only: bool):
        self.m = module
        self.src = src
        self.examples_only = examples_only

    # -------------------------------------------------------------- header
    def header(self) -> list[_Unit]:
        h = self.m.header
        brace = self.src.find("{", h.id_span.end)
        opening = _Unit(h.span.start, brace + 1, [f"ruleset {h.id} {{"], blank_after_leading=True)
        units = []
        order = {k: i for i, k in enumerate(HEADER_ORDER)}
        fields = sorted(h.fields, key=lambda f: order.get(f.key, len(order)))
        keywidth = max((len(f.key) for f in fields), default=0)
        for f in fields:
            lines = [f"{IND}{f.key.ljust(keywidth)} {self.meta_value(f)}"]
            if f.key == "title" and display_width(lines[0]) > WIDTH and f.value.en is not None:
                lines = [f"{IND}{f.key.ljust(keywidth)} zh {quote(f.value.zh)}",     # `en` under `zh`
                         f"{IND}{' ' * keywidth} en {quote(f.value.en)}"]
            units.append(_Unit(f.span.start, f.span.end, lines, IND))
        return [opening, *_grouped(units), _Unit(h.span.end - 1, h.span.end, ["}"], IND)]

    @staticmethod
    def meta_value(f: ast.Meta) -> str:
        if f.key == "title":
            return _label(f.value, zh_keyword=f.value.en is not None)
        if f.key in ("document", "issuer", "version"):
            return quote(f.value)
        if f.key in ("published", "effective", "status", "category"):
            return str(f.value)
        if f.key == "supersedes":
            rid, version = f.value
            return f"{rid} @ {quote(version)}"
        raise FmtError(f"cannot format the header field `{f.key}`")

    # -------------------------------------------------------------- declarations
    def declarations(self) -> list[_Decl]:
        groups: dict[str, list] = {g: [] for g in GROUPS}
        for d in self.m.items:
            kind = type(d).__name__
            if kind not in groups:
                raise FmtError(f"{self.m.file}: cannot format {kind} declarations")
            groups[kind].append(d)
        out: list[_Decl] = []
        for kind in GROUPS:
            decls = groups[kind]
            if not decls:
                continue
            if kind == "InputDecl":
                out.extend(self.inputs(decls))
            elif kind == "RuleDecl":
                out.extend(self.rules(decls))
            else:
                method = getattr(self, kind)
                out.extend(method(d) for d in decls)
        return out

    def EntityDecl(self, d) -> _Decl:
        text = f"entity {d.name}"
        if d.label is not None:
            text += f" {_label(d.label)}"
        if getattr(d, "parent", None):
            text += f" of {d.parent}"
        name_at = self.src.masked.find(d.name, d.span.start + len("entity"))
        if self.src.keywords("key", name_at + len(d.name), d.span.end, []):    # written, or the default `id`
            text += f" key {d.key}"
        return _Decl("EntityDecl", [_Unit(d.span.start, d.span.end, [text])], packable=True)

    def ImportDecl(self, d) -> _Decl:
        version = f"@{quote(d.version)}" if d.version is not None else ""
        return _Decl("ImportDecl", [_Unit(d.span.start, d.span.end, [f"import {d.ruleset}{version} as {d.alias}"])],
                     packable=True)

    def OverrideDecl(self, d) -> _Decl:
        return _Decl("OverrideDecl", [_Unit(d.span.start, d.span.end, [f"override {d.target.name} = {expr(d.value)}"])],
                     packable=True)

    def inputs(self, decls) -> list[_Decl]:
        rows = [[f"input {_qname(d.entity, d.name)}", f": {_type(d.type)}", _range(d.range) if d.range else "",
                 _label(d.label)] for d in decls]
        aligned: list[str] = []         # inputs of one entity form one block, aligned
        for _, run in groupby(zip(decls, rows), key=lambda pair: pair[0].entity):
            aligned += _align([row for _, row in run])
        out = []
        for d, row, line in zip(decls, rows, aligned):
            lines = [line]
            if display_width(line) > WIDTH and d.label is not None and d.label.en is not None:
                lines = [line[: len(line) - len(row[3])] + quote(d.label.zh), f"{IND}en {quote(d.label.en)}"]
            # a blank line where the entity changes
            out.append(_Decl(f"InputDecl {d.entity}", [_Unit(d.span.start, d.span.end, lines)], packable=True))
        return out

    def LetDecl(self, d, keyword: str = "let") -> _Decl:
        prefix = f"{keyword} {_qname(d.entity, d.name)}"
        if d.type is not None:
            prefix += f" : {_type(d.type)}"
        head = [f"{prefix} {_label(d.label)} =" if d.label is not None else f"{prefix} ="]   # never split
        if isinstance(d.expr, ast.Case):
            return _Decl(type(d).__name__, self.case_block(d, head))
        value = expr(d.expr)
        if display_width(f"{head[0]} {value}") <= WIDTH or display_width(head[0]) > WIDTH:  # a break would not help
            return _Decl(type(d).__name__, [_Unit(d.span.start, d.span.end, [f"{head[0]} {value}"])], packable=True)
        return _Decl(type(d).__name__, [_Unit(d.span.start, d.span.end, head + [IND + value])])

    def ParamDecl(self, d) -> _Decl:
        return self.LetDecl(d, "param")

    def case_block(self, d, head: list[str]) -> list[_Unit]:
        case, src = d.expr, self.src
        eq = src.prev_code(case.span.start)
        units = [_Unit(d.span.start, eq + 1, head), _Unit(case.span.start, case.span.start + 4, [IND + "case"], IND)]
        conds = [expr(c) for c, _ in case.whens]
        w = max(display_width(c) for c in conds)
        inner = IND * 2
        for (c, v), text in zip(case.whens, conds):
            units.append(_Unit(src.keyword_before(c.span.start, "when"), v.span.end,
                               [f"{inner}when {_pad(text, w)} then {expr(v)}"], inner))
        units.append(_Unit(src.keyword_before(case.else_.span.start, "else"), case.else_.span.end,
                           [f"{inner}else {' ' * (w + 6)}{expr(case.else_)}"], inner))
        _grouped(units[2:])
        units.append(_Unit(case.span.end - 3, case.span.end, [IND + "end"], IND))
        return units

    def TableDecl(self, d) -> _Decl:
        src = self.src
        head_end = d.label.span.end if d.label is not None else d.name_span.end
        units = [_Unit(d.span.start, head_end, _head_lines(f"table {d.name}", d.label))]
        rows_exprs = [e for row in d.rows for e in row]
        exclude = [(f.span.start, f.span.end) for f in (*d.keys, *d.columns)]
        exclude += [(e.span.start, e.span.end) for e in rows_exprs]
        if d.file_span is not None:
            exclude.append((d.file_span.start, d.file_span.end))
        found: list[int] = sorted(p for key in set(k for k, _ in d.provenance)
                                  for p in src.keywords(key, head_end, d.span.end, exclude))
        prov = [(key, value, pos) for (key, value), pos in zip(d.provenance, found + [None] * len(d.provenance))]
        keywidth = max((len(key) for key, _ in d.provenance), default=0)
        for key, value, pos in prov:          # in the written order: the compiled table keeps it
            shown = value if key == "published" else quote(value)
            start = pos if pos is not None else head_end
            units.append(_Unit(start, _token_end(src, start + len(key)), [f"{IND}{key.ljust(keywidth)} {shown}"], IND))
        fields = [("key", f) for f in d.keys] + [("column", f) for f in d.columns]
        if fields:
            keywidth = max(len(kind) for kind, _ in fields)
            lines = _align([[f"{IND}{kind.ljust(keywidth)} {f.name}", f": {_type(f.type)}"] for kind, f in fields])
            units += _grouped([_Unit(f.span.start, f.span.end, [line], IND) for (_, f), line in zip(fields, lines)])
        if d.file is not None:
            units.append(_Unit(d.file_span.start, d.file_span.end, [f"{IND}rows from {quote(d.file)}"], IND))
        if d.rows:
            cells = [[expr(e) + ("," if i < len(row) - 1 else "") for i, e in enumerate(row)] for row in d.rows]
            lines = _align([[f"{IND}row"] + c for c in cells])
            units += _grouped([_Unit(src.keyword_before(row[0].span.start, "row"), row[-1].span.end, [line], IND)
                               for row, line in zip(d.rows, lines)])
        return _Decl("TableDecl", units)

    def rules(self, decls) -> list[_Decl]:
        out: list[_Decl] = []
        run: list = []                  # consecutive one-line rules, aligned at `require`

        def flush():
            if run:
                lines = _align([[f"rule {d.id}", f"require {expr(d.require)}"] for d in run])
                out.extend(_Decl("RuleDecl", [_Unit(d.span.start, d.span.end, [line])], packable=True)
                           for d, line in zip(run, lines))
                run.clear()

        for d in decls:
            simple = (d.require is not None and d.label is None and d.clause is None and d.severity_span is None
                      and d.applies is None and d.judge is None)
            if simple and display_width(f"rule {d.id} require {expr(d.require)}") <= WIDTH:
                run.append(d)
                continue
            flush()
            out.append(self.rule_block(d))
        flush()
        return out

    def rule_block(self, d) -> _Decl:
        src = self.src
        head_end = d.label.span.end if d.label is not None else d.name_span.end
        units = [_Unit(d.span.start, head_end, _head_lines(f"rule {d.id}", d.label))]
        exclude = [(x.span.start, x.span.end) for x in (d.applies, d.require, d.judge) if x is not None]
        if d.clause is not None:
            hits = [p for p in src.keywords("clause", head_end, d.span.end, exclude)
                    if src.masked[src.prev_code(p) + 1: p].strip() == "" and _next_is_quote(src, p + 6)]
            start = hits[0] if hits else head_end
            kw = "clause  " if d.severity_span is not None else "clause"   # aligned with `severity`
            units.append(_Unit(start, _token_end(src, start + len("clause")), [f"{IND}{kw} {quote(d.clause)}"], IND))
        if d.severity_span is not None:
            units.append(_Unit(src.keyword_before(d.severity_span.start, "severity"), d.severity_span.end,
                               [f"{IND}severity {d.severity}"], IND))
        if d.applies is not None:
            units.append(_Unit(src.keyword_before(d.applies.span.start, "applies when"), d.applies.span.end,
                               [f"{IND}applies when {expr(d.applies)}"], IND))
        if d.require is not None:
            units.append(_Unit(src.keyword_before(d.require.span.start, "require"), d.require.span.end,
                               [f"{IND}require {expr(d.require)}"], IND))
        if d.judge is not None:
            to = f" to {_number(d.judge.precision)}" if d.judge.precision is not None else ""
            units.append(_Unit(d.judge.span.start, d.judge.span.end, [f"{IND}judge {d.judge.method}{to}"], IND))
        _grouped(units[1:])
        return _Decl("RuleDecl", units)

    def ResultDecl(self, d) -> _Decl:
        head_end = d.label.span.end if d.label is not None else d.name_span.end
        brace = self.src.find("{", head_end)
        units = [_Unit(d.span.start, brace + 1, _head_lines(f"result {_qname(d.entity, d.name)}", d.label, " {"))]
        labels = [quote(b.label) for b in d.branches]
        w = max(display_width(x) for x in labels)
        for b, lab in zip(d.branches, labels):
            tail = "otherwise" if b.cond is None else f"when {expr(b.cond)}"
            units.append(_Unit(b.span.start, b.span.end, [f"{IND}{_pad(lab, w)} {tail}"], IND))
        _grouped(units[1:])
        units.append(_Unit(d.span.end - 1, d.span.end, ["}"], IND))
        return _Decl("ResultDecl", units)

    def ExampleDecl(self, d) -> _Decl:
        src = self.src
        brace = src.find("{", d.span.start)
        units = [_Unit(d.span.start, brace + 1, [f"example {quote(d.name)} {{"])]
        if d.given:
            units += self.assignments("given", d.given, IND, src.keyword_before(d.given[0].span.start, "given"))
        for child in getattr(d, "children", ()):
            units += self.child_rows(child)
        if d.expect:
            units += self.assignments("expect", d.expect, IND, src.keyword_before(d.expect[0].span.start, "expect"))
        _grouped(units[1:])
        units.append(_Unit(d.span.end - 1, d.span.end, ["}"], IND))
        return _Decl("ExampleDecl", units)

    @staticmethod
    def assignments(keyword: str, assigns, indent: str, keyword_pos: int) -> list[_Unit]:
        texts = [f"{a.target.name} = {expr(a.value)}" for a in assigns]
        one = f"{indent}{keyword} " + ", ".join(texts)
        if display_width(one) <= WIDTH:
            return [_Unit(keyword_pos, assigns[-1].span.end, [one], indent)]
        cont = indent + " " * (len(keyword) + 1)
        units = []
        for i, (a, text) in enumerate(zip(assigns, texts)):
            comma = "," if i < len(assigns) - 1 else ""
            if i == 0:
                units.append(_Unit(keyword_pos, a.span.end, [f"{indent}{keyword} {text}{comma}"], indent))
            else:
                units.append(_Unit(a.span.start, a.span.end, [f"{cont}{text}{comma}"], cont))
        return units

    def child_rows(self, c) -> list[_Unit]:
        texts = [f"{a.target.name} = {expr(a.value)}" for a in c.given]
        one = f"{IND}child {c.entity} {{ " + ", ".join(texts) + " }"
        if display_width(one) <= WIDTH:
            return [_Unit(c.span.start, c.span.end, [one], IND)]
        brace = self.src.find("{", c.entity_span.end)
        inner = IND * 2
        units = [_Unit(c.span.start, brace + 1, [f"{IND}child {c.entity} {{"], IND)]
        for i, (a, text) in enumerate(zip(c.given, texts)):
            comma = "," if i < len(c.given) - 1 else ""
            units.append(_Unit(a.span.start, a.span.end, [f"{inner}{text}{comma}"], inner))
        units.append(_Unit(c.span.end - 1, c.span.end, [IND + "}"], inner))
        return units

    # -------------------------------------------------------------- assembly
    def run(self) -> str:
        header = [] if self.examples_only else self.header()
        decls = self.declarations()
        units = header + [u for d in decls for u in d.units]
        trailer = _attach(self.src.comments, units)

        # consecutive packed one-line declarations are one alignment group
        prev: _Decl | None = None
        for d in decls:
            if prev is not None and prev.packable and d.packable and prev.kind == d.kind:
                d.units[0].group = prev.units[0].group
            elif d.packable:
                _grouped(d.units)
            prev = d
        # trailing comments of consecutive units of one group start in one column
        column: dict[int, int] = {}
        ordered = header + [u for d in decls for u in d.units]
        for _, run in groupby(ordered, key=lambda u: id(u.group) if u.group is not None else id(u)):
            run = [u for u in run if u.trailing]
            at = max((display_width(u.lines[-1]) for u in run), default=0) + 2
            for u in run:
                column[id(u)] = at if len(run) > 1 else display_width(u.lines[-1]) + 2

        lines: list[str] = []

        def emit(u: _Unit) -> None:
            for _, c in u.leading:
                lines.append(u.indent + c)
            if u.leading and u.blank_after_leading:
                lines.append("")
            body = list(u.lines)
            if u.trailing:
                body[-1] = _pad(body[-1], column[id(u)]) + u.trailing[-1][1]
            lines.extend(body)

        for u in header:
            emit(u)
        prev = None
        for d in decls:
            packed = prev is not None and prev.packable and d.packable and prev.kind == d.kind
            if lines and not packed:
                lines.append("")
            for u in d.units:
                emit(u)
            prev = d
        if trailer:
            if lines:
                lines.append("")
            lines.extend(c for _, c in trailer)
        return "".join(line.rstrip() + "\n" for line in lines)


def _token_end(src: _Source, pos: int) -> int:
    """End of the string or word that follows ``pos`` (after blanks)."""
    i = pos
    while i < len(src.masked) and src.masked[i].isspace():
        i += 1
    if src.masked[i: i + 1] == '"':
        return src.find('"', i + 1) + 1
    m = re.compile(r"[\w.\-]*").match(src.masked, i)
    return max(m.end(), i + 1)


def _next_is_quote(src: _Source, pos: int) -> bool:
    i = pos
    while i < len(src.masked) and src.masked[i].isspace():
        i += 1
    return src.masked[i: i + 1] == '"'


def _attach(found: list[_Comment], units: list[_Unit]) -> list[tuple[int, str]]:
    """Attach every comment to a unit (see the module docstring); returns the end-of-file comments."""
    order = sorted(units, key=lambda u: u.start)
    starts = [u.start for u in order]
    trailer: list[tuple[int, str]] = []
    for c in found:
        if c.own_line:
            i = bisect_right(starts, c.pos) - 1
            if i >= 0 and order[i].end > c.pos:          # inside a construct: before its line
                order[i].leading.append((c.pos, c.text))
            elif i + 1 < len(order):                     # before the next construct
                order[i + 1].leading.append((c.pos, c.text))
            else:
                trailer.append((c.pos, c.text))
        else:
            i = bisect_right(starts, c.pos - 1) - 1
            # the construct that holds the code before the comment (the last one started before it)
            unit = order[max(i, 0)] if order else None
            if unit is None:
                trailer.append((c.pos, c.text))
            elif i < 0:
                unit.leading.append((c.pos, c.text))
            else:
                unit.trailing.append((c.pos, c.text))
    for u in units:
        if len(u.trailing) > 1:                          # one comment per line end: the others go before it
            u.leading.extend(u.trailing[:-1])
            u.trailing = u.trailing[-1:]
        u.leading.sort()
    return trailer


# ---------------------------------------------------------------------- public API


def is_examples_file(file: str | os.PathLike) -> bool:
    """``<name>.examples.nr`` holds only the examples of ``<name>.nr`` (no header)."""
    return str(file).endswith(EXAMPLES_SUFFIX)


def format_text(text: str, file: str = "<string>") -> str:
    """The canonical layout of ruleset text (see the module docstring), with every comment kept.

    ``file`` names the text in diagnostics; a name ending in ``.examples.nr`` means the text holds
    only ``example`` blocks. Raises :class:`~normrules.errors.CheckFailed` when the text has a
    syntax error and :class:`FmtError` for a construct the formatter does not know.
    """
    examples_only = is_examples_file(file)
    source = _EXAMPLES_PREFIX + text if examples_only else text
    module = parse(source, file)
    found = _source_comments(source)
    src = _Source(source, found, code_from=len(_EXAMPLES_PREFIX) if examples_only else 0)
    return _Formatter(module, src, examples_only).run()


def ruleset_paths(paths) -> list[Path]:
    """The ``.nr`` files named, or under the directories named (hidden directories skipped), in a
    stable order."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(f for f in sorted(p.rglob("*.nr"))
                       if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts[:-1]))
        else:
            out.append(p)
    return list(dict.fromkeys(out))


def _write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same directory, then rename over ``path`` (its permissions kept)."""
    from .atomic import write_text_atomic

    write_text_atomic(path, text)


def _files(n: int) -> str:
    return f"{n} file{'s' if n != 1 else ''}"


@click.command("fmt")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--check", is_flag=True,
              help="Rewrite nothing: list the files that would be reformatted and exit 1 if there are any.")
def fmt_command(paths, check):
    """Rewrite rulesets (files or directories of .nr files) in the canonical layout, keeping every
    comment. Files are replaced atomically; a file that does not parse is reported and left alone.

    \b
    Exit codes: 0 nothing to do or all reformatted; 1 with --check when a file would change, or
    when a file could not be formatted.

    \b
    Example:
      normrules fmt rulesets/
      normrules fmt --check rulesets/gb/zero_carbon_park.nr
    """
    changed = unchanged = failed = 0
    for path in ruleset_paths(paths):
        try:
            text = path.read_text("utf-8")
            new = format_text(text, str(path))
        except CheckFailed as exc:
            click.echo(str(exc), err=True)
            failed += 1
            continue
        except (FmtError, UnicodeDecodeError, OSError) as exc:
            click.echo(f"error: {path}: {exc}", err=True)
            failed += 1
            continue
        if new == text:
            unchanged += 1
            continue
        changed += 1
        if check:
            click.echo(f"would reformat {path}")
        else:
            _write_atomic(path, new)
            click.echo(f"reformatted {path}")
    summary = f"{_files(changed)} {'would be reformatted' if check else 'reformatted'}, {unchanged} unchanged"
    if failed:
        summary += f", {failed} could not be formatted"
    click.echo(summary)
    raise SystemExit(1 if failed or (check and changed) else 0)


__all__ = ["format_text", "fmt_command", "FmtError", "display_width", "expr", "is_examples_file", "ruleset_paths",
           "WIDTH"]
