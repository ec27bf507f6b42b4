"""The zero-carbon park ruleset (发改环资〔2025〕910号) end to end: examples, CLI, explanations."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import normrules
from normrules.cli import main
from normrules.examples import run_examples

ROOT = Path(__file__).resolve().parent.parent
PARK = ROOT / "rulesets/gb/zero_carbon_park.nr"
PARKS = ROOT / "examples/parks.csv"


@pytest.fixture(scope="module")
def park():
    return normrules.load(PARK)


def test_every_shipped_ruleset_compiles_and_its_examples_pass():
    files = normrules.find_rulesets([ROOT / "rulesets"])
    assert PARK in files
    for f in files:
        outcomes = run_examples(normrules.load(f))
        assert outcomes, f"{f} has no examples"
        assert [o.name for o in outcomes if not o.passed] == []


def test_examples_sit_on_every_limit_and_scope_boundary(park):
    text = PARK.read_text("utf-8")
    for boundary in ("199_999 tce/yr", "200_000 tce/yr", "999_999 tce/yr", "1_000_000 tce/yr",
                     "clean_share = 90 percent", "solid_waste_util = 80 percent", "waste_heat_util = 50 percent"):
        assert boundary in text
    assert len(park.checked.examples) >= 10


def test_header_metadata(park):
    c = park.checked
    assert c.ref == "gb.zero_carbon_park@2025"
    assert c.meta_value("document") == "发改环资〔2025〕910号"
    assert c.meta_value("status") == "final"
    assert c.meta_value("category") == "management_evaluation.low_carbon_evaluation"
    assert c.meta_value("title_zh") and c.meta_value("title_en")
    assert all(r.clause for r in c.rules)


def _table(**cols):
    base = dict(energy=[500_000.0], co2=[90_000.0], clean_share=[95.0], product_energy_level2=[True],
                solid_waste_util=[85.0], waste_heat_util=[60.0])
    base.update(cols)
    return {k: np.asarray(v) for k, v in base.items()}


def test_core_limit_bands(park):
    energy = np.array([199_999, 200_000, 999_999, 1_000_000, 1_000_000, 999_999.0])
    co2 = np.array([59_999.7, 40_000, 199_999.8, 300_000, 300_001, 200_000.2])
    n = len(energy)
    ev = park.evaluate(_table(energy=energy, co2=co2, clean_share=[95.0] * n, product_energy_level2=[True] * n,
                              solid_waste_util=[85.0] * n, waste_heat_util=[60.0] * n))
    assert ev.verdicts("core.intensity") == ["not_applicable", "pass", "pass", "pass", "fail", "fail"]
    assert ev.labels("meets_notice") == ["not in scope", "met", "met", "met", "not met", "not met"]


def test_missing_value_is_unknown_never_pass(park):
    for missing in (np.nan, None):
        ev = park.evaluate(_table(co2=np.array([missing], dtype=object if missing is None else float)))
        assert ev.verdicts("core.intensity") == ["unknown"]
        assert ev.labels("meets_notice") == [None]


def test_pandas_arrow_and_dict_give_the_same_result(park):
    pd = pytest.importorskip("pandas")
    import pyarrow as pa

    t = _table(energy=[150_000.0, 600_000.0, 2_000_000.0], co2=[1.0, 100_000.0, 700_000.0],
               clean_share=[95.0, 95.0, 80.0], product_energy_level2=[True, True, True],
               solid_waste_util=[85.0] * 3, waste_heat_util=[60.0] * 3)
    a = park.evaluate(t).to_arrow()
    b = park.evaluate(pd.DataFrame(t)).to_arrow()
    c = park.evaluate(pa.table(t)).to_arrow()
    assert a.equals(b) and a.equals(c)


def test_cli_eval_writes_rows_with_ruleset_and_hash(tmp_path, park):
    out = tmp_path / "out.csv"
    r = CliRunner().invoke(main, ["eval", str(PARK), "--input", str(PARKS), "--output", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 10
    by_id = {row["id"]: row for row in rows}
    assert by_id["P004"]["core.intensity"] == "fail"
    assert by_id["P004"]["intensity [t CO2/tce]"] == "0.241"
    assert by_id["P003"]["core.intensity"] == "pass"          # exactly on 0.2, from 万-unit headers
    assert by_id["P008"]["intensity_limit [t CO2/tce]"] == "0.3"
    assert by_id["P007"]["core.intensity"] == "unknown"
    assert by_id["P005"]["meets_notice"] == "not in scope"
    assert {row["_ruleset"] for row in rows} == {"gb.zero_carbon_park@2025"}
    assert {row["_sha256"] for row in rows} == {park.content_hash}
    assert "core.intensity              6       1       1       2" in r.stderr


def test_cli_eval_json_and_parquet(tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "out.json"
    r = CliRunner().invoke(main, ["eval", str(PARK), "-i", str(PARKS), "-o", str(out), "-q"])
    assert r.exit_code == 0
    doc = json.loads(out.read_text("utf-8"))
    assert doc["ruleset"] == "gb.zero_carbon_park@2025" and len(doc["sha256"]) == 64
    assert doc["rows"][3]["core.intensity"] == "fail"
    pq_out = tmp_path / "out.parquet"
    r = CliRunner().invoke(main, ["eval", str(PARK), "-i", str(PARKS), "-o", str(pq_out), "-q"])
    assert r.exit_code == 0
    t = pq.read_table(pq_out)
    assert t.schema.metadata[b"normrules.ruleset"] == b"gb.zero_carbon_park@2025"
    assert t.column("meets_notice").to_pylist()[0] == "met"


def test_cli_fail_on(tmp_path):
    args = ["eval", str(PARK), "-i", str(PARKS), "-o", str(tmp_path / "o.csv"), "-q"]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert CliRunner().invoke(main, args + ["--fail-on", "fail"]).exit_code == 1
    ok = tmp_path / "ok.csv"
    ok.write_text("id,energy,co2,clean_share,product_energy_level2,solid_waste_util,waste_heat_util\n"
                  "A,500000,,95,true,85,60\n", encoding="utf-8")
    args = ["eval", str(PARK), "-i", str(ok), "-o", str(tmp_path / "o2.csv"), "-q"]
    assert CliRunner().invoke(main, args + ["--fail-on", "fail"]).exit_code == 0
    assert CliRunner().invoke(main, args + ["--fail-on", "unknown"]).exit_code == 1


def test_cli_explain_fail_and_unknown():
    r = CliRunner().invoke(main, ["explain", str(PARK), "-i", str(PARKS), "--id", "P004"])
    assert r.exit_code == 0
    assert ("core.intensity FAIL (发改环资〔2025〕910号 核心指标): "
            "intensity 0.241 t CO2/tce > intensity_limit 0.2 t CO2/tce") in r.output
    assert "guide.clean_energy PASS (发改环资〔2025〕910号 引导指标): clean_share 92 percent ≥ 90 percent" in r.output
    r = CliRunner().invoke(main, ["explain", str(PARK), "-i", str(PARKS), "--id", "P007"])
    assert "core.intensity UNKNOWN (发改环资〔2025〕910号 核心指标): unknown — missing co2" in r.output
    r = CliRunner().invoke(main, ["explain", str(PARK), "-i", str(PARKS), "--id", "P005"])
    assert "core.intensity NOT_APPLICABLE" in r.output and "energy 120 000 tce/yr < 20万tce/yr" in r.output
    r = CliRunner().invoke(main, ["explain", str(PARK), "-i", str(PARKS), "--id", "NOPE"])
    assert r.exit_code == 2 and "no entity with id = 'NOPE'" in r.output


def test_cli_check_ok_and_test_command():
    r = CliRunner().invoke(main, ["check", str(ROOT / "rulesets")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["test", str(ROOT / "rulesets")])
    assert r.exit_code == 0 and "gb.zero_carbon_park@2025" in r.output


def test_cli_test_reports_expected_vs_actual(tmp_path):
    bad = tmp_path / "bad.nr"
    bad.write_text(PARK.read_text("utf-8").replace(
        'expect intensity_limit = 0.2 t CO2/tce, core.intensity = fail, meets_notice = "not met"',
        'expect intensity_limit = 0.2 t CO2/tce, core.intensity = pass, meets_notice = "not met"'), "utf-8")
    r = CliRunner().invoke(main, ["test", str(bad)])
    assert r.exit_code == 1
    assert "core.intensity: expected pass, got fail (executor)" in r.output
    assert "1 failed" in r.output


def test_python_m_normrules_and_help():
    r = subprocess.run([sys.executable, "-m", "normrules", "--help"], capture_output=True, text=True, check=True)
    for cmd in ("check", "eval", "explain", "test"):
        assert cmd in r.stdout
