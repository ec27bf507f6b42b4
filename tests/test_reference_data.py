"""Reference data (GWP-100, China grid factors) and the accounting rulesets that use them.

* every ruleset here compiles with no warning and its examples pass (both engines);
* the GWP-100 table is pinned to the IPCC values carried by the ``globalwarmingpotentials``
  package (read through the compiled ruleset, ``checked.tables``), and every row cites its table;
* the local copies of reference rows in ``gb/ghg_accounting.nr`` equal the common tables;
* hand-written verdicts and values on the limits, on ``examples/enterprises.csv`` and its child
  table ``examples/enterprise_fuels.csv``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import normrules
from normrules.examples import run_examples
from normrules.tables import read_table

ROOT = Path(__file__).resolve().parent.parent
GWP = ROOT / "rulesets" / "common" / "ipcc_gwp100.nr"
GRID = ROOT / "rulesets" / "common" / "china_grid_factor.nr"
ACCOUNTING = ROOT / "rulesets" / "gb" / "ghg_accounting.nr"
ETS = ROOT / "rulesets" / "gb" / "national_ets_inclusion.nr"
RULESETS = {"ipcc_gwp100": GWP, "china_grid_factor": GRID, "ghg_accounting": ACCOUNTING,
            "national_ets_inclusion": ETS}
ENTERPRISES = ROOT / "examples" / "enterprises.csv"
FUELS = ROOT / "examples" / "enterprise_fuels.csv"

EDITIONS = ("SAR", "AR4", "AR5", "AR6")
GASES = ("CO2", "CH4", "CH4_fossil", "CH4_nonfossil", "N2O", "HFC134a", "CF4", "C2F6", "SF6", "NF3")
PACKAGE_SETS = {"SAR": "SARGWP100", "AR4": "AR4GWP100", "AR5": "AR5GWP100", "AR6": "AR6GWP100"}
# Rows the package has no value for, with the IPCC value and the table it is taken from.
NOT_IN_PACKAGE = {
    ("SAR", "CO2"): (1, "Table 2.9"),
    ("AR4", "CO2"): (1, "Table 2.14"),
    ("AR5", "CO2"): (1, "Table 8.A.1"),
    ("AR6", "CO2"): (1, "Table 7.15"),
    ("AR6", "CH4_fossil"): (29.8, "Table 7.15"),
    ("AR6", "CH4_nonfossil"): (27.0, "Table 7.15"),
}
REPORT_TABLE = {"SAR": "Table 2.9", "AR4": "Table 2.14", "AR5": "Table 8.A.1", "AR6": "Table 7."}


@pytest.fixture(scope="module")
def rulesets():
    return {name: normrules.load(path) for name, path in RULESETS.items()}


def _table(ruleset, name: str):
    return next(t for t in ruleset.checked.tables if t.name == name)


def _column(ruleset, table: str, column: str) -> dict[tuple, object]:
    """{key tuple: value} of one column, numbers in the column's declared unit."""
    t = _table(ruleset, table)
    i = t.index_of(column)
    typ = dict(t.fields)[column]
    unit = getattr(typ, "unit", None)
    out = {}
    for row in t.rows:
        value = row[i]
        if unit is not None and value is not None:
            value = value / unit.factor
        out[tuple(row[:len(t.keys)])] = value
    return out


# --------------------------------------------------------------------------- compile and examples


@pytest.mark.parametrize("path", RULESETS.values(), ids=RULESETS.keys())
def test_ruleset_compiles_without_warnings_and_its_examples_pass(path):
    rs = normrules.load(path)
    assert rs.checked.diagnostics == ()
    outcomes = run_examples(rs)
    assert len(outcomes) >= 8
    failed = [(o.name, o.mismatches) for o in outcomes if not o.passed]
    assert not failed


@pytest.mark.parametrize("path", RULESETS.values(), ids=RULESETS.keys())
def test_every_table_names_its_document_and_publisher(path):
    rs = normrules.load(path)
    for t in rs.checked.tables:
        fields = dict(t.provenance)
        assert fields.get("document"), t.name
        assert fields.get("publisher"), t.name
        assert fields.get("clause"), t.name


