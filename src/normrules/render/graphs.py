"""The dependency graph of a ruleset drawn as DOT, Mermaid or SVG.

Inputs → values → rules → results, left to right: one node per node of the
:class:`~normrules.graph.RuleGraph` (``(kind, name)``), an edge ``a → b`` where ``b`` reads ``a``.
Shapes and colours follow the kind (inputs are pills, values boxes, rules hexagons — red for
mandatory, amber and dashed for guidance —, results double-bordered boxes); a rule node shows its
id, clause and severity.

The SVG is laid out here, without Graphviz, deterministically: each node gets a column (its kind's
column, pushed right of every node it reads, so edges always run left to right; empty columns are
dropped), nodes in a column are ordered by the mean height of the nodes they read (declaration order
breaks ties), and edges are cubic curves from the right side of one node to the left side of the
other. Text widths are estimated (a CJK character is one em, anything else 0.6 em), so the same
ruleset always gives the same bytes. Every node is one ``<g class="node" id="node-<kind>-<name>">``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from xml.sax.saxutils import escape as _xml_escape

import networkx as nx

KINDS = ("input", "param", "table", "value", "rule", "result")
_BASE_COLUMN = {"input": 0, "param": 0, "table": 0, "value": 1, "rule": 2, "result": 3}

KIND_NAMES = {
    "zh": {"input": "输入", "param": "参数", "table": "查找表", "value": "派生值", "rule": "规则", "result": "结论"},
    "en": {"input": "input", "param": "parameter", "table": "lookup table", "value": "derived value",
           "rule": "rule", "result": "result"},
}
SEVERITY_NAMES = {
    "zh": {"mandatory": "约束性", "guidance": "引导性"},
    "en": {"mandatory": "mandatory", "guidance": "guidance"},
}
_CLAUSE_WORD = {"zh": "条款", "en": "clause"}

# fill, stroke, text colour per kind (guidance rules get their own)
_STYLE = {
    "input": ("#e0f2fe", "#0369a1"),
    "param": ("#f1f5f9", "#475569"),
    "table": ("#f1f5f9", "#475569"),
    "value": ("#dcfce7", "#15803d"),
    "rule": ("#fee2e2", "#b91c1c"),
    "rule-guidance": ("#fef3c7", "#b45309"),
    "result": ("#ede9fe", "#6d28d9"),
    "other": ("#f8fafc", "#475569"),
}
_DOT_SHAPE = {"input": "ellipse", "param": "box", "table": "cylinder", "value": "box", "rule": "hexagon",
              "result": "box"}

FONT_FAMILY = ("'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', "
               "'WenQuanYi Micro Hei', 'Helvetica Neue', Arial, sans-serif")


def label_text(label, lang: str) -> str:
    """A bilingual :class:`~normrules.ast.Label` (or plain text) in ``lang``, falling back to Chinese."""
    if label is None:
        return ""
    if isinstance(label, str):
        return label
    if lang == "en" and getattr(label, "en", None):
        return label.en
    return getattr(label, "zh", "") or ""


# ---------------------------------------------------------------------------- model


@dataclass(frozen=True)
class GNode:
    kind: str
    name: str
    title: str                 # first line, bold: the name or rule id
    lines: tuple[str, ...]     # further lines: label, clause, unit
    style: str                 # key of _STYLE
    tooltip: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)

    @property
    def dom_id(self) -> str:
        return f"node-{self.kind}-{self.name}"


def _declaration_order(checked) -> dict[tuple[str, str], int]:
    order: dict[tuple[str, str], int] = {}
    groups = [("input", getattr(checked, "inputs", ())), ("param", getattr(checked, "params", ())),
              ("table", getattr(checked, "tables", ())), ("value", getattr(checked, "values", ())),
              ("rule", getattr(checked, "rules", ())), ("result", getattr(checked, "results", ()))]
    for kind, items in groups:
        for item in items or ():
            name = getattr(item, "name", None) or getattr(item, "id", None)
            if name is not None:
                order.setdefault((kind, name), len(order))
    return order


def _items(checked) -> dict[tuple[str, str], object]:
    out = {}
    for kind, attr in (("input", "inputs"), ("param", "params"), ("table", "tables"), ("value", "values"),
                       ("rule", "rules"), ("result", "results")):
        for item in getattr(checked, attr, ()) or ():
            name = getattr(item, "name", None) or getattr(item, "id", None)
            out[(kind, name)] = item
    return out


def _unit_of(item) -> str:
    typ = getattr(item, "type", None)
    unit = getattr(typ, "unit", None)
    text = getattr(unit, "text", None)
    return "" if text in (None, "1") else text


def graph_nodes(ruleset, lang: str = "zh") -> list[GNode]:
    """One :class:`GNode` per node of the ruleset's graph, in declaration order."""
    checked, g = ruleset.checked, ruleset.graph.graph
    order = _declaration_order(checked)
    items = _items(checked)
    nodes = []
    for key in sorted(g.nodes, key=lambda n: (order.get(n, len(order)), n)):
        kind, name = key
        item = items.get(key)
        label = label_text(getattr(item, "label", None), lang)
        lines: list[str] = []
        style = kind if kind in _STYLE else "other"
        if kind == "rule" and item is not None:
            severity = getattr(item, "severity", "mandatory")
            clause = getattr(item, "clause", None)
            sev = SEVERITY_NAMES[lang].get(severity, severity)
            lines.append(f"{_CLAUSE_WORD[lang]} {clause} · {sev}" if clause else sev)
            if severity == "guidance":
                style = "rule-guidance"
        lines.extend(wrap(label, 16))
        if kind in ("input", "value"):
            unit = _unit_of(item)
            if unit:
                lines.append(unit)
        tooltip = f"{KIND_NAMES[lang].get(kind, kind)} {name}" + (f" — {label}" if label else "")
        nodes.append(GNode(kind, name, name, tuple(lines), style, tooltip))
    return nodes


