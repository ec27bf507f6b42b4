"""Local and group-standard rulesets (rulesets/local): the zero-carbon factory grading of
T/CECA-G0171-2022 and the distributed-PV self-consumption rules of 17 provinces.

Every ruleset compiles without warnings and its examples pass; the key verdicts are asserted here by
hand as well, the national view agrees with the per-province rulesets, and the example data sets
(examples/factories.csv, examples/pv_projects.csv) evaluate cleanly.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import normrules
from normrules.cli import main
from normrules.errors import CheckFailed
from normrules.examples import run_examples

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / "rulesets/local"
FACTORY = LOCAL / "t_ceca_g0171_2022.nr"
PV = LOCAL / "pv_self_consumption"
NATIONAL = PV / "all_provinces.nr"
LOCAL_FILES = sorted(LOCAL.rglob("*.nr"))

# province file → (name in the digest, status of its document, published)
PROVINCES = {
    "ningxia": ("宁夏", "draft", "2025-03-17"), "guangdong": ("广东", "draft", "2025-03-20"),
    "hubei": ("湖北", "draft", "2025-03-25"), "liaoning": ("辽宁", "draft", "2025-04"),
    "jilin": ("吉林", "final", "2025-04-03"), "guangxi": ("广西", "draft", "2025-04-11"),
    "hainan": ("海南", "final", "2025-04-17"), "guizhou": ("贵州", "final", "2025-04-23"),
    "jiangsu": ("江苏", "final", "2025-04-29"), "shanxi": ("山西", "draft", "2025-04-29"),
    "anhui": ("安徽", "draft", "2025-05-20"), "chongqing": ("重庆", "draft", "2025-05-29"),
    "zhejiang": ("浙江", "draft", "2025-06-09"), "shandong": ("山东", "final", "2025-06-17"),
    "fujian": ("福建", "draft", "2025-06-17"), "sichuan": ("四川", "final", "2025-06-19"),
    "neimenggu": ("内蒙古", "final", "2025-06-20"),
}
NO_REQUIREMENT = ("guangdong", "jiangsu", "anhui", "zhejiang", "fujian")
# a per-province input → the national view's column
NATIONAL_COLUMN = {"region": "cq_region", "area": "sc_area", "building": "nx_building",
                   "required_share": "gz_required_share"}


@pytest.fixture(scope="module")
def factory():
    return normrules.load(FACTORY)


@pytest.fixture(scope="module")
def national():
    return normrules.load(NATIONAL)


def _province(key: str):
    return normrules.load(PV / f"{key}.nr")


def _arrays(**cols):
    return {k: np.asarray(v, dtype=object if any(isinstance(x, str) or x is None for x in v) else float)
            for k, v in cols.items()}


# --------------------------------------------------------------------------- every local ruleset


def test_the_local_rulesets_are_all_there():
    names = {f.relative_to(LOCAL).as_posix() for f in LOCAL_FILES}
    assert "t_ceca_g0171_2022.nr" in names
    assert {f"pv_self_consumption/{k}.nr" for k in PROVINCES} <= names
    assert "pv_self_consumption/all_provinces.nr" in names
    assert "chongqing_zero_carbon_factory.nr" in names
    assert len(names) == 1 + 17 + 1 + 1


@pytest.mark.parametrize("path", LOCAL_FILES, ids=lambda p: p.relative_to(LOCAL).as_posix())
def test_compiles_without_warnings_and_every_example_passes(path):
    rs = normrules.load(path)
    assert rs.warnings == ()
    outcomes = run_examples(rs)
    assert outcomes, f"{path} has no examples"
    failed = {o.name: o.mismatches for o in outcomes if not o.passed}
    assert failed == {}


@pytest.mark.parametrize("path", LOCAL_FILES, ids=lambda p: p.relative_to(LOCAL).as_posix())
def test_every_rule_cites_a_clause(path):
    c = normrules.load(path).checked
    assert c.rules and all(r.clause for r in c.rules)
    assert c.meta_value("document") and c.meta_value("status") in ("draft", "final")
    # a final document has a publication date; a draft whose seed gives none may leave it out
    assert c.meta_value("published") or c.meta_value("status") == "draft"


# --------------------------------------------------------------------------- T/CECA-G0171-2022


def test_factory_header(factory):
    c = factory.checked
    assert c.ref == "local.t_ceca_g0171_2022@2022"
    assert c.meta_value("document") == "T/CECA-G0171-2022"
    assert str(c.meta_value("published")) == "2022-05"          # the seed gives the month only
    assert c.meta_value("status") == "final"


def test_factory_ruleset_cites_the_seed_table():
    text = FACTORY.read_text("utf-8")
    for cited in ("001_f2e7b01e952902c0.txt", "1800-1810", "line 1807", "等级划分表"):
        assert cited in text
    # the two readings are stated and shown in examples
    assert "Reading (a)" in text or "(a) Type II" in text
    assert "reading a)" in text and "reading b)" in text


STAR_CASES = [
    # type, score, renewable %, offset %, removal %, expected level
    ("I", 70, 100, 100, 100, "not graded"),        # 70 is outside (70, 80]
    ("I", 70.01, 0, 50, 0, "3 stars"),
    ("I", 75, 0, 49.99, 0, "not graded"),
    ("I", 80, 100, 100, 0, "3 stars"),              # 80 is inside (70, 80]
    ("I", 80.01, 0, 80, 0, "4 stars"),
    ("II", 80.5, 50, 80, 0, "4 stars"),
    ("I", 80.5, 50, 79.99, 0, "3 stars"),           # reading (b): falls back
    ("I", 90, 100, 100, 0, "4 stars"),              # 90 is inside (80, 90]
    ("I", 90.01, 100, 100, 0, "5 stars"),
    ("II", 95, 99.99, 100, 0, "4 stars"),
    ("I", 99.99, 100, 100, 100, "5 stars"),         # six stars needs exactly 100
    ("I", 100, 100, 100, 100, "6 stars"),
    ("II", 100, 100, 100, 100, "6 stars"),
    ("I", 100, 100, 100, 99.99, "5 stars"),         # reading (b): 100 without full removal
    ("II", 100, 99.99, 100, 100, "4 stars"),
    ("II", 75, 0, 50, 0, "3 stars"),                # reading (a): type II three stars >= 50 %
    ("II", 75, 0, 49.99, 0, "not graded"),
    ("I", 0, 0, 0, 0, "not graded"),
]


def test_star_levels_at_every_band_edge(factory):
    cols = list(zip(*STAR_CASES))
    ev = factory.evaluate(_arrays(type=cols[0], score=cols[1], re_share=cols[2], offset_share=cols[3],
                                  removal_share=cols[4]))
    assert ev.labels("stars") == list(cols[5])


def test_missing_data_gives_unknown_only_where_it_matters(factory):
    ev = factory.evaluate(_arrays(
        type=[None, None, "I", "I"], score=[60, 85, 100, 95], re_share=[100, 0, 100, 100],
        offset_share=[100, 85, 100, 100], removal_share=[100, 0, None, None]))
    assert ev.labels("stars") == ["not graded", None, None, "5 stars"]
    assert ev.verdicts("six.type_i")[2] == "unknown"


def test_score_range_is_checked(factory):
    from normrules.errors import DataError

    with pytest.raises(DataError, match="score"):
        factory.evaluate(_arrays(type=["I"], score=[100.5], re_share=[100], offset_share=[100],
                                 removal_share=[100]))


# --------------------------------------------------------------------------- PV self-consumption


@pytest.mark.parametrize("key", sorted(PROVINCES))
def test_province_header_is_the_provincial_document(key):
    zh, status, published = PROVINCES[key]
    c = _province(key).checked
    assert c.id == f"local.pv_self_consumption.{key}"
    assert c.meta_value("status") == status
    assert str(c.meta_value("published")) == published
    assert c.meta_value("title_zh").startswith(zh)
    text = (PV / f"{key}.nr").read_text("utf-8")
    assert "003_e54aaa1b29cf8450.txt line" in text


def test_status_split_follows_the_digest():
    assert sum(s == "final" for _, s, _ in PROVINCES.values()) == 7
    assert sum(s == "draft" for _, s, _ in PROVINCES.values()) == 10


@pytest.mark.parametrize("key", NO_REQUIREMENT)
def test_no_requirement_is_not_applicable(key):
    ev = _province(key).evaluate(_arrays(generation=[1000, 1000], self_used=[0, None]))
    assert ev.verdicts("req.self_use") == ["not_applicable", "not_applicable"]
    assert ev.labels("compliance") == ["no requirement", "no requirement"]


def test_jilin_caps_export_at_20_percent_inclusive():
    # the digest's summary says self-use > 80 % / export < 20 %; the text says 不超过 20 %
    ev = _province("jilin").evaluate(_arrays(generation=[1000, 1000, 1000], exported=[200, 200.1, 0]))
    assert ev.verdicts("req.export") == ["pass", "fail", "pass"]
    assert ev.labels("compliance") == ["met", "not met", "met"]


@pytest.mark.parametrize("key", ["hubei", "liaoning"])
def test_export_caps_at_50_percent(key):
    ev = _province(key).evaluate(_arrays(generation=[1000, 1000], exported=[500, 500.1]))
    assert ev.labels("compliance") == ["met", "not met"]


@pytest.mark.parametrize("key,limit", [("guangxi", 50), ("hainan", 50), ("shanxi", 50), ("shandong", 50),
                                       ("neimenggu", 80)])
def test_minimum_self_consumption(key, limit):
    ev = _province(key).evaluate(_arrays(generation=[1000, 1000, 0], self_used=[limit * 10, limit * 10 - 0.1, 0]))
    assert ev.verdicts("req.self_use") == ["pass", "fail", "unknown"]


def test_ningxia_by_building_type():
    ev = _province("ningxia").evaluate(_arrays(
        generation=[1000] * 5, self_used=[300, 299.9, 500, 300, 600],
        building=["公共机构", "公共机构", "工商业厂房", "工商业厂房", None]))
    assert ev.labels("compliance") == ["met", "not met", "met", "not met", None]


def test_chongqing_by_region():
    ev = _province("chongqing").evaluate(_arrays(
        generation=[1000] * 5, self_used=[200, 199.9, 400, 399.9, 900],
        region=["主城都市区", "主城都市区", "其余区县", "其余区县", None]))
    assert ev.labels("compliance") == ["met", "not met", "met", "not met", None]


def test_sichuan_three_prefectures_and_one_city():
    ev = _province("sichuan").evaluate(_arrays(
        generation=[1000] * 6, self_used=[500, 500, 500, 499.9, 0, 0],
        area=["阿坝州", "甘孜州", "凉山州", "攀枝花市", "其余地区", None]))
    assert ev.labels("compliance") == ["met", "met", "met", "not met", "no requirement", None]


def test_guizhou_needs_the_projects_own_share():
    ev = _province("guizhou").evaluate(_arrays(
        generation=[1000] * 3, self_used=[400] * 3, required_share=[40, 40.1, None]))
    assert ev.verdicts("req.self_use") == ["pass", "fail", "unknown"]
    assert ev.labels("compliance") == ["met", "not met", None]


def _grid(key: str):
    """Synthetic projects of one province: shares around every limit, each category, missing data."""
    shares = [None, 0, 10, 19.99, 20, 29.99, 30, 39.99, 40, 49.99, 50, 50.01, 79.99, 80, 80.01, 100]
    extra = {
        "chongqing": {"region": ["主城都市区", "其余区县", None]},
        "sichuan": {"area": ["阿坝州", "甘孜州", "凉山州", "攀枝花市", "其余地区", None]},
        "ningxia": {"building": ["公共机构", "工商业厂房", None]},
        "guizhou": {"required_share": [None, 0, 30, 50, 100]},
    }.get(key, {})
    rows = []
    names = list(extra)
    for share, *cats in itertools.product(shares, *extra.values()):
        row = {"generation": 1000.0,
               "self_used": None if share is None else share * 10,
               "exported": None if share is None else 1000 - share * 10}
        row.update(dict(zip(names, cats)))
        rows.append(row)
    rows.append({"generation": 0.0, "self_used": 0.0, "exported": 0.0, **{n: extra[n][0] for n in names}})
    return rows


def _columns(rows, names):
    return _arrays(**{n: [r.get(n) for r in rows] for n in names})


@pytest.mark.parametrize("key", sorted(PROVINCES))
def test_national_view_agrees_with_the_province(key, national):
    province = _province(key)
    rows = _grid(key)
    own = province.evaluate(_columns(rows, [i.name for i in province.checked.inputs]))
    zh = PROVINCES[key][0]
    table = {NATIONAL_COLUMN.get(k, k): v for k, v in _columns(rows, rows[0].keys()).items()}
    table["province"] = np.asarray([zh] * len(rows), dtype=object)
    view = national.evaluate(table)
    assert view.labels("compliance") == own.labels("compliance")
    assert set(view.labels("source")) == {f"{zh} {'正式文件' if PROVINCES[key][1] == 'final' else '征求意见稿'} "
                                          f"{PROVINCES[key][2]}"}


def test_national_view_rules_cite_province_document_and_seed_line(national):
    for rule in national.checked.rules:
        zh = next(v[0] for k, v in PROVINCES.items() if rule.id.startswith(f"req.{k}."))
        assert rule.clause.startswith(zh)
        assert "003 第" in rule.clause and ("征求意见稿" in rule.clause or "正式文件" in rule.clause)


def test_national_view_unknown_province_is_unknown(national):
    ev = national.evaluate(_arrays(province=[None], generation=[1000], self_used=[900], exported=[100]))
    assert ev.labels("compliance") == [None]


# --------------------------------------------------------------------------- example data


def _eval_cli(ruleset: Path, data: Path, tmp_path: Path) -> list[dict]:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["eval", str(ruleset), "--input", str(data), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output.lower()
    with out.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_factories_csv(tmp_path):
    rows = _eval_cli(FACTORY, ROOT / "examples/factories.csv", tmp_path)
    got = {r["id"]: r["stars"] for r in rows}
    assert got == {"F01": "6 stars", "F02": "5 stars", "F03": "5 stars", "F04": "4 stars",
                   "F05": "4 stars", "F06": "3 stars", "F07": "3 stars", "F08": "3 stars",
                   "F09": "not graded", "F10": "not graded", "F11": "unknown", "F12": "unknown"}


def test_pv_projects_csv(tmp_path):
    rows = _eval_cli(NATIONAL, ROOT / "examples/pv_projects.csv", tmp_path)
    got = {r["id"]: r["compliance"] for r in rows}
    assert len(got) == 24
    with (ROOT / "examples/pv_projects.csv").open(encoding="utf-8") as fh:
        provinces = {r["province"] for r in csv.DictReader(fh)}
    assert provinces == {v[0] for v in PROVINCES.values()}
    assert got["PV01"] == "met" and got["PV02"] == "not met"              # Ningxia 30 % / 45 % on a factory
    assert got["PV06"] == "met" and got["PV07"] == "not met"              # Jilin 20 % / 25 % export
    assert got["PV10"] == "met" and got["PV11"] == "unknown"              # Guizhou with / without its share
    assert got["PV15"] == "met" and got["PV24"] == "unknown"              # Chongqing on 20 % / no region
    assert got["PV21"] == "no requirement"                                # Sichuan outside 三州一市
    assert [k for k, v in got.items() if v == "no requirement"] == ["PV03", "PV12", "PV14", "PV17", "PV19", "PV21"]


# --------------------------------------------------------------------------- header dates


HEADER = """ruleset t.dates {{
  title "dates"
  document "x"
  version "1"
  status draft
  {fields}
}}
entity project
input project.x : number
rule r.x require x >= 0
example "e" {{
  given x = 1
  expect r.x = pass
}}
"""


def _codes(fields: str) -> list[tuple[str, str]]:
    try:
        rs = normrules.loads(HEADER.format(fields=fields), "dates.nr")
    except CheckFailed as exc:
        return [(d.code, d.message) for d in exc.diagnostics]
    return [(d.code, d.message) for d in rs.warnings]


@pytest.mark.parametrize("fields", [
    "published 2025-06", "published 2025-06-19", "effective 2025-07",
    "published 2025-06\n  effective 2025-06",              # the same month
    "published 2025-06-19\n  effective 2025-06",           # a month that may be on or after the day
    "published 2025-06\n  effective 2025-06-01",           # a day that may be on or after the month's day
    "published 2025-06\n  effective 2025-07-01",
    "published 2024-12\n  effective 2025-01",
])
def test_a_month_is_a_valid_header_date(fields):
    assert _codes(fields) == []


@pytest.mark.parametrize("value", ["2025-13", "2025-00", "2025-02-30"])
def test_other_header_dates_are_still_e503(value):
    assert _codes(f"published {value}") == [
        ("E503", f"`published` needs a date like 2025-07-08 or a month like 2025-07, not `{value}`")]


@pytest.mark.parametrize("fields", [
    "published 2025-06\n  effective 2025-05",
    "published 2025-06\n  effective 2025-05-31",
    "published 2025-06-01\n  effective 2025-05",
    "published 2025-01\n  effective 2024-12",
    "published 2025-06-19\n  effective 2025-06-18",
])
def test_effective_surely_before_published_is_e506(fields):
    assert [c for c, _ in _codes(fields)] == ["E506"]
