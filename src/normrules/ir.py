"""The compiled IR: a versioned, language-neutral JSON form of a checked and planned ruleset.

``normrules compile RULESET -o FILE.json`` writes it; :func:`load_ir` rebuilds a
:class:`~normrules.api.Ruleset` from it without parsing, resolving or checking, so a service can
ship the JSON and start in milliseconds. The format (``"normrules_ir": "1"``) is described by the
JSON Schema ``compiler/ir.schema.json`` and in ``docs/embedding.md``:

* ``ruleset``: metadata (id, version, status, document, dates, title, every header field in
  order) and the content hash (sha256 of the source text);
* ``entities``, ``inputs`` (type, unit as text + factor to pint base units + dimension, range in
  canonical units, categories), ``params``, ``tables`` (rows with canonical numbers, provenance);
* ``values``, ``rules``, ``results``: typed expression trees (``node`` kind, ``type``, operator,
  ``children``; numbers canonical, text constants as category codes), spans
  ``{file, line, col, end_line, end_col, start, end}``, clauses and severities;
* ``graph`` (nodes and edges), ``plan`` (the evaluation order), ``examples``;
* ``imports``: the IR of each imported ruleset, nested, with the importer's overrides applied.

The declarations' syntax trees (``decl`` fields of the checked items) are not kept: a loaded
ruleset carries stand-in declarations with the names, labels and spans (and an input's declared
range), which is what evaluation, explanations and examples read. ``fmt``, ``lint``, ``diff`` and
the document renderer need the source.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
from pathlib import Path

from . import ast
from . import types as T
from .check import CExample, CheckedRuleset, CInput, CParam, CResult, CRule, CValue
from .check_collections import CTable
from .errors import Diagnostic, Note, NormrulesError, SourceMap, Span
from .units import Unit

IR_VERSION = "1"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "compiler" / "ir.schema.json"


class IRError(NormrulesError):
    """A document that is not normrules IR this version can read."""


# =========================================================================== writing


def _value(x):
    """A constant as JSON: tuples become arrays, non-finite floats ``{"float": "nan"|"inf"|"-inf"}``."""
    if isinstance(x, float):
        if math.isfinite(x):
            return x
        return {"float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}
    if isinstance(x, (tuple, list)):
        return [_value(v) for v in x]
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if hasattr(x, "item"):                      # a numpy scalar
        return _value(x.item())
    raise TypeError(f"cannot write {type(x).__name__} {x!r} into the IR")


def _span(s: Span | None):
    if s is None:
        return None
    return {"file": s.file, "line": s.line, "col": s.col, "end_line": s.end_line, "end_col": s.end_col,
            "start": s.start, "end": s.end}


def _label(lab: ast.Label | None):
    return None if lab is None else {"zh": lab.zh, "en": lab.en, "span": _span(lab.span)}


def _unit(u: Unit) -> dict:
    return {"text": u.text, "factor": u.factor,
            "dimension": {str(k): v for k, v in sorted(dict(u.dimensionality).items())},
            "dimension_text": u.dimension_text()}


def _type(t) -> dict:
    if isinstance(t, T.NumT):
        return {"kind": "number", "unit": _unit(t.unit)}
    if isinstance(t, T.BoolT):
        return {"kind": "boolean"}
    if isinstance(t, T.TextT):
        return {"kind": "text", "categories": list(t.categories)}
    if isinstance(t, T.DateT):
        return {"kind": "date", "precision": t.precision}
    if isinstance(t, T.VerdictT):
        return {"kind": "verdict"}
    if isinstance(t, T.LabelT):
        return {"kind": "label", "labels": list(t.labels)}
    if isinstance(t, T.ErrorT):
        return {"kind": "error"}
    raise TypeError(t)


_NODE_NAMES = {T.Const: "const", T.Load: "load", T.Neg: "neg", T.Arith: "arith", T.Cmp: "cmp", T.BoolOp: "bool_op",
               T.NotOp: "not", T.IsState: "is_state", T.InSet: "in_set", T.IfElse: "if", T.CaseWhen: "case",
               T.Func: "func", T.VerdictSet: "verdict_set", T.Up: "up", T.Aggregate: "aggregate",
               T.Lookup: "lookup"}
NODE_KINDS = tuple(_NODE_NAMES.values())


def _expr(e) -> dict | None:
    """A typed expression node as JSON (``None`` stays ``null``)."""
    if e is None:
        return None
    out = {"node": _NODE_NAMES[type(e)], "type": _type(e.type), "span": _span(e.span)}
    if isinstance(e, T.Const):
        out["value"] = _value(e.value)
        out["text"] = e.text
        return out
    if isinstance(e, T.Load):
        out["name"], out["ref"] = e.name, e.kind
        return out
    if isinstance(e, (T.Arith, T.BoolOp)):
        out["op"] = e.op
    elif isinstance(e, T.Cmp):
        out["op"] = e.op
        r = e.rounding
        out["rounding"] = None if r is None else {"factor": r.factor, "decimals": r.decimals, "unit": r.unit_text}
    elif isinstance(e, T.IsState):
        out["state"] = e.state
    elif isinstance(e, T.InSet):
        out["codes"] = list(e.codes)
    elif isinstance(e, T.Func):
        out["func"] = e.name
    elif isinstance(e, T.VerdictSet):
        out["func"], out["rules"] = e.func, list(e.rules)
    elif isinstance(e, T.Up):
        out["child"] = e.child
    elif isinstance(e, T.Aggregate):
        out["func"], out["child"] = e.func, e.child
        out["children"] = [_expr(e.value), _expr(e.where), _expr(e.default)]    # fixed slots, null when absent
        return out
    elif isinstance(e, T.Lookup):
        out["table"], out["column"], out["latest"] = e.table, e.column, e.latest
        out["key_maps"] = [None if m is None else list(m) for m in e.key_maps]
    out["children"] = [_expr(c) for c in T.texpr_children(e)]
    return out


def _diagnostic(d: Diagnostic) -> dict:
    return {"code": d.code, "severity": d.severity, "message": d.message, "span": _span(d.span), "help": d.help,
            "notes": [{"span": _span(n.span), "message": n.message} for n in d.notes]}


def _node(n) -> list:
    return [n[0], n[1]]


def to_ir(ruleset) -> dict:
    """The IR of a compiled :class:`~normrules.api.Ruleset` as a JSON-ready dict."""
    c: CheckedRuleset = ruleset.checked
    meta = dict(c.meta)
    title = {"zh": meta.get("title_zh"), "en": meta.get("title_en")} if "title_zh" in meta else None
    header = c.module.header
    doc = {
        "normrules_ir": IR_VERSION,
        "ruleset": {
            "id": c.id, "version": c.version, "ref": c.ref,
            "status": _opt_str(meta.get("status")), "document": _opt_str(meta.get("document")),
            "published": _opt_str(meta.get("published")), "effective": _opt_str(meta.get("effective")),
            "title": title, "content_hash": c.content_hash,
            "fields": [[k, _value(v)] for k, v in c.meta],
            "span": _span(header.id_span), "header_span": _span(header.span),
        },
        "source": {"file": c.module.file, "text": c.module.source},
        "root": c.entity,
        "key": c.key,
        "entities": [{"name": e.name, "label": _label(e.label), "key": e.key, "parent": e.parent, "span": _span(e.span)}
                     for e in c.entities],
        "inputs": [_input(i) for i in c.inputs],
        "params": [{"name": p.name, "type": _type(p.type), "value": _expr(p.expr), "overridden": _expr(p.overridden),
                    "label": _label(p.label), "span": _span(p.decl.span), "name_span": _span(p.decl.name_span)}
                   for p in c.params],
        "tables": [_table(t) for t in c.tables],
        "values": [{"name": v.name, "entity": v.entity or c.entity, "type": _type(v.type), "expr": _expr(v.expr),
                    "label": _label(v.label), "declared_type": v.decl.type is not None,
                    "span": _span(v.decl.span), "name_span": _span(v.decl.name_span)} for v in c.values],
        "rules": [{"id": r.id, "entity": r.entity or c.entity, "label": _label(r.label), "clause": r.clause,
                   "severity": r.severity, "judge": r.judge, "applies": _expr(r.applies), "require": _expr(r.require),
                   "span": _span(r.decl.span), "name_span": _span(r.decl.name_span),
                   "severity_span": _span(r.decl.severity_span)} for r in c.rules],
        "results": [_result(res, c.entity) for res in c.results],
        "examples": [_example(ex) for ex in c.examples],
        "imports": [_import(alias, sub, c) for alias, sub in c.imports],
        "graph": _graph(ruleset.graph.graph),
        "plan": {"steps": [_node(n) for n in ruleset.plan.steps], "outputs": [_node(n) for n in ruleset.plan.outputs]},
        "warnings": [_diagnostic(d) for d in c.diagnostics],
    }
    return doc


def _opt_str(v):
    return None if v is None else str(v)


def _input(i: CInput) -> dict:
    rng = None
    d = i.decl.range
    if d is not None:
        rng = {"low": i.low, "low_inclusive": i.low_inclusive, "high": i.high, "high_inclusive": i.high_inclusive,
               "low_text": d.low.text, "high_text": d.high.text, "span": _span(d.span)}
    return {"name": i.name, "entity": i.entity, "type": _type(i.type), "range": rng, "label": _label(i.label),
            "span": _span(i.decl.span), "name_span": _span(i.decl.name_span)}


def _table(t: CTable) -> dict:
    return {"name": t.name, "label": _label(t.label),
            "keys": [{"name": n, "type": _type(ty)} for n, ty in t.keys],
            "columns": [{"name": n, "type": _type(ty)} for n, ty in t.columns],
            "rows": [[_value(v) for v in row] for row in t.rows],
            "provenance": [[k, v] for k, v in t.provenance], "file": t.file,
            "span": _span(t.decl.span), "name_span": _span(t.decl.name_span), "file_span": _span(t.decl.file_span)}


def _result(res: CResult, root: str) -> dict:
    spans = [b.span for b in res.decl.branches]
    return {"name": res.name, "entity": res.entity or root, "labels": list(res.labels), "label": _label(res.label),
            "branches": [{"label": index, "when": _expr(cond), "span": _span(spans[k] if k < len(spans) else None)}
                         for k, (index, cond) in enumerate(res.branches)],
            "span": _span(res.decl.span), "name_span": _span(res.decl.name_span)}


def _example(ex: CExample) -> dict:
    return {"name": ex.name, "given": [[n, _value(v)] for n, v in ex.given],
            "expect": [[n, _value(v)] for n, v in ex.expect],
            "children": [{"entity": e, "given": [[n, _value(v)] for n, v in rows]} for e, rows in ex.children],
            "span": _span(ex.decl.span)}


def _import(alias: str, sub, importer: CheckedRuleset) -> dict:
    decl = next((d for d in importer.module.items if isinstance(d, ast.ImportDecl) and d.alias == alias), None)
    overrides = [{"param": p.name, "value": _expr(p.expr), "original": _expr(p.overridden)}
                 for p in sub.checked.params if p.overridden is not None]
    return {"alias": alias, "ruleset": sub.checked.id, "version": sub.checked.version,
            "requested_version": decl.version if decl is not None else None,
            "span": _span(decl.span) if decl is not None else None,
            "overrides": overrides, "ir": to_ir(sub)}


def _graph(g) -> dict:
    nodes = list(g.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    return {"nodes": [_node(n) for n in nodes], "edges": [[index[a], index[b]] for a, b in g.edges]}


def dumps_ir(ruleset, *, indent: int | None = None) -> str:
    """The IR as JSON text (strict JSON: no NaN or Infinity literals)."""
    return json.dumps(to_ir(ruleset), ensure_ascii=False, allow_nan=False, indent=indent,
                      separators=None if indent is not None else (",", ":"))


def write_ir(ruleset, path: str | Path, *, indent: int | None = None) -> Path:
    """Write the IR of ``ruleset`` to ``path`` (UTF-8)."""
    p = Path(path)
    p.write_text(dumps_ir(ruleset, indent=indent) + "\n", "utf-8")
    return p


def compile_file(path: str | Path, output: str | Path | None = None, *, roots=None, as_of=None,
                 indent: int | None = None) -> dict:
    """Compile the ruleset at ``path`` and return its IR; also write it to ``output`` if given."""
    from .api import load

    rs = load(path, roots=roots, as_of=as_of)
    if output is not None:
        write_ir(rs, output, indent=indent)
    return to_ir(rs)


# =========================================================================== reading


class _LazyPintUnits:
    """The pint unit of a loaded IR unit, parsed on first use only (loading needs no unit registry)."""

    __slots__ = ("text", "_units")

    def __init__(self, text: str):
        self.text = text
        self._units = None

    def _real(self):
        if self._units is None:
            from .units import parse_unit

            self._units = parse_unit(self.text).pint_units
        return self._units

    def __getattr__(self, name):
        return getattr(self._real(), name)

    def __eq__(self, other):
        return self._real() == (other._real() if isinstance(other, _LazyPintUnits) else other)

    def __hash__(self):
        return hash(self.text)

    def __mul__(self, other):
        return self._real() * (other._real() if isinstance(other, _LazyPintUnits) else other)

    def __truediv__(self, other):
        return self._real() / (other._real() if isinstance(other, _LazyPintUnits) else other)

    def __str__(self):
        return str(self._real())

    def __repr__(self):
        return f"<unit {self.text} (from IR)>"


class _Reader:
    """Rebuilds typed nodes and checked items from one IR document (memoising types)."""

    # types and units are immutable: shared by every document read in the process
    units: dict[tuple, Unit] = {}
    types: dict[tuple, object] = {}

    # ------------------------------------------------------------------ leaves
    def span(self, d) -> Span | None:
        if d is None:
            return None
        return Span(d["file"], d["line"], d["col"], d["end_line"], d["end_col"], d.get("start", 0), d.get("end", 0))

    def label(self, d) -> ast.Label | None:
        return None if d is None else ast.Label(d["zh"], d.get("en"), self.span(d.get("span")))

    def unit(self, d) -> Unit:
        key = (d["text"], d["factor"])
        u = self.units.get(key)
        if u is None:
            from pint.util import UnitsContainer

            u = self.units[key] = Unit(d["text"], float(d["factor"]), UnitsContainer(d["dimension"]),
                                       _LazyPintUnits(d["text"]))
        return u

    def type(self, d):
        kind = d["kind"]
        if kind == "number":
            u = d["unit"]
            key = ("number", u["text"], u["factor"])
        elif kind == "text":
            key = ("text", tuple(d["categories"]))
        elif kind == "label":
            key = ("label", tuple(d["labels"]))
        elif kind == "date":
            key = ("date", d["precision"])
        else:
            key = (kind,)
        t = self.types.get(key)
        if t is not None:
            return t
        if kind == "number":
            t = T.NumT(self.unit(d["unit"]))
        elif kind == "boolean":
            t = T.BoolT()
        elif kind == "text":
            t = T.TextT(tuple(d["categories"]))
        elif kind == "date":
            t = T.DateT(d["precision"])
        elif kind == "verdict":
            t = T.VerdictT()
        elif kind == "label":
            t = T.LabelT(tuple(d["labels"]))
        elif kind == "error":
            t = T.ErrorT()
        else:
            raise IRError(f"unknown type kind `{kind}`")
        self.types[key] = t
        return t

    # ------------------------------------------------------------------ expressions
    def expr(self, d):
        if d is None:
            return None
        node = d["node"]
        typ = self.type(d["type"])
        span = self.span(d["span"])
        if node == "const":
            return T.Const(typ, _unvalue(d["value"]), span, d.get("text", ""))
        if node == "load":
            return T.Load(typ, d["name"], d["ref"], span)
        kids = [self.expr(c) for c in d.get("children", ())]
        if node == "neg":
            return T.Neg(typ, kids[0], span)
        if node == "arith":
            return T.Arith(typ, d["op"], kids[0], kids[1], span)
        if node == "cmp":
            r = d.get("rounding")
            rounding = None if r is None else T.Rounding(float(r["factor"]), int(r["decimals"]), r["unit"])
            return T.Cmp(typ, d["op"], kids[0], kids[1], span, rounding)
        if node == "bool_op":
            return T.BoolOp(typ, d["op"], kids[0], kids[1], span)
        if node == "not":
            return T.NotOp(typ, kids[0], span)
        if node == "is_state":
            return T.IsState(typ, kids[0], d["state"], span)
        if node == "in_set":
            return T.InSet(typ, kids[0], tuple(d["codes"]), span)
        if node == "if":
            return T.IfElse(typ, kids[0], kids[1], kids[2], span)
        if node == "case":
            pairs = tuple((kids[i], kids[i + 1]) for i in range(0, len(kids) - 1, 2))
            return T.CaseWhen(typ, pairs, kids[-1], span)
        if node == "func":
            return T.Func(typ, d["func"], tuple(kids), span)
        if node == "verdict_set":
            return T.VerdictSet(typ, d["func"], tuple(d["rules"]), span)
        if node == "up":
            return T.Up(typ, kids[0], d["child"], span)
        if node == "aggregate":
            value, where, default = (kids + [None, None, None])[:3]
            return T.Aggregate(typ, d["func"], d["child"], value, where, default, span)
        if node == "lookup":
            maps = tuple(None if m is None else tuple(m) for m in d["key_maps"])
            return T.Lookup(typ, d["table"], tuple(kids), maps, d.get("latest"), d["column"], span)
        raise IRError(f"unknown expression node `{node}`")

    # ------------------------------------------------------------------ declarations
    def type_spec(self, typ, span) -> ast.TypeSpec:
        if isinstance(typ, T.NumT):
            if typ.unit.text == "1":
                return ast.TypeSpec("number", span=span)
            return ast.TypeSpec("unit", unit=typ.unit.text, span=span)
        if isinstance(typ, T.BoolT):
            return ast.TypeSpec("boolean", span=span)
        if isinstance(typ, T.TextT):
            return ast.TypeSpec("text", categories=typ.categories, span=span)
        if isinstance(typ, T.DateT):
            return ast.TypeSpec("date", precision=typ.precision, span=span)
        return ast.TypeSpec("number", span=span)

    def input(self, d) -> CInput:
        typ = self.type(d["type"])
        span, name_span = self.span(d["span"]), self.span(d["name_span"])
        label = self.label(d.get("label"))
        r = d.get("range")
        rng = None
        low = high = None
        lo_inc = hi_inc = True
        if r is not None:
            low, high = r.get("low"), r.get("high")
            lo_inc, hi_inc = r["low_inclusive"], r["high_inclusive"]
            factor = typ.unit.factor if isinstance(typ, T.NumT) else 1.0
            rng = ast.Range(ast.Bound(-math.inf if low is None else low / factor, lo_inc, r.get("low_text", "-inf")),
                            ast.Bound(math.inf if high is None else high / factor, hi_inc, r.get("high_text", "inf")),
                            self.span(r.get("span")) or span)
        entity = d.get("entity") or ""
        decl = ast.InputDecl(entity or None, d["name"], self.type_spec(typ, name_span), rng, label, span, name_span)
        return CInput(d["name"], typ, low, lo_inc, high, hi_inc, label, decl, entity)

    def param(self, d) -> CParam:
        typ = self.type(d["type"])
        span, name_span = self.span(d["span"]), self.span(d["name_span"])
        label = self.label(d.get("label"))
        decl = ast.ParamDecl(d["name"], self.type_spec(typ, name_span), label, None, span, name_span)
        return CParam(d["name"], typ, self.expr(d["value"]), label, decl, self.expr(d.get("overridden")))

    def table(self, d) -> CTable:
        span, name_span = self.span(d["span"]), self.span(d["name_span"])
        label = self.label(d.get("label"))
        keys = tuple((k["name"], self.type(k["type"])) for k in d["keys"])
        cols = tuple((k["name"], self.type(k["type"])) for k in d["columns"])
        rows = tuple(tuple(_unvalue(v) for v in row) for row in d["rows"])
        prov = tuple((k, v) for k, v in d.get("provenance", ()))
        decl = ast.TableDecl(d["name"], label, (), (), (), d.get("file"), self.span(d.get("file_span")), prov, span,
                             name_span)
        return CTable(d["name"], label, keys, cols, rows, prov, d.get("file"), decl)

    def value(self, d, root: str) -> CValue:
        typ = self.type(d["type"])
        span, name_span = self.span(d["span"]), self.span(d["name_span"])
        label = self.label(d.get("label"))
        entity = d.get("entity") or root
        spec = self.type_spec(typ, name_span) if d.get("declared_type") else None
        decl = ast.LetDecl(entity, d["name"], spec, label, None, span, name_span)
        return CValue(d["name"], typ, self.expr(d["expr"]), label, decl, entity)

    def rule(self, d, root: str) -> CRule:
        span, name_span = self.span(d["span"]), self.span(d["name_span"])
        label = self.label(d.get("label"))
        judge = ast.Judge(d["judge"], None, span) if d.get("judge", "full") != "full" else None
        decl = ast.RuleDecl(d["id"], label, d.get("clause"), d["severity"], self.span(d.get("severity_span")), None, None,
                            judge, span, name_span)
        return CRule(d["id"], label, d.get("clause"), d["severity"], self.expr(d.get("applies")),
                     self.expr(d["require"]), d.get("judge", "full"), decl, d.get("entity") or root)

    def result(self, d, root: str) -> CResult:
        span, name_span = self.span(d["span"]), self.span(d["name_span"])
        label = self.label(d.get("label"))
        labels = tuple(d["labels"])
        branches = tuple((int(b["label"]), self.expr(b.get("when"))) for b in d["branches"])
        decl_branches = tuple(ast.Branch(labels[b["label"]], None, self.span(b.get("span")) or span)
                              for b in d["branches"])
        entity = d.get("entity") or root
        decl = ast.ResultDecl(entity, d["name"], label, decl_branches, span, name_span)
        return CResult(d["name"], labels, branches, label, decl, entity)

    def example(self, d) -> CExample:
        span = self.span(d["span"])
        decl = ast.ExampleDecl(d["name"], (), (), span)
        given = tuple((n, _unvalue(v)) for n, v in d["given"])
        expect = tuple((n, _unvalue(v)) for n, v in d["expect"])
        children = tuple((c["entity"], tuple((n, _unvalue(v)) for n, v in c["given"])) for c in d.get("children", ()))
        return CExample(d["name"], given, expect, decl, children)

    def diagnostic(self, d) -> Diagnostic:
        return Diagnostic(d["code"], d["message"], self.span(d["span"]), d.get("help"),
                          tuple(Note(self.span(n["span"]), n["message"]) for n in d.get("notes", ())),
                          d.get("severity", "warning"))


def _unvalue(x):
    if isinstance(x, list):
        return tuple(_unvalue(v) for v in x)
    if isinstance(x, dict):
        f = x.get("float")
        if f == "nan":
            return math.nan
        if f == "inf":
            return math.inf
        if f == "-inf":
            return -math.inf
        raise IRError(f"unexpected object {x!r} where a constant was expected")
    return x


def _ruleset_from_ir(doc: dict):
    import networkx as nx

    from .api import Ruleset
    from .graph import RuleGraph
    from .plan import Plan

    version = doc.get("normrules_ir") if isinstance(doc, dict) else None
    if version != IR_VERSION:
        raise IRError(f"not normrules IR version {IR_VERSION} (found `normrules_ir`: {version!r})")
    rd = _Reader()
    meta_doc = doc["ruleset"]
    root = doc["root"]
    source = doc.get("source") or {}
    file = source.get("file") or "<ir>"
    text = source.get("text") or ""
    meta = tuple((k, _unvalue(v)) for k, v in meta_doc.get("fields", ()))
    entities = tuple(ast.EntityDecl(e["name"], rd.label(e.get("label")), e["key"], rd.span(e["span"]), e.get("parent"))
                     for e in doc["entities"])
    id_span = rd.span(meta_doc.get("span")) or Span(file, 1, 1, 1, 1)
    header = ast.Header(meta_doc["id"], id_span, tuple(ast.Meta(k, v, id_span) for k, v in meta),
                        rd.span(meta_doc.get("header_span")) or id_span)
    imports = tuple((imp["alias"], _ruleset_from_ir(imp["ir"])) for imp in doc.get("imports", ()))
    import_decls = tuple(ast.ImportDecl(imp["ruleset"], imp.get("requested_version"), imp["alias"],
                                        rd.span(imp.get("span")) or id_span, rd.span(imp.get("span")) or id_span)
                         for imp in doc.get("imports", ()))
    module = ast.Module(file, text, header, entities + import_decls)
    checked = CheckedRuleset(
        id=meta_doc["id"],
        meta=meta,
        entity=root,
        key=doc["key"],
        inputs=tuple(rd.input(i) for i in doc["inputs"]),
        values=tuple(rd.value(v, root) for v in doc["values"]),
        rules=tuple(rd.rule(r, root) for r in doc["rules"]),
        results=tuple(rd.result(r, root) for r in doc["results"]),
        examples=tuple(rd.example(x) for x in doc.get("examples", ())),
        module=module,
        content_hash=meta_doc["content_hash"],
        diagnostics=tuple(rd.diagnostic(d) for d in doc.get("warnings", ())),
        params=tuple(rd.param(p) for p in doc.get("params", ())),
        tables=tuple(rd.table(t) for t in doc.get("tables", ())),
        entities=entities,
        imports=imports,
    )
    nodes = [tuple(n) for n in doc["graph"]["nodes"]]
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from((nodes[a], nodes[b]) for a, b in doc["graph"]["edges"])
    graph = RuleGraph(checked, nx.freeze(g))
    plan = Plan(graph, tuple(tuple(n) for n in doc["plan"]["steps"]), tuple(tuple(n) for n in doc["plan"]["outputs"]))
    sources = SourceMap()
    if text:
        sources.add(file, text)
    return Ruleset(checked, graph, plan, sources)


def load_ir(path_or_dict) -> "Ruleset":  # noqa: F821 - the Ruleset of normrules.api
    """Rebuild a :class:`~normrules.api.Ruleset` from IR: a dict, JSON text, or a path to a ``.json`` file.

    Nothing is parsed, resolved or type-checked: the typed expression trees, the graph and the
    plan are read back as they were written. Raises :class:`IRError` for a document of another
    IR version.
    """
    collecting = gc.isenabled()
    gc.disable()                  # many small objects, none of them garbage: collecting only costs time
    try:
        doc = _read_document(path_or_dict)
    except BaseException:
        if collecting:
            gc.enable()
        raise
    try:
        return _ruleset_from_ir(doc)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise IRError(f"malformed normrules IR: {type(exc).__name__}: {exc}") from None
    finally:
        if collecting:
            gc.enable()


def _read_document(path_or_dict) -> dict:
    doc = path_or_dict
    if isinstance(doc, (str, Path)) and not (isinstance(doc, str) and doc.lstrip().startswith("{")):
        doc = Path(doc).read_text("utf-8")
    if isinstance(doc, (bytes, bytearray)):
        doc = doc.decode("utf-8")
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as exc:
            raise IRError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise IRError("normrules IR is a JSON object")
    return doc


def ir_schema() -> dict:
    """The JSON Schema of the IR (``compiler/ir.schema.json``)."""
    return json.loads(SCHEMA_PATH.read_text("utf-8"))


# =========================================================================== the cache

_CACHE: dict[tuple, object] = {}


def _sources_unchanged(ruleset) -> bool:
    """Whether every imported ruleset's file still has the text it was compiled from."""
    for _, sub in ruleset.checked.imports:
        p = Path(sub.checked.module.file)
        try:
            text = p.read_text("utf-8")
        except OSError:
            return False
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != sub.checked.content_hash or not _sources_unchanged(sub):
            return False
    return True