# ---------------------------------------------------------------------------- text metrics


def _char_em(ch: str) -> float:
    return 1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.6


def text_width(text: str, size: float) -> float:
    """Estimated rendered width of ``text`` at font size ``size`` (deterministic, font-independent)."""
    return sum(_char_em(c) for c in text) * size


def wrap(text: str, max_em: float) -> list[str]:
    """Break ``text`` into lines of at most ``max_em`` ems: at spaces for Latin text, anywhere in CJK."""
    if not text:
        return []
    tokens = re.findall(r"[A-Za-z0-9_.,;:!?'\"()\-/%°]+\s*|\s+|.", text)
    lines: list[str] = []
    current, width = "", 0.0
    for tok in tokens:
        w = sum(_char_em(c) for c in tok.rstrip())
        if current and width + w > max_em:
            lines.append(current.rstrip())
            current, width = "", 0.0
            if tok.isspace():
                continue
        current += tok
        width += sum(_char_em(c) for c in tok)
    if current.strip():
        lines.append(current.rstrip())
    return lines


# ---------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Placed:
    node: GNode
    column: int
    x: float
    y: float
    width: float
    height: float


_TITLE_SIZE, _LINE_SIZE = 13.0, 11.0
_TITLE_LEAD, _LINE_LEAD = 17.0, 14.5
_PAD_X, _PAD_Y = 12.0, 8.0
_COL_GAP, _ROW_GAP, _MARGIN, _LEGEND_H = 80.0, 18.0, 20.0, 40.0


def _columns(ruleset, nodes: list[GNode]) -> dict[tuple[str, str], int]:
    g = ruleset.graph.graph
    rank = {n.key: i for i, n in enumerate(nodes)}
    column: dict[tuple[str, str], int] = {}
    for key in nx.lexicographical_topological_sort(g, key=lambda n: rank[n]):
        base = _BASE_COLUMN.get(key[0], 1)
        column[key] = max([base] + [column[p] + 1 for p in g.predecessors(key)])
    used = sorted(set(column.values()))
    squeeze = {c: i for i, c in enumerate(used)}
    return {k: squeeze[c] for k, c in column.items()}


def _node_size(n: GNode) -> tuple[float, float]:
    width = max([text_width(n.title, _TITLE_SIZE)] + [text_width(line, _LINE_SIZE) for line in n.lines])
    extra = 28.0 if n.kind == "rule" else (16.0 if n.kind == "input" else 0.0)
    height = 2 * _PAD_Y + _TITLE_LEAD + _LINE_LEAD * len(n.lines)
    return max(96.0, width + 2 * _PAD_X + extra), height


