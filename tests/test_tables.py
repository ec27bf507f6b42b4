"""Reading input tables: encodings, units in headers, percent strings, categories, missing values,
and the table kinds ``evaluate`` accepts (CSV, Parquet, JSON, pandas, Arrow, dict of arrays).

The files in tests/data are written by tests/data/make_fixtures.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import normrules
from normrules.errors import DataError
from normrules.tables import decode_csv_bytes, read_table
from normrules.units import parse_unit

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
PARK = ROOT / "rulesets" / "gb" / "zero_carbon_park.nr"
PARK_RULES = ("core.intensity", "guide.clean_energy", "guide.product_energy", "guide.solid_waste", "guide.waste_heat")

# A ruleset with the input types the park ruleset lacks (text with Chinese categories, date).
# Every rule passes when its input is read as 0 / false / the first category / 1970-01-01, so a
# missing value read as any of those would show up as a pass.
FIRMS = """
ruleset test.tables {
  title zh "读表测试" en "Reading tables"
  document "tests/test_tables.py"
  version "1"
  status draft
}

entity firm "企业" key id

input firm.energy    : tce/yr in [0, inf)             "综合能源消费量"
input firm.share     : percent in [0, 100]            "清洁能源占比"
input firm.sector    : text {"钢铁", "水泥", "化工"}   "行业"
input firm.certified : boolean                        "已认证"
input firm.audited   : date                           "审计日期"

rule r.small       require energy <= 100 tce/yr
rule r.clean       require share >= 90 percent
rule r.steel       require sector == "钢铁"
rule r.uncertified require not certified
rule r.old_audit   require audited < 2000-01-01

