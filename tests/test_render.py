"""Rendering: the dependency graph (DOT, Mermaid, SVG) and the committee document (Markdown, HTML).

* Snapshots (tests/__snapshots__/test_render/) hold the park ruleset's Markdown document in Chinese
  and English and its DOT and Mermaid graphs; update them with ``pytest --snapshot-update`` after a
  deliberate change and read the diff.
* The SVG has exactly one ``<g class="node" id="node-<kind>-<name>">`` per graph node and is the
  same bytes whatever the hash seed.
* The HTML document is opened in headless Chromium: the DOM must contain every rule id and clause
  and an ``<svg>`` with one node per graph node, the page must log nothing to the console, and a
  1200×3000 screenshot is taken. Without Chromium the browser tests skip locally and FAIL in CI
  (``CI`` set): .ci/run installs it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

import normrules
from normrules import ast
from normrules import types as T
from normrules.units import parse_unit
from normrules.render import doc_command, document_model, graph_command, render_document, render_graph
from normrules.render.document import category_text
from normrules.render.graphs import layout, text_width, wrap
from normrules.render.notation import Notation, literal

ROOT = Path(__file__).resolve().parent.parent
PARK = ROOT / "rulesets" / "gb" / "zero_carbon_park.nr"
SVG_NS = "{http://www.w3.org/2000/svg}"


class MarkdownSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "md"


class DotSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "dot"


class MermaidSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "mmd"


@pytest.fixture(scope="module")
def park():
    return normrules.load(PARK)


# A small ruleset touching every expression form the notation has to show.
DEMO = '''
ruleset demo.render {
  title zh "渲染示例" en "Rendering example"
  document "示例〔2025〕1号"
  version "1"
  status draft
  category basic_general.terminology
}

entity plant "工厂" key code

input plant.energy    : tce/yr   in [0, inf)  "年综合能源消费量" en "Annual energy"
input plant.co2       : t CO2/yr in [0, inf)  "年二氧化碳排放量"
input plant.share     : percent  in (0, 100]  "清洁能源占比" en "Clean share"
input plant.province  : text {"北京", "上海", "广东"} "省份" en "Province"
input plant.certified : boolean "已获认证"
input plant.audited   : date "核查日期"

let plant.intensity : t CO2/tce "单位能耗碳排放" = co2 / energy
let plant.limit : t CO2/tce "限值" =
  case
    when province == "北京"          then 0.10 t CO2/tce
    when province in {"上海", "广东"} then 0.15 t CO2/tce
    else                                 0.20 t CO2/tce
  end
let plant.weighted : tce/yr = (energy + 1_000 tce/yr) * 2 - energy / 4
let plant.spread : tce/yr = max(abs(-energy), 0 tce/yr)
let plant.flag : boolean = not certified or co2 is unknown
let plant.recent : boolean = audited >= 2025-01-01

rule core.intensity "单位能耗碳排放" en "CO2 per unit of energy" clause "5.1" judge rounded
  applies when energy >= 1万tce/yr and (certified or share >= 50 percent)
  require intensity <= limit

rule guide.share "清洁能源占比" clause "表1 第3行" severity guidance
  require share >= 90 percent and share != 95 percent

result plant.rating "评级" en "Rating" {
  "A" when all(core.*, guide.*)
  "B" when core.intensity is fail
  "C" otherwise
}

example "Beijing, within the limit" {
  given energy = 20_000 tce/yr, co2 = 1_800 t CO2/yr, share = 95 percent, province = "北京",
        certified = true, audited = 2025-03-01
  expect limit = 0.1 t CO2/tce, core.intensity = pass, guide.share = fail, rating = "B"
}
'''


@pytest.fixture(scope="module")
def demo():
    return normrules.loads(DEMO, "demo_render.nr")


def _notation(rs, lang):
    return Notation(rs.checked.module.source, lang)


def _value(rs, name):
    return next(v for v in rs.checked.values if v.name == name)


def _rule(rs, rule_id):
    return next(r for r in rs.checked.rules if r.id == rule_id)


# ------------------------------------------------------------------------------------------ snapshots


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_markdown_snapshot(park, lang, snapshot):
    assert render_document(park, "md", lang) == snapshot(extension_class=MarkdownSnapshot)


def test_dot_snapshot(park, snapshot):
    assert render_graph(park, "dot") == snapshot(extension_class=DotSnapshot)


def test_mermaid_snapshot(park, snapshot):
    assert render_graph(park, "mermaid") == snapshot(extension_class=MermaidSnapshot)


# ------------------------------------------------------------------------------------------ notation


def test_notation_operators_and_precedence_zh(demo):
    n = _notation(demo, "zh")
    assert n.expr(_value(demo, "intensity").expr) == "co2 ÷ energy"
    assert n.expr(_value(demo, "weighted").expr) == "(energy + 1 000 tce/yr) × 2 − energy ÷ 4"
    assert n.expr(_value(demo, "spread").expr) == "max(abs(−energy), 0 tce/yr)"
    assert n.expr(_value(demo, "flag").expr) == "非 certified 或 co2 未知"
    assert n.expr(_value(demo, "recent").expr) == "audited ≥ 2025-01-01"
    assert n.expr(_value(demo, "limit").expr) == (
        '当 province = "北京" 时 0.10 t CO2/tce；当 province ∈ {"上海", "广东"} 时 0.15 t CO2/tce；'
        "否则 0.20 t CO2/tce")
    r = _rule(demo, "core.intensity")
    assert n.expr(r.applies) == "energy ≥ 1万tce/yr 且 (certified 或 share ≥ 50 percent)"
    assert n.expr(_rule(demo, "guide.share").require) == "share ≥ 90 percent 且 share ≠ 95 percent"
    res = demo.checked.results[0]
    assert [n.expr(c) if c is not None else None for _, c in res.branches] == [
        "all(core.*, guide.*)", "core.intensity 为不通过", None]


def test_notation_en(demo):
    n = _notation(demo, "en")
    assert n.expr(_value(demo, "flag").expr) == "not certified or co2 is unknown"
    assert n.expr(_rule(demo, "core.intensity").applies) == "energy ≥ 1万tce/yr and (certified or share ≥ 50 percent)"
    assert n.expr(_value(demo, "limit").expr).startswith('when province = "北京" then 0.10 t CO2/tce; when province ∈')
    assert n.expr(demo.checked.results[0].branches[1][1]) == "core.intensity is fail"


def test_limits_spell_out_a_banded_limit(park, demo):
    values = {v.name: v.expr for v in park.checked.values} | {p.name: p.expr for p in park.checked.params}
    core = _rule(park, "core.intensity")
    assert _notation(park, "zh").limits(core.require, values) == [
        "intensity ≤ 0.3 t CO2/tce（core_limit_large）（当 energy ≥ 100万tce/yr）",
        "intensity ≤ 0.2 t CO2/tce（core_limit_medium）（其他情况）"]
    assert _notation(park, "en").limits(core.require, values) == [
        "intensity ≤ 0.3 t CO2/tce (core_limit_large) (when energy ≥ 100万tce/yr)",
        "intensity ≤ 0.2 t CO2/tce (core_limit_medium) (otherwise)"]
    assert _notation(park, "zh").limits(_rule(park, "guide.product_energy").require, values) == []


def test_literals_keep_units_as_written():
    assert literal("1_000_000 tce/yr") == "1 000 000 tce/yr"
    assert literal("20万tce/yr") == "20万tce/yr"
    assert literal("t_x") == "t_x"


def test_rule_view_rounded_judgement(demo):
    model = document_model(demo, "zh")
    core = next(r for r in model["rules"] if r["id"] == "core.intensity")
    assert core["judge"] == "修约值比较法（GB/T 8170-2008 §4.3），修约至 0.01 t CO2/tce"
    assert core["needs"] == ["energy", "co2", "share", "province", "certified"]
    assert core["limits"][0] == 'intensity ≤ 0.10 t CO2/tce（当 province = "北京"）'
    guide = next(r for r in model["rules"] if r["id"] == "guide.share")
    assert guide["applies"] is None and guide["applies_text"] == "始终适用"
    assert guide["severity_text"] == "引导性"
    assert document_model(demo, "en")["rules"][1]["applies_text"] == "always applies"


# ------------------------------------------------------------------------------------------ document


def test_markdown_header_and_sections(park):
    md = render_document(park, "md", "zh")
    assert md.startswith("# 国家级零碳园区申报指标（National zero-carbon park indicators）\n")
    assert "| 状态 | 正式发布 |" in md
    assert "5.1 管理与评价 › 低碳评价（Management and evaluation › Low-carbon evaluation）" in md
    for heading in ("## 1 文件信息", "## 2 参数", "## 3 输入数据", "## 4 派生值", "## 5 规则（指标要求）", "## 6 评价结论",
                    "## 7 示例", "## 8 依赖关系图"):
        assert heading + "\n" in md
    assert "查找表" not in md                      # the park ruleset has no lookup tables
    for rule in park.checked.rules:
        assert f"### " in md and f" {rule.id} " in md and rule.clause in md
    assert "| `energy` | 年综合能源消费量 | tce/yr | [0, ∞) |" in md
    assert "`若 energy ≥ 100万tce/yr 则 core_limit_large，否则 core_limit_medium`" in md
    assert "0.2 t CO2/tce" in md and "0.3 t CO2/tce" in md
    assert '| 1 | "not in scope" | `energy < 20万tce/yr` |' in md
    assert "| 3 | \"not met\" | 其他情况 |" in md
    assert "| 给定 | `energy` | 年综合能源消费量 | 199 999 tce/yr |" in md


def test_markdown_english_falls_back_to_chinese_labels(demo):
    md = render_document(demo, "md", "en")
    assert md.startswith("> **Draft for comment (征求意见稿)**\n\n# Rendering example (渲染示例)\n")
    assert "| Status | Draft for comment (征求意见稿) |" in md
    assert "1.1 Basic and general › Terminology and definitions (基础通用 › 术语定义)" in md
    assert "| `energy` | Annual energy | tce/yr | [0, ∞) |" in md
    assert "| `co2` | 年二氧化碳排放量 | t CO2/yr | [0, ∞) |" in md          # no English label: Chinese
    assert "| `share` | Clean share | percent | (0, 100] |" in md
    assert '| `province` | Province | text | one of {"北京", "上海", "广东"} |' in md
    assert "| `certified` | 已获认证 | boolean (true/false) | — |" in md
    assert "### 4.2 guide.share 清洁能源占比" in md
    assert "| Clause | 表1 第3行 |" in md


def test_markdown_draft_zh(demo):
    md = render_document(demo, "md", "zh")
    assert md.startswith("> **征求意见稿**\n\n# 渲染示例（Rendering example）\n")
    assert "| 期望 | `core.intensity` | 单位能耗碳排放 | pass（通过） |" in md


def test_markdown_graph_is_one_html_block(park):
    md = render_document(park, "md")
    block = md[md.index('<div class="normrules-graph">'):]
    assert "\n\n" not in block.rstrip("\n")        # a CommonMark HTML block ends at the first blank line
    assert block.count('<g class="node ') == park.graph.graph.number_of_nodes()


def test_markdown_table_cells_are_escaped(demo):
    from normrules.render.document import _md_cell, _md_code

    assert _md_cell("a | b\nc") == "a \\| b<br>c"
    assert _md_code("x | y") == "`x \\| y`"
    assert _md_code("a`b") == "``a`b``"


def test_category_text():
    assert category_text("monitoring", "zh") == "4 监测（Monitoring）"
    assert category_text("monitoring.analysis_methods", "en") == \
        "4.2 Monitoring › Monitoring and analysis methods (监测 › 监测分析方法)"
    assert category_text("no.such", "zh") == "no.such"


def test_html_is_self_contained(park):
    html = render_document(park, "html", "zh")
    assert html.startswith("<!DOCTYPE html>\n")
    assert '<html lang="zh-CN">' in html and '<meta charset="utf-8">' in html
    assert "<script" not in html and "<link" not in html and "<img" not in html and "@import" not in html
    assert re.findall(r"https?://[^\s\"')]+", html) == ["http://www.w3.org/2000/svg"]
    assert set(re.findall(r"url\(([^)]*)\)", html)) == {"#nr-arrow"}
    assert "<style>" in html
    assert html.count("<svg") == 1
    for rule in park.checked.rules:
        assert f'id="rule-{rule.id}"' in html
    assert '<html lang="en">' in render_document(park, "html", "en")


def test_html_escapes_text():
    text = DEMO.replace('"渲染示例" en "Rendering example"', '"<b>&渲染</b>" en "A <i>&amp;</i>"')
    rs = normrules.loads(text, "escape.nr")
    html = render_document(rs, "html", "zh")
    assert "<b>&" not in html and "&lt;b&gt;&amp;渲染&lt;/b&gt;" in html
    assert "&lt;i&gt;&amp;amp;&lt;/i&gt;" in html


class _WithTables:
    """A checked ruleset with lookup tables attached (what the table declarations will provide)."""

    def __init__(self, inner, tables):
        self._inner = inner
        self.tables = tables

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_lookup_tables_are_rendered_generically(demo):
    """Fields as (name, type) pairs and canonical rows (as the checker keeps them), or as declared."""
    factor = T.NumT(parse_unit("t CO2/MWh"))
    table = SimpleNamespace(
        name="grid_factor",
        label=SimpleNamespace(zh="电网排放因子", en="Grid emission factor"),
        keys=(("province", T.TextT(("北京", "上海"))), ("year", T.NumT(parse_unit("1")))),
        columns=(("factor", factor), ("published", T.DateT("day"))),
        rows=(("北京", 2023.0, 0.5703 * factor.unit.factor, 19722.0), ("上海", 2023.0, None, 19722.0)),
        file="grid.csv",
        provenance=(("document", "生态环境部 国家统计局公告2024年第33号"), ("published", "2024-12-30")),
    )
    declared = SimpleNamespace(
        name="shares", label=None,
        keys=(SimpleNamespace(name="kind", type=ast.TypeSpec("text", categories=("a", "b"))),),
        columns=(SimpleNamespace(name="share", type=ast.TypeSpec("unit", unit="percent")),),
        rows=(), provenance=(), file=None)
    rs = dataclasses.replace(demo, checked=_WithTables(demo.checked, (table, declared)))
    md = render_document(rs, "md", "zh")
    assert "## 6 查找表\n" in md and "## 7 示例\n" in md and "## 8 依赖关系图\n" in md
    assert "### 6.1 grid_factor 电网排放因子" in md
    assert "- 列: province: 文本, year: 数值（无量纲）, factor: t CO2/MWh, published: 日期" in md
    assert "- 数据文件: `grid.csv`" in md
    assert "- 来源文件: 生态环境部 国家统计局公告2024年第33号" in md
    assert "- 发布日期: 2024-12-30" in md
    assert ("| province (键) | year (键) | factor [t CO2/MWh] | published |\n|---|---|---|---|\n"
            "| 北京 | 2023 | 0.5703 | 2023-12-31 |\n| 上海 | 2023 |  | 2023-12-31 |\n") in md
    assert "### 6.2 shares\n\n- 列: kind: 文本, share: percent\n\n（无内联数据）\n" in md
    html = render_document(rs, "html", "en")
    assert "Grid emission factor" in html and "<td>0.5703</td>" in html and "Source document: " in html
    assert "<th>factor [t CO2/MWh]</th>" in html


RULESETS = sorted((ROOT / "rulesets").rglob("*.nr"))


@pytest.mark.parametrize("path", RULESETS, ids=[p.relative_to(ROOT / "rulesets").as_posix() for p in RULESETS])
def test_every_ruleset_renders(path):
    try:
        rs = normrules.load(path)
    except normrules.CheckFailed:
        pytest.skip("does not compile (reported by the compiler's own tests)")
    g = rs.graph.graph
    for lang in ("zh", "en"):
        md = render_document(rs, "md", lang)
        html = render_document(rs, "html", lang)
        assert "\n\n\n" not in md and md.endswith("</div>\n")
        for rule in rs.checked.rules:
            assert f'id="rule-{rule.id}"' in html and f" {rule.id}" in md
        if getattr(rs.checked, "tables", ()):
            assert ("## " in md) and (("查找表" if lang == "zh" else "Lookup tables") in md)
        assert len(_svg_nodes(render_graph(rs, "svg", lang))) == g.number_of_nodes()
        assert render_graph(rs, "dot", lang).count(" -> ") == g.number_of_edges()
        assert render_graph(rs, "mermaid", lang).count(" --> ") == g.number_of_edges()


# ------------------------------------------------------------------------------------------ graph


def _svg_nodes(svg: str):
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{SVG_NS}g") if "node" in g.get("class", "").split()]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_svg_has_one_node_element_per_graph_node(park, demo, lang):
    for rs in (park, demo):
        svg = render_graph(rs, "svg", lang)
        nodes = _svg_nodes(svg)
        g = rs.graph.graph
        assert len(nodes) == g.number_of_nodes()
        assert sorted(n.get("id") for n in nodes) == sorted(f"node-{k}-{name}" for k, name in g.nodes)
        edges = [p for p in ET.fromstring(svg).iter(f"{SVG_NS}path") if p.get("class") == "edge"]
        assert len(edges) == g.number_of_edges()


def test_svg_layout_runs_left_to_right_without_overlaps(park, demo):
    for rs in (park, demo):
        placed, width, height = layout(rs)
        where = {p.node.key: p for p in placed}
        for a, b in rs.graph.graph.edges:
            assert where[a].x + where[a].width < where[b].x
        for p in placed:
            assert 0 <= p.x and p.x + p.width <= width and 0 <= p.y and p.y + p.height <= height
            for q in placed:
                if p is not q and p.column == q.column:
                    assert p.y + p.height <= q.y or q.y + q.height <= p.y
        inputs = {where[k].column for k in where if k[0] == "input"}
        assert inputs == {0}


def test_svg_is_deterministic_across_hash_seeds(park):
    code = ("import sys, normrules; from normrules.render import render_graph; "
            f"sys.stdout.write(render_graph(normrules.load({str(PARK)!r}), 'svg'))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout
    assert other == render_graph(park, "svg")


def test_svg_escapes_and_measures_cjk():
    assert text_width("园区", 10) == 20 and text_width("ab", 10) == 12
    assert wrap("园区企业产出产品单位能耗达到或优于二级能耗限额标准", 16) == ["园区企业产出产品单位能耗达到或优", "于二级能耗限额标准"]
    assert wrap("Annual comprehensive energy consumption", 16) == ["Annual comprehensive", "energy consumption"]


def test_dot_and_mermaid_cover_every_node_and_edge(park):
    g = park.graph.graph
    dot = render_graph(park, "dot")
    assert dot.count(" -> ") == g.number_of_edges()
    assert 'shape=hexagon' in dot and "peripheries=2" in dot
    assert '"rule:core.intensity" [label="core.intensity\\n条款 核心指标 · 约束性\\n单位能耗碳排放"' in dot
    mmd = render_graph(park, "mermaid", "en")
    assert mmd.startswith("flowchart LR\n")
    assert mmd.count(" --> ") == g.number_of_edges()
    assert 'rule_core_intensity{{"<b>core.intensity</b><br/>clause 核心指标 · mandatory' in mmd
    assert "Meets the notice#quot;s" not in mmd and "Meets the notice's" in mmd
    with pytest.raises(ValueError):
        render_graph(park, "png")


# ------------------------------------------------------------------------------------------ CLI


def test_graph_command(tmp_path, park):
    runner = CliRunner()
    res = runner.invoke(graph_command, [str(PARK), "--format", "mermaid"])
    assert res.exit_code == 0, res.output
    assert res.output == render_graph(park, "mermaid")
    res = runner.invoke(graph_command, [str(PARK)])
    assert res.exit_code == 0 and res.output.startswith('digraph "gb.zero_carbon_park" {')
    out = tmp_path / "sub" / "park.svg"
    res = runner.invoke(graph_command, [str(PARK), "--output", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert out.read_text("utf-8") == render_graph(park, "svg", "en")
    assert res.output == ""


def test_doc_command(tmp_path, park):
    runner = CliRunner()
    res = runner.invoke(doc_command, [str(PARK), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert res.output == render_document(park, "md", "en")
    out = tmp_path / "park.html"
    res = runner.invoke(doc_command, [str(PARK), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text("utf-8") == render_document(park, "html", "zh")
    res = runner.invoke(doc_command, [str(PARK), "--format", "md", "-o", str(tmp_path / "park.html")])
    assert (tmp_path / "park.html").read_text("utf-8").startswith("# ")


def test_commands_report_a_broken_ruleset(tmp_path):
    bad = tmp_path / "bad.nr"
    bad.write_text(DEMO.replace("require intensity <= limit", "require intensity <= 5 kg"), "utf-8")
    for command in (doc_command, graph_command):
        res = CliRunner().invoke(command, [str(bad)])
        assert res.exit_code == 1
        assert "E311" in res.output
    res = CliRunner().invoke(doc_command, [str(PARK), "--format", "pdf"])
    assert res.exit_code == 2


# ------------------------------------------------------------------------------------------ Chromium


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: CI must run the browser tests (.ci/run installs it with apt-get)")
    pytest.skip("chromium is not installed (apt-get install -y chromium); the browser tests run in CI")


def _run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


def _page_console_lines(stderr: str, page: Path) -> list[str]:
    """Console output of the page and uncaught exceptions, from ``--enable-logging=stderr``."""
    return [line for line in stderr.splitlines()
            if "Uncaught" in line or ("CONSOLE" in line and page.name in line)]


class _DomScan(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.svgs = 0
        self.graph_nodes: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "svg":
            self.svgs += 1
        if tag == "g" and "node" in (a.get("class") or "").split():
            self.graph_nodes.append(a.get("id", ""))

    def handle_data(self, data):
        self.text.append(data)


def _png_size_and_colours(data: bytes) -> tuple[int, int, int]:
    """(width, height, number of distinct byte values in the pixel data) of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_console_check_catches_errors(tmp_path):
    """The console check below is not vacuous: it sees console output and uncaught errors."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><p>x</p><script>console.error("boom"); nope();</script>'
                    "</body></html>", "utf-8")
    res = _run_chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri())
    lines = _page_console_lines(res.stderr, page)
    assert any('"boom"' in line for line in lines), res.stderr[-2000:]
    assert any("Uncaught ReferenceError" in line for line in lines), res.stderr[-2000:]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_document_in_chromium(tmp_path, park, lang):
    page = tmp_path / "doc.html"
    res = CliRunner().invoke(doc_command, [str(PARK), "--format", "html", "--lang", lang, "-o", str(page)])
    assert res.exit_code == 0, res.output

    res = _run_chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri())
    assert res.returncode == 0, res.stderr[-3000:]
    dom = _DomScan()
    dom.feed(res.stdout)
    text = "".join(dom.text)
    for rule in park.checked.rules:
        assert rule.id in text and f"rule-{rule.id}" in dom.ids
        assert rule.clause in text
    assert dom.svgs == 1
    g = park.graph.graph
    assert len(dom.graph_nodes) == g.number_of_nodes()
    assert sorted(dom.graph_nodes) == sorted(f"node-{k}-{name}" for k, name in g.nodes)
    assert _page_console_lines(res.stderr, page) == []
    if lang != "zh":
        return                                          # one screenshot is enough

    png = tmp_path / "doc.png"
    res = _run_chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,3000", page.as_uri())
    assert res.returncode == 0, res.stderr[-3000:]
    assert png.is_file()
    data = png.read_bytes()
    width, height, distinct = _png_size_and_colours(data)
    assert (width, height) == (1200, 3000)
    assert len(data) > 50_000 and distinct > 64        # text, tables and colours, not a blank page
    if os.environ.get("NORMRULES_KEEP_SCREENSHOT"):     # for looking at it: NORMRULES_KEEP_SCREENSHOT=dir
        keep = Path(os.environ["NORMRULES_KEEP_SCREENSHOT"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(png, keep / "doc.png")