# --------------------------------------------------------------------------- GWP-100


def test_gwp_table_has_the_editions_and_gases_asked_for(rulesets):
    t = _table(rulesets["ipcc_gwp100"], "gwp100")
    assert dict(t.keys)["edition"].categories == EDITIONS
    values = _column(rulesets["ipcc_gwp100"], "gwp100", "value")
    assert set(g for _, g in values) == set(GASES)
    for edition in EDITIONS:
        for gas in ("CO2", "CH4", "N2O", "HFC134a", "CF4", "C2F6", "SF6"):
            assert (edition, gas) in values, (edition, gas)
    # NF3 is not in the SAR; only AR6 splits methane into fossil and non-fossil
    assert ("SAR", "NF3") not in values
    assert {(e, g) for e, g in values if g in ("CH4_fossil", "CH4_nonfossil")} == {
        ("AR6", "CH4_fossil"), ("AR6", "CH4_nonfossil")}
    assert len(values) == 33


def test_every_gwp_value_the_package_carries_equals_the_table(rulesets):
    gwps = pytest.importorskip("globalwarmingpotentials")
    values = _column(rulesets["ipcc_gwp100"], "gwp100", "value")
    checked = 0
    for edition, set_name in PACKAGE_SETS.items():
        package = gwps.data[set_name]
        for gas in GASES:
            expected = package.get(gas)
            if expected is None:
                continue
            assert (edition, gas) in values, f"{edition} {gas}: the package has {expected}, the table no row"
            assert values[(edition, gas)] == pytest.approx(expected, rel=1e-12), (edition, gas)
            checked += 1
    assert checked == 27
    # every other row is one the package lacks, pinned here to its IPCC value
    missing = {k for k in values if PACKAGE_SETS[k[0]] and gwps.data[PACKAGE_SETS[k[0]]].get(k[1]) is None}
    assert missing == set(NOT_IN_PACKAGE)
    for key, (value, _) in NOT_IN_PACKAGE.items():
        assert values[key] == pytest.approx(value, rel=1e-12)
    # a gas absent from the table is absent from the package too
    assert gwps.data["SARGWP100"].get("NF3") is None


def test_the_pinned_values_that_public_code_disagrees_on(rulesets):
    """domain-notes §2: AR6 SF6 (25 200 vs 24 300), HFC-134a (1526/1530), non-fossil CH4 (27.0/27.2)."""
    values = _column(rulesets["ipcc_gwp100"], "gwp100", "value")
    assert values[("AR6", "SF6")] == 25_200
    assert values[("AR6", "HFC134a")] == 1_530          # Table 7.SM.7; Table 7.15 prints 1526
    assert values[("AR6", "CH4_nonfossil")] == 27.0
    assert values[("AR6", "CH4_fossil")] == 29.8
    assert values[("AR6", "CH4")] == 27.9
    # the SAR values the Chinese sector guidelines use for aluminium PFCs and SF6
    assert (values[("SAR", "CF4")], values[("SAR", "C2F6")], values[("SAR", "SF6")]) == (6_500, 9_200, 23_900)


def test_every_gwp_row_cites_its_report_table(rulesets):
    sources = _column(rulesets["ipcc_gwp100"], "gwp100", "source")
    for (edition, gas), source in sources.items():
        assert source and REPORT_TABLE[edition] in source, (edition, gas, source)
        assert "IPCC" in source
    for key, (_, table) in NOT_IN_PACKAGE.items():
        assert table in sources[key]
    assert "7.SM.7" in sources[("AR6", "SF6")] and "7.SM.7" in sources[("AR6", "HFC134a")]
    assert "without climate-carbon feedbacks" in sources[("AR5", "CH4")] or \
        "no climate-carbon feedbacks" in sources[("AR5", "CH4")]