def layout(ruleset, lang: str = "zh") -> tuple[list[Placed], float, float]:
    """Place every node: ``(placed nodes, total width, total height)``."""
    nodes = graph_nodes(ruleset, lang)
    g = ruleset.graph.graph
    column = _columns(ruleset, nodes)
    n_cols = max(column.values(), default=-1) + 1
    by_col: list[list[GNode]] = [[] for _ in range(n_cols)]
    for n in nodes:
        by_col[column[n.key]].append(n)
    sizes = {n.key: _node_size(n) for n in nodes}
    col_width = [max((sizes[n.key][0] for n in col), default=0.0) for col in by_col]
    col_height = []
    centre: dict[tuple[str, str], float] = {}
    decl = {n.key: i for i, n in enumerate(nodes)}
    # order each column by the mean height of what its nodes read (barycentre), declaration order on ties
    for c, col in enumerate(by_col):
        if c > 0:
            def bary(n: GNode) -> float:
                ys = [centre[p] for p in g.predecessors(n.key) if p in centre]
                return sum(ys) / len(ys) if ys else float("inf")
            col.sort(key=lambda n: (bary(n), decl[n.key]))
        y = 0.0
        for n in col:
            centre[n.key] = y + sizes[n.key][1] / 2
            y += sizes[n.key][1] + _ROW_GAP
        col_height.append(max(0.0, y - _ROW_GAP))
    total_h = max(col_height, default=0.0)
    placed = []
    x = _MARGIN
    for c, col in enumerate(by_col):
        offset = _MARGIN + _LEGEND_H + (total_h - col_height[c]) / 2
        y = offset
        for n in col:
            w, h = col_width[c], sizes[n.key][1]
            placed.append(Placed(n, c, x, y, w, h))
            y += h + _ROW_GAP
        x += col_width[c] + _COL_GAP
    width = max(x - _COL_GAP + _MARGIN, 2 * _MARGIN + 420.0)
    height = total_h + 2 * _MARGIN + _LEGEND_H
    return placed, width, height


# ---------------------------------------------------------------------------- SVG


def _num(x: float) -> str:
    r = round(x, 1)
    return str(int(r)) if r == int(r) else f"{r:.1f}"


def _esc(text: str) -> str:
    return _xml_escape(text, {'"': "&quot;"})


def _shape(p: Placed) -> str:
    fill, stroke = _STYLE[p.node.style]
    x, y, w, h = p.x, p.y, p.width, p.height
    dash = ' stroke-dasharray="5 3"' if p.node.style == "rule-guidance" else ""
    common = f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"{dash}'
    kind = p.node.kind
    if kind == "input":
        r = min(h / 2, 18.0)
        return f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" rx="{_num(r)}" {common}/>'
    if kind == "rule":
        d = 12.0
        pts = [(x + d, y), (x + w - d, y), (x + w, y + h / 2), (x + w - d, y + h), (x + d, y + h), (x, y + h / 2)]
        return f'<polygon points="{" ".join(f"{_num(a)},{_num(b)}" for a, b in pts)}" {common}/>'
    if kind == "result":
        return (f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" rx="3" {common}/>'
                f'<rect x="{_num(x + 3)}" y="{_num(y + 3)}" width="{_num(w - 6)}" height="{_num(h - 6)}" rx="2" '
                f'fill="none" stroke="{stroke}" stroke-width="1"/>')
    return f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" rx="4" {common}/>'


def _node_svg(p: Placed) -> str:
    n = p.node
    _, stroke = _STYLE[n.style]
    cx = p.x + p.width / 2
    y = p.y + _PAD_Y + _TITLE_SIZE
    parts = [f'<g class="node node-{_esc(n.kind)}" id="{_esc(n.dom_id)}" data-kind="{_esc(n.kind)}" '
             f'data-name="{_esc(n.name)}">',
             f"<title>{_esc(n.tooltip)}</title>",
             _shape(p),
             f'<text x="{_num(cx)}" y="{_num(y)}" text-anchor="middle" font-size="{_num(_TITLE_SIZE)}" '
             f'font-weight="bold" fill="#0f172a">{_esc(n.title)}</text>']
    y += _TITLE_LEAD - _TITLE_SIZE + _LINE_SIZE
    for i, line in enumerate(n.lines):
        colour = stroke if (n.kind == "rule" and i == 0) else "#334155"
        parts.append(f'<text x="{_num(cx)}" y="{_num(y)}" text-anchor="middle" font-size="{_num(_LINE_SIZE)}" '
                     f'fill="{colour}">{_esc(line)}</text>')
        y += _LINE_LEAD
    parts.append("</g>")
    return "".join(parts)