def compile_cached(path: str | Path, *, roots=None, as_of=None):
    """A compiled ruleset, from an in-memory cache keyed by content hash.

    ``path`` is a ruleset (``.nr``: keyed by the sha256 of its text, plus ``roots`` and
    ``as_of``; an entry is dropped when an imported ruleset's file has changed since) or an IR
    file (``.json``: keyed by the sha256 of the file). A miss compiles (or loads the IR) and
    remembers the result; :func:`clear_cache` forgets everything.
    """
    p = Path(path)
    raw = p.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if p.suffix.lower() == ".json":
        key = ("ir", digest)
        hit = _CACHE.get(key)
        if hit is None:
            hit = _CACHE[key] = load_ir(json.loads(raw.decode("utf-8")))
        return hit
    key = ("nr", digest, str(as_of) if as_of is not None else None,
           tuple(str(r) for r in roots) if roots is not None else None)
    hit = _CACHE.get(key)
    if hit is not None and _sources_unchanged(hit):
        return hit
    from .api import compile_text

    text = raw.decode("utf-8")
    hit = _CACHE[key] = compile_text(text, str(p), roots=roots, as_of=as_of)
    return hit


def clear_cache() -> None:
    """Forget every ruleset :func:`compile_cached` remembers."""
    _CACHE.clear()