def test_gwp_edition_param_and_explicit_editions(rulesets):
    rs = rulesets["ipcc_gwp100"]
    edition = {p.name: p for p in rs.checked.params}["gwp_edition"]
    assert edition.type.categories[edition.expr.value] == "AR6"
    ev = rs.evaluate({"id": ["a", "b", "c"], "gas": ["SF6", "NF3", "CH4_fossil"], "mass": [2.0, 1.0, None]})
    assert ev.values("co2e") == pytest.approx([50_400, 17_400, math.nan], nan_ok=True)
    assert ev.values("co2e_sar") == pytest.approx([47_800, math.nan, math.nan], nan_ok=True)
    assert ev.values("gwp") == pytest.approx([25_200, 17_400, 29.8])


# --------------------------------------------------------------------------- grid factors


def test_grid_factor_rows_and_sources(rulesets):
    factors = _column(rulesets["china_grid_factor"], "grid_factor", "factor")
    assert factors == {(2021.0,): 0.5568, (2022.0,): 0.5366, (2023.0,): 0.5306}
    sources = _column(rulesets["china_grid_factor"], "grid_factor", "source")
    assert "公告2024年第12号" in sources[(2021.0,)]
    assert "2022年电力二氧化碳排放因子" in sources[(2022.0,)] and "2024-12-20" in sources[(2022.0,)]
    assert "2023年电力二氧化碳排放因子" in sources[(2023.0,)]
    published = _table(rulesets["china_grid_factor"], "grid_factor").values("published")
    assert published[2] is None          # the signature date of the 2023 announcement is not known


@pytest.mark.parametrize("as_of, year, factor", [
    ("2021-12-31", None, None),          # wants 2020: before the first data year
    ("2022-01-01", 2021, 0.5568),
    ("2023-07-01", 2022, 0.5366),
    ("2024-12-31", 2023, 0.5306),
    ("2026-03-31", 2023, 0.5306),        # wants 2025: not published, latest earlier is 2023
])
def test_grid_factor_by_reporting_date(rulesets, as_of, year, factor):
    ev = rulesets["china_grid_factor"].evaluate({"id": ["x"], "electricity": [1_000.0]}, as_of=as_of)
    if factor is None:
        assert math.isnan(ev.values("factor")[0]) and math.isnan(ev.values("co2")[0])
    else:
        assert ev.values("factor_year")[0] == year
        assert ev.values("factor")[0] == pytest.approx(factor)
        assert ev.values("co2")[0] == pytest.approx(1_000 * factor)


# --------------------------------------------------------------------------- local copies


def test_accounting_gwp_rows_equal_the_common_table(rulesets):
    local = _column(rulesets["ghg_accounting"], "gwp100", "value")
    common = _column(rulesets["ipcc_gwp100"], "gwp100", "value")
    assert len(local) == 16
    for key, value in local.items():
        assert common[key] == value, key
    # every edition of every gas it uses is copied, so overriding the edition never loses a row
    gases = {g for _, g in local}
    assert gases == {"CH4", "N2O", "CF4", "C2F6"}
    assert {k for k in common if k[1] in gases} == set(local)


def test_accounting_grid_rows_equal_the_common_table(rulesets):
    local = _column(rulesets["ghg_accounting"], "grid_factor", "factor")
    common = _column(rulesets["china_grid_factor"], "grid_factor", "factor")
    assert local == common


def test_fuel_defaults_cite_their_source(rulesets):
    rs = rulesets["ghg_accounting"]
    sources = _column(rs, "fuel_defaults", "source")
    assert set(k[0] for k in sources) == {"无烟煤", "烟煤", "柴油", "天然气"}
    assert all("S19" in s for s in sources.values())
    basis = _column(rs, "fuel_defaults", "basis")
    ncv_mass = _column(rs, "fuel_defaults", "ncv_mass")
    ncv_volume = _column(rs, "fuel_defaults", "ncv_volume")
    for fuel, b in basis.items():
        # exactly one NCV, on the fuel's activity basis
        assert (ncv_mass[fuel] is None) == (b == "volume") and (ncv_volume[fuel] is None) == (b == "mass")
    assert ncv_volume[("天然气",)] == pytest.approx(389.31)