def _legend(lang: str, kinds: list[str]) -> str:
    parts = ['<g class="legend">']
    x = _MARGIN
    y = _MARGIN
    names = KIND_NAMES[lang]
    entries = []
    for k in kinds:
        if k == "rule":
            entries.append(("rule", f"{names['rule']}（{SEVERITY_NAMES[lang]['mandatory']}）" if lang == "zh"
                            else f"{names['rule']} ({SEVERITY_NAMES[lang]['mandatory']})"))
            entries.append(("rule-guidance", f"{names['rule']}（{SEVERITY_NAMES[lang]['guidance']}）" if lang == "zh"
                            else f"{names['rule']} ({SEVERITY_NAMES[lang]['guidance']})"))
        else:
            entries.append((k if k in _STYLE else "other", names.get(k, k)))
    for style, text in entries:
        fill, stroke = _STYLE[style]
        dash = ' stroke-dasharray="4 2"' if style == "rule-guidance" else ""
        parts.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="14" height="14" rx="3" fill="{fill}" '
                     f'stroke="{stroke}" stroke-width="1.5"{dash}/>')
        parts.append(f'<text x="{_num(x + 20)}" y="{_num(y + 11.5)}" font-size="12" fill="#334155">{_esc(text)}</text>')
        x += 20 + text_width(text, 12) + 18
    parts.append("</g>")
    return "".join(parts)


def _gap_y(column: list[Placed], want: float) -> float:
    """The free horizontal lane through a column (between two nodes, above or below them) nearest ``want``."""
    lanes = [column[0].y - _ROW_GAP / 2 - 4]
    lanes += [(a.y + a.height + b.y) / 2 for a, b in zip(column, column[1:])]
    lanes.append(column[-1].y + column[-1].height + _ROW_GAP / 2 + 4)
    return min(lanes, key=lambda y: (abs(y - want), y))


def _edge_path(p: Placed, q: Placed, columns: dict[int, list[Placed]]) -> str:
    """A cubic curve from the right side of ``p`` to the left side of ``q``; an edge that skips columns
    crosses each column in between straight through the free lane nearest its course."""
    x1, y1 = p.x + p.width, p.y + p.height / 2
    x2, y2 = q.x - 1, q.y + q.height / 2
    points = [(x1, y1)]
    for c in range(p.column + 1, q.column):
        col = columns[c]
        left, right = col[0].x - 6, col[0].x + col[0].width + 6
        t = ((left + right) / 2 - x1) / (x2 - x1) if x2 != x1 else 0.5
        y = _gap_y(col, y1 + (y2 - y1) * t)
        points += [(left, y), (right, y)]
    points.append((x2, y2))
    d = [f"M {_num(x1)} {_num(y1)}"]
    for i in range(0, len(points) - 1, 2):
        (xa, ya), (xb, yb) = points[i], points[i + 1]
        dx = max((xb - xa) / 2, 12.0)
        d.append(f"C {_num(xa + dx)} {_num(ya)}, {_num(xb - dx)} {_num(yb)}, {_num(xb)} {_num(yb)}")
        if i + 2 < len(points):
            d.append(f"L {_num(points[i + 2][0])} {_num(points[i + 2][1])}")
    return " ".join(d)


