"""Zero-carbon factory construction and management guide of 重庆市环境科学学会 (group standard draft):
rulesets/local/chongqing_zero_carbon_factory.nr — basic requirements, the offset ledger (child rows,
retired entries only, allowed types, green certificates converted with the China grid factor,
double counting), and the 33-measure checklist of the annex counted per category.

The example data (examples/cq_*.csv) are synthetic.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import normrules
from normrules.cli import main
from normrules.examples import run_examples

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "rulesets/local/chongqing_zero_carbon_factory.nr"
MEASURES_CSV = ROOT / "rulesets/local/chongqing_zero_carbon_factory_measures.csv"
GRID_CSV = ROOT / "rulesets/common/china_grid_factor.csv"
SEED = Path("/work/shared/seeds/002_c59fa3dfe98e92bc.txt")
FACTORIES = ROOT / "examples/cq_factories.csv"
LEDGER = ROOT / "examples/cq_offset_ledger.csv"
MEASURES = ROOT / "examples/cq_measures.csv"

CATEGORIES = {"科学算碳": "m_accounting", "源头减碳": "m_source", "过程脱碳": "m_process",
              "协同降碳": "m_chain", "智能控碳": "m_digital", "基础设施": "m_infrastructure",
              "碳抵消": "m_offset"}


@pytest.fixture(scope="module")
def rs():
    return normrules.load(RULESET)


def _arrays(**cols):
    return {k: np.asarray(v, dtype=object if any(isinstance(x, str) or x is None for x in v) else float)
            for k, v in cols.items()}


def _eval_csv(tmp_path, *extra_inputs):
    out = tmp_path / "out.csv"
    args = ["eval", str(RULESET), "--input", f"factory={FACTORIES}", "--input", f"offset={LEDGER}",
            *extra_inputs, "--output", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


# --------------------------------------------------------------------------- the ruleset


def test_compiles_without_warnings_and_every_example_passes(rs):
    assert rs.warnings == ()
    outcomes = run_examples(rs)
    assert len(outcomes) >= 25
    assert {o.name: o.mismatches for o in outcomes if not o.passed} == {}


def test_header_is_the_group_standard_draft(rs):
    c = rs.checked
    assert c.ref == "local.chongqing_zero_carbon_factory@draft"
    assert c.meta_value("status") == "draft"
    assert "重庆市环境科学学会" in c.meta_value("issuer")
    assert "零碳工厂建设与管理技术指南" in c.meta_value("document")


def test_every_rule_cites_a_seed_line(rs):
    assert rs.checked.rules
    for r in rs.checked.rules:
        assert "seed line" in r.clause, r.id


def test_cited_seed_lines_say_what_the_rules_encode():
    if not SEED.exists():
        pytest.skip("seed not available")
    lines = SEED.read_text("utf-8").split("\n")
    line = lambda n: lines[n - 1]  # noqa: E731 - seed lines are 1-based
    assert "近三年" in line(75) and "失信" in line(75)
    assert "先进值" in line(77) and "标杆水平" in line(77)
    assert "范围1" in line(79) and "范围2" in line(79)
    assert "GB/T 32150" in line(83) and "ISO 14064-1" in line(83)
    assert "至少每年开展一次" in line(92)
    assert "CCER" in line(152) and "国家能源局" in line(153) and "碳普惠" in line(154)
    assert "重庆市" in line(155)
    assert "核销状态" in line(157) and "重复计算" in line(157)


def test_coverage_is_complete():
    result = CliRunner().invoke(main, ["test", str(RULESET), "--coverage", "--min", "100"])
    assert result.exit_code == 0, result.output
    assert "100 %" in result.output


# --------------------------------------------------------------------------- reference data


def test_measure_checklist_is_the_annex():
    with MEASURES_CSV.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["measure_no"]) for r in rows] == list(range(1, 34))
    per_cat = {}
    for r in rows:
        per_cat[r["category"]] = per_cat.get(r["category"], 0) + 1
    assert per_cat == {"科学算碳": 3, "源头减碳": 7, "过程脱碳": 9, "协同降碳": 6, "智能控碳": 2,
                       "基础设施": 4, "碳抵消": 2}
    universal = [int(r["measure_no"]) for r in rows if r["all_enterprises"] == "true"]
    assert universal == [1, 3, 8, 11, 15, 20, 32]
    if SEED.exists():
        lines = SEED.read_text("utf-8").split("\n")
        for r in rows:
            n = int(r["seed_line"])
            assert lines[n - 1].strip() == r["measure_no"]
            assert lines[n + 1].strip() == r["name"]
            assert lines[n + 3].strip() == r["applicability"]


def test_grid_factor_copy_equals_the_common_table(rs):
    with GRID_CSV.open(encoding="utf-8") as f:
        common = {int(r["data_year"]): float(r["factor [t CO2/MWh]"]) for r in csv.DictReader(f)}
    years = sorted(common)
    ev = rs.evaluate(_arrays(as_of=[f"{y + 1}-06-30" for y in years]))
    assert list(ev.values("grid_ef")) == pytest.approx([common[y] for y in years])


# --------------------------------------------------------------------------- verdicts by hand


def test_basic_requirement_limits(rs):
    ev = rs.evaluate(_arrays(
        energy_intensity=[95, 95.01, 10, None], advanced_value=[95, 95, 12, 12],
        in_benchmark_list=[True, True, False, None],
        efficiency_level=["domestic_advanced", "baseline", None, "benchmark"],
        accountings_last_year=[1, 0, 2, None]))
    assert ev.verdicts("basic.energy_intensity") == ["pass", "fail", "pass", "unknown"]
    assert ev.verdicts("basic.benchmark") == ["pass", "fail", "not_applicable", "unknown"]
    assert ev.verdicts("basic.frequency") == ["pass", "fail", "pass", "unknown"]


def test_offsets_from_the_ledger(rs):
    factories = _arrays(id=["A", "B", "C"], as_of=["2024-12-31"] * 3,
                        residual_emissions=[1530.6, 100, 50], duplicate_entries=[0, 0, 0])
    ledger = _arrays(
        offset_id=["1", "2", "3", "4", "5", "6"], id=["A", "A", "A", "B", "B", "C"],
        type=["CCER", "green_certificate", "CCER", "allowance", "CCER", "carbon_inclusion"],
        quantity=[1000, 1000, 999, 100, 99.999, 50],
        status=["retired", "retired", "held", "retired", "retired", "retired"],
        claimed_elsewhere=[False, False, False, False, False, True])
    ev = rs.evaluate(factories, children={"offset": ledger})
    assert list(ev.values("offsets_retired")) == pytest.approx([1530.6, 99.999, 0])
    assert ev.verdicts("offset.covers_residual") == ["pass", "fail", "fail"]
    assert ev.verdicts("offset.types") == ["pass", "fail", "pass"]
    assert ev.verdicts("offset.no_double_counting") == ["pass", "pass", "fail"]
    assert ev.labels("neutralised") == ["met", "not met", "not met"]


def test_measures_counted_per_category(rs):
    measures = _arrays(measure_entry_id=[str(i) for i in range(1, 34)], id=["A"] * 33,
                       measure_no=list(range(1, 34)))
    ev = rs.evaluate(_arrays(id=["A", "B"]), children={"measure": measures})
    expected = {"m_accounting": 3, "m_source": 7, "m_process": 9, "m_chain": 6, "m_digital": 2,
                "m_infrastructure": 4, "m_offset": 2}
    for name, n in expected.items():
        assert list(ev.values(name)) == [n, 0], name
    assert list(ev.values("measures_total")) == [33, 0]
    assert list(ev.values("m_universal")) == [7, 0]


# --------------------------------------------------------------------------- example data


def test_example_data_evaluate_cleanly(tmp_path):
    rows = _eval_csv(tmp_path, "--input", f"measure={MEASURES}")
    assert list(rows) == ["CQ01", "CQ02", "CQ03", "CQ04", "CQ05", "CQ06"]
    assert rows["CQ01"]["conclusion"] == "meets basic and offset requirements"
    assert float(rows["CQ01"]["offsets_retired [t CO2e]"]) == pytest.approx(1530.6)
    assert rows["CQ02"]["offset.covers_residual"] == "fail"          # 0.001 t short
    assert rows["CQ02"]["basic.benchmark"] == "not_applicable"
    assert rows["CQ03"]["offset.types"] == "fail"                    # a retired allowance
    assert float(rows["CQ03"]["offsets_retired [t CO2e]"]) == pytest.approx(630.6)
    assert rows["CQ04"]["offset.no_double_counting"] == "fail"
    assert rows["CQ05"]["basic"] == "unknown" and rows["CQ05"]["conclusion"] == "unknown"
    assert rows["CQ06"]["offsets_retired [t CO2e]"] in ("0", "0.0")
    assert rows["CQ01"]["m_universal"] == "7"


def test_example_data_runs_without_the_measure_table(tmp_path):
    rows = _eval_csv(tmp_path)
    assert rows["CQ01"]["measures_total"] == "0"


def test_example_ledger_ids_are_unique():
    # the engine does not check child keys for uniqueness (see the next test), so the data are checked here
    with LEDGER.open(encoding="utf-8") as f:
        ids = [r["offset_id"] for r in csv.DictReader(f)]
    assert len(ids) == len(set(ids))


def test_a_duplicated_ledger_id_is_rejected(tmp_path):
    dup = tmp_path / "ledger.csv"
    text = LEDGER.read_text("utf-8")
    dup.write_text(text + "OF-0101,CQ01,CCER,1000,retired,否\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(RULESET), "--input", f"factory={FACTORIES}",
                                       "--input", f"offset={dup}", "--output", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "`OF-0101` appears twice" in result.output