# --------------------------------------------------------------------------- accounting


def _fuel_co2(ncv, cc, of):
    return ncv * cc * of * 44 / 12


@pytest.fixture(scope="module")
def accounting_on_examples(rulesets):
    return rulesets["ghg_accounting"].evaluate(read_table(ENTERPRISES), children={"fuel": read_table(FUELS)})


def test_accounting_on_the_example_enterprises(accounting_on_examples):
    ev = accounting_on_examples
    assert list(ev.keys) == ["E001", "E002", "E003", "E004", "E005", "E006"]
    assert ev.warnings == ()
    assert list(ev.values("fuel_count")) == [3, 1, 2, 1, 2, 1]
    e001 = (1_000 * _fuel_co2(24.515, 0.02749, 0.94) + 100 * _fuel_co2(43.33, 0.0202, 0.98)
            + 50 * _fuel_co2(389.31, 0.0153, 0.99))
    e002 = 3_000 * _fuel_co2(20, 0.03, 1.0)                   # measured parameters
    assert ev.values("combustion_co2")[:2] == pytest.approx([e001, e002], rel=1e-12)
    # SAR: CF4 6500, C2F6 9200
    assert ev.values("process_co2e")[0] == pytest.approx(60_000 + 2 * 6_500 + 0.2 * 9_200)
    # electricity is given in 万kWh/yr: 10 000 万kWh = 100 000 MWh
    assert ev.values("scope2")[:4] == pytest.approx([100_000 * 0.5306, 5_000 * 0.5306, 8_000 * 0.5306,
                                                     10_000 * 0.5568])
    assert list(ev.values("grid_ef_year")[:4]) == [2023, 2023, 2023, 2021]
    assert ev.labels("grid_ef_basis") == ["latest earlier data year"] * 3 + [
        "factor of the wanted data year", None, "latest earlier data year"]
    assert ev.values("total")[0] == pytest.approx(e001 + 74_840 + 53_060, rel=1e-12)
    # E005: reports in 2021 (no factor for 2020) and gives natural gas in tonnes; E006: no electricity
    assert np.isnan(ev.values("total")[4:]).all()
    assert np.isnan(ev.values("combustion_co2")[4])
    assert ev.verdicts("report.total") == ["pass"] * 4 + ["fail"] * 2
    assert ev.labels("accounting") == ["complete"] * 4 + ["incomplete"] * 2


def test_accounting_edition_and_lag_params(rulesets):
    """Switching the param (as an importer's override would) changes the characterisation."""
    text = ACCOUNTING.read_text("utf-8")
    assert '= "SAR"' in text and "= 1\n" in text
    ar6 = normrules.loads(text.replace('= "SAR"', '= "AR6"').replace(
        'data_lag : number "电力排放因子数据年份滞后（年）" en "Lag of the grid factor\'s data year (years)" = 1',
        'data_lag : number "电力排放因子数据年份滞后（年）" en "Lag of the grid factor\'s data year (years)" = 2'),
        str(ACCOUNTING))
    table = {"enterprise_id": ["A"], "as_of": ["2025-03-31"], "process_co2": [0.0], "cf4": [1.0], "c2f6": [1.0],
             "ch4": [1.0], "n2o": [1.0], "electricity": [1_000.0]}
    fuels = {"enterprise_id": ["A"], "fuel_type": ["柴油"], "mass": [0.0]}
    sar = rulesets["ghg_accounting"].evaluate(table, children={"fuel": fuels})
    assert sar.values("process_co2e")[0] == pytest.approx(6_500 + 9_200 + 21 + 310)
    other = ar6.evaluate(table, children={"fuel": fuels})
    assert other.values("process_co2e")[0] == pytest.approx(7_380 + 12_400 + 27.9 + 273)
    # lag 2: reporting in 2025 wants data year 2023, which is published
    assert other.values("wanted_year")[0] == 2023 and other.values("grid_ef")[0] == pytest.approx(0.5306)
    assert other.labels("grid_ef_basis") == ["factor of the wanted data year"]