result firm.all_met {
  "met"     when all(r.*)
  "not met" otherwise
}
"""
FIRM_RULES = ("r.small", "r.clean", "r.steel", "r.uncertified", "r.old_audit")

# Expected outcome of tests/data/parks_* (see make_fixtures.py for the rows).
PARK_EXPECTED = {
    "core.intensity": ["pass", "fail", "not_applicable", "unknown", "unknown", "pass"],
    "guide.clean_energy": ["pass", "pass", "not_applicable", "pass", "unknown", "fail"],
    "guide.product_energy": ["pass", "pass", "not_applicable", "pass", "unknown", "fail"],
    "guide.solid_waste": ["pass", "pass", "not_applicable", "pass", "unknown", "pass"],
    "guide.waste_heat": ["pass", "pass", "not_applicable", "pass", "unknown", "pass"],
}
PARK_LABELS = ["met", "not met", "not in scope", None, None, "not met"]
PARK_FILES = ["parks_utf8.csv", "parks_utf8_bom.csv", "parks_gbk.csv", "parks.parquet", "parks.json"]


@pytest.fixture(scope="module")
def park():
    return normrules.load(PARK)


@pytest.fixture(scope="module")
def firms():
    return normrules.loads(FIRMS, "firms.nr")


def _base(unit: str) -> float:
    return parse_unit(unit).factor


def _same_evaluation(a, b) -> None:
    assert a.n == b.n
    assert list(a.keys) == list(b.keys)
    assert a.to_arrow(include_inputs=True).equals(b.to_arrow(include_inputs=True))
    for name, col in a.columns.items():
        other = b.columns[name]
        assert np.array_equal(col.known, other.known), name
        assert np.array_equal(np.where(col.known, col.data, 0), np.where(other.known, other.data, 0)), name


# --------------------------------------------------------------------------- encodings


def test_the_fixtures_really_are_in_three_encodings():
    utf8 = (DATA / "parks_utf8.csv").read_bytes()
    bom = (DATA / "parks_utf8_bom.csv").read_bytes()
    gbk = (DATA / "parks_gbk.csv").read_bytes()
    assert not utf8.startswith(b"\xef\xbb\xbf")
    assert bom == b"\xef\xbb\xbf" + utf8
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    assert decode_csv_bytes(utf8) == decode_csv_bytes(bom) == decode_csv_bytes(gbk) == utf8.decode("utf-8")


@pytest.mark.parametrize("name", ["parks_utf8.csv", "parks_utf8_bom.csv", "parks_gbk.csv"])
def test_csv_in_utf8_bom_and_gbk_reads_chinese_headers_and_cells(name):
    table = read_table(DATA / name)
    # the BOM is not glued to the first header, and the Chinese header and 万 unit survive
    assert table.column_names[:3] == ["id", "园区名称", "energy [万tce/yr]"]
    assert table.column("园区名称").to_pylist()[:2] == ["示范园区甲", "示范园区乙"]
    assert table.column("product_energy_level2").to_pylist() == ["是"] * 5 + ["否"]
    assert table.equals(read_table(DATA / "parks_utf8.csv"))


@pytest.mark.parametrize("name", PARK_FILES)
def test_park_files_give_the_expected_verdicts(park, name):
    ev = park.evaluate(read_table(DATA / name))
    assert list(ev.keys) == ["P1", "P2", "P3", "P4", "P5", "P6"]        # `id` found in every format
    for rule, expected in PARK_EXPECTED.items():
        assert ev.verdicts(rule) == expected, rule
    assert ev.labels("meets_notice") == PARK_LABELS
    assert ev.counts()["meets_notice"] == {"not in scope": 1, "met": 1, "not met": 2, "unknown": 2}
    assert ev.warnings == ()


def test_gbk_csv_with_chinese_categories_and_yes_no(firms):
    table = read_table(DATA / "firms_gbk.csv")
    assert table.column("企业名称").to_pylist() == ["甲钢铁厂", "乙水泥厂", "丙化工厂"]
    ev = firms.evaluate(table)
    assert list(ev.keys) == ["F1", "F2", "F3"]
    sector = ev.to_arrow(include_inputs=True).column("sector").to_pylist()
    assert sector == ["钢铁", "水泥", None]
    for rule in FIRM_RULES:
        assert ev.verdicts(rule) == ["pass", "fail", "unknown"], rule
    assert ev.labels("all_met") == ["met", "not met", None]


# --------------------------------------------------------------------------- units in headers


def test_header_in_wan_tce_per_year_is_converted_on_read(park):
    ev = park.evaluate(read_table(DATA / "parks_utf8.csv"))
    expected_tce = [200_000, 1_000_000, 199_999, 500_000, math.nan, 500_000]
    assert ev.values("energy") == pytest.approx(expected_tce, rel=1e-12, nan_ok=True)
    # carried in base units (W): 1 万tce/yr = 10 000 tce/yr
    raw = np.array([20, 100, 19.9999, 50, np.nan, 50])
    assert ev.columns["energy"].data == pytest.approx(raw * _base("万tce/yr"), rel=1e-12, nan_ok=True)
    assert ev.columns["energy"].data == pytest.approx(np.array(expected_tce) * _base("tce/yr"), rel=1e-12, nan_ok=True)
    # the header's own unit when it is the declared one
    assert ev.values("co2")[[0, 1]] == pytest.approx([40_000, 300_001])
    # 20 万tce/yr is exactly the scope limit (in scope, 0.2 limit); 100 万tce/yr takes the 0.3 limit
    assert ev.values("intensity_limit")[:4] == pytest.approx([0.2, 0.3, 0.2, 0.2])
    assert ev.values("intensity")[:2] == pytest.approx([0.2, 0.300001])


def test_header_in_gj_per_year_is_converted_on_read(park):
    ev = park.evaluate(read_table(DATA / "parks_gj.csv"))
    raw = np.array([5_861_520, 29_307_600, 29_307_570.6924, 5_861_490.6924])
    assert ev.values("energy") == pytest.approx([200_000, 1_000_000, 999_999, 199_999], rel=1e-12)
    assert ev.columns["energy"].data == pytest.approx(raw * _base("GJ/yr"), rel=1e-12)
    # 5 861 520 GJ/yr is exactly 20万tce/yr and 29 307 600 GJ/yr exactly 100万tce/yr: the
    # conversions meet the limits within the tolerance instead of missing them by a rounding error
    assert ev.verdicts("core.intensity") == ["pass", "pass", "fail", "not_applicable"]
    assert ev.values("intensity_limit") == pytest.approx([0.2, 0.3, 0.2, 0.2])
    assert ev.labels("meets_notice") == ["met", "met", "not met", "not in scope"]


@pytest.mark.parametrize("header, unit", [
    ("energy [万tce]", "万tce"),          # an amount of energy, not energy per year
    ("energy [t CO2/yr]", "t CO2/yr"),
    ("clean_share [t]", "t"),
])
def test_incompatible_header_unit_is_a_data_error_naming_the_column(park, header, unit):
    with pytest.raises(DataError) as err:
        park.evaluate({"id": ["P1"], header: [1.0]})
    assert err.value.column == header
    assert f"column `{header}`" in str(err.value)
    assert f"unit {unit} cannot be converted" in str(err.value)


def test_unknown_header_unit_and_unit_on_a_boolean_name_the_column(park):
    with pytest.raises(DataError) as err:
        park.evaluate({"energy [foo/yr]": [1.0]})
    assert err.value.column == "energy [foo/yr]" and "unknown unit `foo`" in str(err.value)
    with pytest.raises(DataError) as err:
        park.evaluate({"product_energy_level2 [t]": [True]})
    assert err.value.column == "product_energy_level2 [t]"


def test_incompatible_unit_in_a_csv_header(park, tmp_path):
    path = tmp_path / "parks.csv"
    path.write_text("id,energy [kWh],co2\nP1,1000,10\n", "utf-8")
    with pytest.raises(DataError) as err:
        park.evaluate(read_table(path))
    assert err.value.column == "energy [kWh]"


# --------------------------------------------------------------------------- percentages


def test_percent_strings_read_as_percent(park):
    ev = park.evaluate(read_table(DATA / "parks_utf8.csv"))
    assert ev.values("clean_share") == pytest.approx([90, 95, 95, 95, 95, 89.9])
    assert ev.columns["clean_share"].data == pytest.approx([0.9, 0.95, 0.95, 0.95, 0.95, 0.899])
    assert ev.values("solid_waste_util")[0] == pytest.approx(80)
    # "90%" sits exactly on the 90 % limit and passes; "89.9%" fails
    assert ev.verdicts("guide.clean_energy")[0] == "pass"
    assert ev.verdicts("guide.clean_energy")[5] == "fail"


def test_percent_strings_mixed_with_plain_numbers_and_spaces(park):
    ev = park.evaluate({"energy": [500_000.0] * 3, "clean_share": ["95%", "95", " 89.5 % "]})
    assert ev.values("clean_share") == pytest.approx([95, 95, 89.5])
    assert ev.verdicts("guide.clean_energy") == ["pass", "pass", "fail"]
    assert not any("≤ 1" in w for w in ev.warnings)


def test_percent_sign_on_a_dimensioned_input_is_an_error(park):
    with pytest.raises(DataError) as err:
        park.evaluate({"energy": ["500000", "5%"]})
    assert (err.value.column, err.value.row) == ("energy", 2)


def test_warning_when_every_value_of_a_percent_column_is_at_most_1(park):
    ev = park.evaluate({"energy": [500_000.0, 500_000.0, 500_000.0], "clean_share": [0.95, 0.9, np.nan]})
    warning = [w for w in ev.warnings if "every value is ≤ 1" in w]
    assert len(warning) == 1 and "`clean_share`" in warning[0]
    # the values are read as written: 0.95 is 0.95 %, far below the 90 % limit
    assert ev.values("clean_share")[:2] == pytest.approx([0.95, 0.9])
    assert ev.verdicts("guide.clean_energy") == ["fail", "fail", "unknown"]


def test_no_percent_warning_when_a_value_exceeds_1_or_the_header_says_fractions(park):
    ev = park.evaluate({"energy": [500_000.0] * 2, "clean_share": [0.95, 95.0]})
    assert not any("every value is ≤ 1" in w for w in ev.warnings)
    # `[1]` in the header: the column holds fractions, 0.95 is 95 %
    ev = park.evaluate({"energy": [500_000.0] * 2, "clean_share [1]": [0.95, 0.5]})
    assert not any("every value is ≤ 1" in w for w in ev.warnings)
    assert ev.values("clean_share") == pytest.approx([95, 50])
    assert ev.verdicts("guide.clean_energy") == ["pass", "fail"]


# --------------------------------------------------------------------------- categories


def test_undeclared_category_is_a_data_error_naming_column_and_row(firms):
    table = read_table(DATA / "firms_bad_category.csv")
    with pytest.raises(DataError) as err:
        firms.evaluate(table)
    assert (err.value.column, err.value.row) == ("sector", 3)
    message = str(err.value)
    assert message.startswith("column `sector`, row 3:")
    assert '"钢材" is not a declared category of `sector`' in message
    assert "钢铁, 水泥, 化工" in message


def test_undeclared_category_read_as_unknown_and_counted(firms):
    ev = firms.evaluate(read_table(DATA / "firms_bad_category.csv"), invalid="unknown")
    assert ev.invalid_counts == {"sector": 1}
    assert ev.verdicts("r.steel") == ["pass", "fail", "unknown", "fail"]
    assert ev.to_arrow(include_inputs=True).column("sector").to_pylist() == ["钢铁", "水泥", None, "化工"]
    assert any("column `sector`: 1 invalid value(s) read as unknown" in w for w in ev.warnings)


def test_category_cells_are_trimmed_but_must_match_exactly(firms):
    ev = firms.evaluate({"sector": [" 钢铁", "化工 "]})          # surrounding spaces are trimmed
    assert ev.verdicts("r.steel") == ["pass", "fail"]
    with pytest.raises(DataError) as err:
        firms.evaluate({"sector": ["钢铁", "化 工"]})
    assert (err.value.column, err.value.row) == ("sector", 2)


def test_out_of_range_values_error_or_become_unknown(park):
    data = {"energy": [500_000.0, -1.0, 500_000.0], "clean_share": [95.0, 95.0, 120.0]}
    with pytest.raises(DataError) as err:
        park.evaluate(data)
    assert (err.value.column, err.value.row) == ("energy", 2)
    ev = park.evaluate(data, invalid="unknown")
    assert ev.invalid_counts == {"energy": 1, "clean_share": 1}
    assert ev.verdicts("guide.clean_energy") == ["pass", "unknown", "unknown"]


def test_text_in_a_number_column_names_column_and_row(park):
    with pytest.raises(DataError) as err:
        park.evaluate({"id": ["P1", "P2"], "co2": ["1000", "n/a"]})
    assert (err.value.column, err.value.row) == ("co2", 2)
    assert "`n/a` is not a number" in str(err.value)


# --------------------------------------------------------------------------- missing values


def _zero_like_row(firms):
    """The values a missing cell must never be mistaken for: each of them passes its rule."""
    ev = firms.evaluate({"energy": [0.0], "share": [100.0], "sector": ["钢铁"], "certified": [False],
                         "audited": ["1970-01-01"]})
    assert [ev.verdicts(r)[0] for r in FIRM_RULES] == ["pass"] * 5
    return ev


def _firm_rows_with_a_gap(gap, container=list):
    """Row 1 passes every rule; row 2 has ``gap`` in every input column."""
    return {
        "energy": container([50.0, gap] if gap != "" else ["50", ""]),
        "share": container(["95%", gap]),
        "sector": container(["钢铁", gap]),
        "certified": container(["否", gap]),
        "audited": container(["1999-06-30", gap]),
    }


def _assert_row_2_unknown(ev, what):
    for rule in FIRM_RULES:
        assert ev.verdicts(rule) == ["pass", "unknown"], (rule, what)
    assert ev.labels("all_met") == ["met", None], what
    for name in ("energy", "share", "sector", "certified", "audited"):
        assert not ev.columns[name].known[1], (name, what)


@pytest.mark.parametrize("gap", ["", None, np.nan], ids=["empty", "none", "nan"])
def test_missing_cells_are_unknown_never_pass(firms, gap):
    _zero_like_row(firms)
    object_arrays = _firm_rows_with_a_gap(gap, lambda v: np.array(v, dtype=object))
    tables = {"dict of object arrays": object_arrays, "DataFrame": pd.DataFrame(object_arrays)}
    tables["dict of lists"] = _firm_rows_with_a_gap(gap)
    for what, table in tables.items():
        _assert_row_2_unknown(firms.evaluate(table), what)


def test_nan_in_a_plain_list_of_strings_is_unknown(firms):
    _assert_row_2_unknown(firms.evaluate(_firm_rows_with_a_gap(np.nan)), "dict of lists")


def test_empty_cells_in_csv_are_unknown_never_pass(firms, park):
    ev = firms.evaluate(read_table(DATA / "firms_gbk.csv"))
    for rule in FIRM_RULES:
        assert ev.verdicts(rule)[2] == "unknown"
    ev = park.evaluate(read_table(DATA / "parks_utf8.csv"))
    assert math.isnan(ev.values("co2")[3]) and math.isnan(ev.values("intensity")[3])
    assert ev.verdicts("core.intensity")[3] == "unknown"      # 0 t CO2 would have passed
    assert ev.labels("meets_notice")[3] is None


def test_nulls_in_arrow_and_nan_in_numpy_are_unknown(park):
    arrow = pa.table({"energy": pa.array([500_000.0, 500_000.0]), "co2": pa.array([None, 1.0], pa.float64()),
                      "product_energy_level2": pa.array([None, True], pa.bool_())})
    ev = park.evaluate(arrow)
    assert ev.verdicts("core.intensity") == ["unknown", "pass"]
    assert ev.verdicts("guide.product_energy") == ["unknown", "pass"]
    ev = park.evaluate({"energy": np.array([500_000.0, 500_000.0]), "co2": np.array([np.nan, 1.0])})
    assert ev.verdicts("core.intensity") == ["unknown", "pass"]


def test_absent_column_is_unknown_with_a_warning(park):
    ev = park.evaluate({"energy": [500_000.0], "co2": [1.0], "clean_shar": [95.0]})
    assert ev.verdicts("guide.clean_energy") == ["unknown"]
    assert any("no column `clean_share`" in w and "did you mean `clean_shar`" in w for w in ev.warnings)


# --------------------------------------------------------------------------- table kinds


def _park_columns(n: int = 60, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    energy = rng.choice([150_000.0, 200_000.0, 600_000.0, 1_000_000.0, 2_000_000.0], n)
    energy[rng.random(n) < 0.1] = np.nan
    co2 = energy * rng.choice([0.1, 0.2, 0.25, 0.3, 0.35], n)
    co2[rng.random(n) < 0.15] = np.nan
    clean = rng.choice([85.0, 90.0, 95.0, np.nan], n)
    return {
        "id": np.array([f"P{i:03d}" for i in range(n)]),
        "energy [万tce/yr]": energy / 10_000,
        "co2": co2,
        "clean_share": clean,
        "product_energy_level2": rng.random(n) < 0.8,
        "solid_waste_util": rng.choice([79.9, 80.0, 90.0], n),
        "waste_heat_util": rng.choice([49.0, 50.0, 70.0], n),
    }


def test_dataframe_arrow_table_and_dict_of_arrays_give_identical_results(park):
    columns = _park_columns()
    from_dict = park.evaluate(columns)
    from_pandas = park.evaluate(pd.DataFrame(columns))
    from_arrow = park.evaluate(pa.table({k: pa.array(v, from_pandas=True) for k, v in columns.items()}))
    from_lists = park.evaluate({k: v.tolist() for k, v in columns.items()})
    for other in (from_pandas, from_arrow, from_lists):
        _same_evaluation(from_dict, other)
    # and the data is really mixed: every verdict and label occurs
    counts = from_dict.counts()
    assert all(counts["core.intensity"][v] > 0 for v in ("pass", "fail", "not_applicable", "unknown"))
    assert all(counts["meets_notice"][label] > 0 for label in ("not in scope", "met", "not met", "unknown"))
    assert list(from_dict.keys[:2]) == ["P000", "P001"]


def test_text_bool_and_date_inputs_identical_across_table_kinds(firms):
    data = {
        "id": ["F1", "F2", "F3", "F4"],
        "energy": [50.0, 500.0, None, 0.0],
        "share": [95.0, 80.0, None, 100.0],
        "sector": ["钢铁", "水泥", None, "化工"],
        "certified": [False, True, None, False],
        "audited": ["1999-06-30", "2024-05-20", None, "2000-01-01"],
    }
    from_lists = firms.evaluate(data)
    assert from_lists.verdicts("r.old_audit") == ["pass", "fail", "unknown", "fail"]
    assert from_lists.verdicts("r.steel") == ["pass", "fail", "unknown", "fail"]
    _same_evaluation(from_lists, firms.evaluate(pd.DataFrame(data)))
    _same_evaluation(from_lists, firms.evaluate(pa.table(data)))


def test_row_numbers_are_the_keys_without_an_id_column(park):
    ev = park.evaluate({"energy": np.array([1.0, 2.0, 3.0])})
    assert list(ev.keys) == ["1", "2", "3"]
    assert ev.to_arrow().column("id").to_pylist() == ["1", "2", "3"]


def test_unequal_column_lengths_are_rejected(park):
    with pytest.raises(pa.ArrowInvalid):
        park.evaluate({"energy": np.array([1.0, 2.0]), "co2": np.array([1.0])})


def test_parquet_and_json_read_like_the_csv(park):
    from_csv = park.evaluate(read_table(DATA / "parks_utf8.csv"))
    for name in ("parks.parquet", "parks.json"):
        _same_evaluation(from_csv, park.evaluate(read_table(DATA / name)))


def test_json_with_a_rows_object(park, tmp_path):
    rows = json.loads((DATA / "parks.json").read_text("utf-8"))
    path = tmp_path / "parks.json"
    path.write_text(json.dumps({"rows": rows}, ensure_ascii=False), "utf-8")
    ev = park.evaluate(read_table(path))
    assert ev.labels("meets_notice") == PARK_LABELS


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError):
        read_table(tmp_path / "nope.csv")


def test_keys_keep_their_text_in_a_whole_read_as_when_streaming(tmp_path):
    """`007` is a key, not the number 7: `eval` (streamed) prints it and `explain --id 007` finds it."""
    from click.testing import CliRunner

    from normrules.cli import main
    from normrules.tables import read_table

    src = Path(__file__).resolve().parents[1] / "examples" / "parks.csv"
    lines = src.read_text("utf-8").splitlines()
    path = tmp_path / "parks.csv"
    path.write_text("\n".join([lines[0], "007" + lines[1][lines[1].index(","):]]) + "\n", "utf-8")
    assert read_table(path)["id"].to_pylist() == ["007"]
    ruleset = str(src.parents[1] / "rulesets" / "gb" / "zero_carbon_park.nr")
    evaluated = CliRunner().invoke(main, ["eval", ruleset, "-i", str(path), "-q"])
    assert evaluated.exit_code == 0 and '"007"' in evaluated.output
    explained = CliRunner().invoke(main, ["explain", ruleset, "-i", str(path), "--id", "007"])
    assert explained.exit_code == 0, explained.output
    assert explained.output.startswith("park 007")