def cache_size() -> int:
    return len(_CACHE)


# =========================================================================== the command


def __getattr__(name: str):
    if name == "compile_command":          # built on first use: `import normrules` does not need click
        cmd = _make_compile_command()
        globals()["compile_command"] = cmd
        return cmd
    raise AttributeError(name)


def _make_compile_command():
    import click

    @click.command(name="compile")
    @click.argument("ruleset", type=click.Path(exists=True, dir_okay=False))
    @click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                  help="Write the IR here (written atomically). Default: standard output.")
    @click.option("--as-of", "as_of", metavar="DATE",
                  help="Reporting date (YYYY-MM-DD) that picks, for imports without a version, the revision in "
                       "force on that date; the chosen revisions are fixed in the IR. Default: today.")
    @click.option("--rulesets", "roots", multiple=True, type=click.Path(file_okay=False),
                  help="More folders to find imported rulesets in (besides the shipped rulesets/ and $NORMRULES_PATH).")
    @click.option("--indent", type=click.IntRange(0, 8), help="Pretty-print with this indentation. Default: compact.")
    def compile_command(ruleset, output, as_of, roots, indent):
        """Compile RULESET into its IR: versioned, language-neutral JSON of the checked and planned
        ruleset (typed expression trees with canonical constants, tables, the plan, examples and
        imported rulesets inlined), described by compiler/ir.schema.json. Load it in Python with
        normrules.ir.load_ir (no parsing or checking) or in any other language.

        \b
        Example:
          normrules compile rulesets/gb/zero_carbon_park.nr -o park.ir.json
        """
        import click as _click

        from .atomic import write_text_atomic
        from .cli import _load_or_exit

        rs = _load_or_exit(ruleset, roots, as_of)
        text = dumps_ir(rs, indent=indent) + "\n"
        if output is None:
            _click.echo(text, nl=False)
        else:
            write_text_atomic(output, text)
            _click.echo(f"{rs.ref} (sha256 {rs.content_hash[:12]}) → {output} ({len(text.encode('utf-8'))} bytes)",
                        err=True)

    return compile_command


__all__ = ["IR_VERSION", "IRError", "to_ir", "dumps_ir", "write_ir", "compile_file", "load_ir", "ir_schema",
           "compile_cached", "clear_cache", "cache_size"]