def test_accounting_as_of_argument_fills_the_reporting_date(rulesets):
    table = {"enterprise_id": ["A", "B"], "process_co2": [0.0, 0.0], "cf4": [0.0, 0.0], "c2f6": [0.0, 0.0],
             "ch4": [0.0, 0.0], "n2o": [0.0, 0.0], "electricity": [1_000.0, 1_000.0]}
    fuels = {"enterprise_id": ["A", "B"], "fuel_type": ["柴油", "天然气"], "mass": [1.0, None],
             "volume": [None, 1.0]}
    ev = rulesets["ghg_accounting"].evaluate(table, children={"fuel": fuels}, as_of="2023-06-30")
    assert list(ev.values("grid_ef_year")) == [2022, 2022]
    assert ev.values("combustion_co2") == pytest.approx([_fuel_co2(43.33, 0.0202, 0.98),
                                                         _fuel_co2(389.31, 0.0153, 0.99)], rel=1e-12)
    assert ev.values("total") == pytest.approx([_fuel_co2(43.33, 0.0202, 0.98) + 536.6,
                                                _fuel_co2(389.31, 0.0153, 0.99) + 536.6], rel=1e-12)


# --------------------------------------------------------------------------- ETS inclusion


def test_ets_threshold_param_is_26000_and_cites_article_8(rulesets):
    rs = rulesets["national_ets_inclusion"]
    threshold = {p.name: p for p in rs.checked.params}["threshold"]
    assert threshold.type.unit.text == "t CO2e/yr"
    assert threshold.expr.value / threshold.type.unit.factor == pytest.approx(26_000, rel=1e-12)
    clauses = {r.id: r.decl.clause for r in rs.checked.rules}
    assert clauses == {"core.sector": "第八条（一）", "core.emissions": "第八条（二）"}
    text = ETS.read_text("utf-8")
    for cited in ("生态环境部令第19号", "001_f2e7b01e952902c0.txt", "line 722", "line 724",
                  "全国碳排放权交易市场覆盖钢铁、水泥、铝冶炼行业工作方案"):
        assert cited in text


def test_ets_verdicts_on_the_limits(rulesets):
    rs = rulesets["national_ets_inclusion"]
    table = {
        "enterprise_id": ["P1", "P2", "C1", "C2", "S1", "A1", "X1", "K1", "M1", "M2"],
        "sector": ["发电", "发电", "水泥", "水泥", "钢铁", "铝冶炼", "化工", "化工", "发电", "其他"],
        "captive_power_plant": [False, False, False, False, False, False, False, True, False, False],
        "emission_year": [2021, 2021, 2024, 2023, 2025, 2024, 2025, 2022, 2022, 2022],
        "emissions": [26_000.0, 25_999.0, 26_000.0, 26_000.0, 25_999.0, 26_000.0, 1e6, 26_000.0, None, None],
    }
    ev = rs.evaluate(table)
    assert ev.verdicts("core.sector") == ["pass", "pass", "pass", "fail", "pass", "pass", "fail", "pass", "pass",
                                          "fail"]
    assert ev.verdicts("core.emissions") == ["pass", "fail", "pass", "pass", "fail", "pass", "pass", "pass",
                                             "unknown", "unknown"]
    assert ev.labels("inclusion") == ["included", "not included", "included", "not included", "not included",
                                      "included", "not included", "included", None, "not included"]


def test_ets_on_the_example_enterprises(rulesets):
    ev = rulesets["national_ets_inclusion"].evaluate(read_table(ENTERPRISES))
    assert ev.warnings == ()
    assert ev.labels("inclusion") == ["included", "included", "not included", "included", "included",
                                      "not included"]
    assert ev.verdicts("core.emissions") == ["pass", "pass", "fail", "pass", "pass", "unknown"]


def test_example_data_is_declared_synthetic():
    readme = (ROOT / "examples" / "README.md").read_text("utf-8")
    assert "enterprises.csv" in readme and "enterprise_fuels.csv" in readme
    paragraph = readme[readme.index("`enterprises.csv`"):]
    assert "**synthetic**" in paragraph