def to_svg(ruleset, lang: str = "zh") -> str:
    """A standalone SVG document of the dependency graph (no XML declaration: embeddable in HTML)."""
    placed, width, height = layout(ruleset, lang)
    where = {p.node.key: p for p in placed}
    g = ruleset.graph.graph
    title = f"{ruleset.checked.id} — " + ("依赖关系图" if lang == "zh" else "dependency graph")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="normrules-graph" width="{_num(width)}" '
           f'height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" role="img" '
           f'aria-label="{_esc(title)}" font-family="{_esc(FONT_FAMILY)}">',
           f"<title>{_esc(title)}</title>",
           '<defs><marker id="nr-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#64748b"/></marker></defs>',
           f'<rect width="{_num(width)}" height="{_num(height)}" fill="#ffffff"/>']
    kinds = [k for k in KINDS if any(p.node.kind == k for p in placed)]
    kinds += sorted({p.node.kind for p in placed} - set(kinds))
    out.append(_legend(lang, kinds))
    out.append('<g class="edges" fill="none" stroke="#64748b" stroke-width="1.2">')
    order = {p.node.key: i for i, p in enumerate(placed)}
    columns: dict[int, list[Placed]] = {}
    for p in placed:
        columns.setdefault(p.column, []).append(p)
    for p in placed:
        for succ in sorted(g.successors(p.node.key), key=lambda k: order[k]):
            q = where[succ]
            out.append(f'<path class="edge" data-from="{_esc(p.node.dom_id)}" data-to="{_esc(q.node.dom_id)}" '
                       f'd="{_edge_path(p, q, columns)}" marker-end="url(#nr-arrow)"/>')
    out.append("</g>")
    out.append('<g class="nodes">')
    out.extend(_node_svg(p) for p in placed)
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------- DOT


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(ruleset, lang: str = "zh") -> str:
    """Graphviz DOT text (left to right)."""
    nodes = graph_nodes(ruleset, lang)
    g = ruleset.graph.graph
    ident = {n.key: f"{n.kind}:{n.name}" for n in nodes}
    out = [f"digraph {_dot_str(ruleset.checked.id)} {{",
           "  rankdir=LR;",
           "  newrank=true;",
           f'  graph [fontname={_dot_str("Noto Sans CJK SC")}, nodesep=0.25, ranksep=0.9];',
           f'  node [fontname={_dot_str("Noto Sans CJK SC")}, fontsize=11, style=filled, penwidth=1.5];',
           '  edge [color="#64748b", arrowsize=0.7];']
    for n in nodes:
        fill, stroke = _STYLE[n.style]
        attrs = [f"label={_dot_str(chr(10).join((n.title,) + n.lines))}",
                 f"shape={_DOT_SHAPE.get(n.kind, 'box')}",
                 f'fillcolor="{fill}"', f'color="{stroke}"']
        if n.style == "rule-guidance":
            attrs.append('style="filled,dashed"')
        elif n.kind == "value":
            attrs.append('style="filled,rounded"')
        if n.kind == "result":
            attrs.append("peripheries=2")
        out.append(f"  {_dot_str(ident[n.key])} [{', '.join(attrs)}];")
    inputs = [n for n in nodes if n.kind == "input"]
    if inputs:
        out.append("  { rank=min; " + " ".join(_dot_str(ident[n.key]) + ";" for n in inputs) + " }")
    order = {n.key: i for i, n in enumerate(nodes)}
    for n in nodes:
        for succ in sorted(g.successors(n.key), key=lambda k: order[k]):
            out.append(f"  {_dot_str(ident[n.key])} -> {_dot_str(ident[succ])};")
    out.append("}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------- Mermaid

_MERMAID_SHAPE = {"input": ('(["', '"])'), "value": ('["', '"]'), "rule": ('{{"', '"}}'),
                  "result": ('[["', '"]]'), "table": ('[("', '")]'), "param": ('["', '"]')}


def _mermaid_text(text: str) -> str:
    text = text.replace("#", "#35;")
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(ruleset, lang: str = "zh") -> str:
    """A Mermaid ``flowchart LR``."""
    nodes = graph_nodes(ruleset, lang)
    g = ruleset.graph.graph
    ident: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for n in nodes:
        base = f"{n.kind}_" + re.sub(r"[^A-Za-z0-9_]", "_", n.name)
        candidate, i = base, 2
        while candidate in taken:
            candidate, i = f"{base}_{i}", i + 1
        taken.add(candidate)
        ident[n.key] = candidate
    out = ["flowchart LR"]
    for style in sorted({n.style for n in nodes}):
        fill, stroke = _STYLE[style]
        dash = ",stroke-dasharray:5 3" if style == "rule-guidance" else ""
        out.append(f"  classDef {style.replace('-', '_')} fill:{fill},stroke:{stroke},stroke-width:1.5px{dash};")
    for n in nodes:
        left, right = _MERMAID_SHAPE.get(n.kind, ('["', '"]'))
        text = "<br/>".join([f"<b>{_mermaid_text(n.title)}</b>"] + [_mermaid_text(t) for t in n.lines])
        out.append(f"  {ident[n.key]}{left}{text}{right}:::{n.style.replace('-', '_')}")
    order = {n.key: i for i, n in enumerate(nodes)}
    for n in nodes:
        for succ in sorted(g.successors(n.key), key=lambda k: order[k]):
            out.append(f"  {ident[n.key]} --> {ident[succ]}")
    return "\n".join(out) + "\n"


def render_graph(ruleset, fmt: str = "svg", lang: str = "zh") -> str:
    """The dependency graph of ``ruleset`` as ``dot``, ``svg`` or ``mermaid`` text."""
    if fmt == "dot":
        return to_dot(ruleset, lang)
    if fmt == "svg":
        return to_svg(ruleset, lang)
    if fmt == "mermaid":
        return to_mermaid(ruleset, lang)
    raise ValueError(f"unknown graph format {fmt!r}: use dot, svg or mermaid")


__all__ = ["render_graph", "to_dot", "to_svg", "to_mermaid", "layout", "graph_nodes", "label_text", "wrap",
           "text_width", "KIND_NAMES", "SEVERITY_NAMES"]
