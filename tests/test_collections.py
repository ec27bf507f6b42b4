"""Child entities, aggregates, lookups and per-row unit conversion, end to end.

* linking child rows to their parents: a child row naming no parent and a duplicated parent key
  are data errors naming the row / the key;
* a parent without child rows: every aggregate is unknown, unless it has a `default` (`count` with
  `default 0` is 0);
* sums are added in child-row order, always the same way: float-exact equal to a sequential Python
  sum over the parent's rows in table order, and identical when evaluated again (also with the
  child rows shuffled across parents);
* lookup misses are counted per lookup in ``Evaluation.counters.lookup_misses`` and shown in the
  ``normrules eval`` summary;
* the PV footprint (``rulesets/iec/pv_module_cfp.nr``): g → kg converted per line; a line whose
  unit cannot be converted into its process's unit (kg of cells) is a data error naming the row;
* ``normrules eval rulesets/intl/pv_export_markets.nr --input module=… --input line=…`` with CSV
  files;
* the reader's fast paths give what the general ones give: integer keys link like their texts,
  dictionary-encoded text reads like plain text (also an undeclared category), a sum ignores a
  missing value its `where` excludes, an empty cell of a table file is unknown.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import normrules
from normrules.cli import _summary, main
from normrules.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
PCR = ROOT / "rulesets" / "iec" / "pv_module_cfp.nr"
EXPORT = ROOT / "rulesets" / "intl" / "pv_export_markets.nr"

# A small ruleset of its own: a site with lines, every aggregate function, a lookup that misses.
SITES = """
ruleset test.collections { title "collections" document "tests/test_collections.py" version "1" status draft }

entity site "Site" key site_id
entity line "Line" of site key line_id

input site.limit : t CO2/yr
input line.co2 : t CO2/yr
input line.fuel : text {"coal", "gas", "oil"}
input line.metered : boolean

table ef "factor"
  key fuel : text
  column share : percent
  row "coal", 90
  row "gas", 50

let line.fossil : percent = ef[fuel].share
let site.total = sum(co2)
let site.total0 = sum(co2) default 0 t CO2/yr
let site.coal = sum(co2 where fuel == "coal") default 0 t CO2/yr
let site.average = mean(co2)
let site.largest = max(co2)
let site.smallest = min(co2)
let site.lines = count(line) default 0
let site.lines_bare = count(line)
let site.metered_share = share(metered)
let site.any_metered = any(metered) default false
let site.all_metered = all(metered)
let site.fossil_max = max(fossil)

rule cap.total
  require total <= limit
"""

SITE_IDS = ["A", "B", "C"]


@pytest.fixture(scope="module")
def sites():
    return normrules.loads(SITES)


def _lines(**columns):
    return {k: (np.array(v, dtype=float) if k == "co2" else v) for k, v in columns.items()}


def _value(ev, name, key):
    return ev.values(name)[list(ev.keys).index(key)]


# ------------------------------------------------------------------ linking rows to parents


def test_child_row_naming_no_parent_is_a_data_error_naming_the_row(sites):
    lines = _lines(site_id=["A", "B", "X", "A"], co2=[1, 2, 3, 4], fuel=["coal"] * 4, metered=[True] * 4)
    with pytest.raises(DataError) as info:
        sites.evaluate({"site_id": SITE_IDS, "limit": [1.0, 1.0, 1.0]}, children={"line": lines})
    err = info.value
    assert err.row == 3 and err.column == "site_id"
    assert "`X` matches no site" in str(err) and "row 3" in str(err)


def test_duplicate_parent_keys_are_a_data_error(sites):
    lines = _lines(site_id=["A"], co2=[1], fuel=["coal"], metered=[True])
    with pytest.raises(DataError, match="site key `B` appears twice") as info:
        sites.evaluate({"site_id": ["A", "B", "B"], "limit": [1.0, 1.0, 1.0]}, children={"line": lines})
    assert info.value.column == "site_id"


def test_child_table_without_the_parent_key_column_is_a_data_error(sites):
    with pytest.raises(DataError, match="needs a column `site_id`"):
        sites.evaluate({"site_id": SITE_IDS, "limit": [1.0] * 3},
                       children={"line": _lines(co2=[1], fuel=["coal"], metered=[True])})


def test_children_in_any_order_link_to_their_parents(sites):
    lines = _lines(site_id=["C", "A", "C", "A"], co2=[1, 2, 3, 4], fuel=["gas"] * 4, metered=[True] * 4)
    ev = sites.evaluate({"site_id": SITE_IDS, "limit": [10.0, 10.0, 10.0]}, children={"line": lines})
    assert list(ev.values("total")[[0, 2]]) == [6.0, 4.0]
    assert list(ev.values("lines")) == [2.0, 0.0, 2.0]


# ------------------------------------------------------------------ a parent without children


def test_parent_without_children_has_unknown_aggregates_unless_default(sites):
    lines = _lines(site_id=["A", "A", "C"], co2=[1, 2, 5], fuel=["coal", "gas", "oil"], metered=[True, False, True])
    ev = sites.evaluate({"site_id": SITE_IDS, "limit": [10.0, 10.0, 10.0]}, children={"line": lines})
    b = 1                                                              # site B has no lines
    for name in ("total", "average", "largest", "smallest", "lines_bare", "metered_share", "fossil_max"):
        assert math.isnan(ev.values(name)[b]), name
    assert not ev.columns["all_metered"].known[b]
    assert ev.values("total0")[b] == 0.0 and ev.values("coal")[b] == 0.0
    assert ev.values("lines")[b] == 0.0                                # count(line) default 0
    assert ev.columns["any_metered"].known[b] and not ev.columns["any_metered"].data[b]
    assert ev.verdicts("cap.total") == ["pass", "unknown", "pass"]
    # the others are known
    assert list(ev.values("lines")) == [2.0, 0.0, 1.0]
    assert ev.values("average")[0] == 1.5 and ev.values("smallest")[0] == 1.0 and ev.values("largest")[0] == 2.0
    assert ev.values("metered_share")[0] == 50.0                       # percent
    assert ev.values("fossil_max")[0] == 90.0 and math.isnan(ev.values("fossil_max")[2])   # oil: no row in ef


def test_no_child_table_at_all_is_every_parent_without_children(sites):
    ev = sites.evaluate({"site_id": SITE_IDS, "limit": [1.0] * 3})
    assert np.isnan(ev.values("total")).all()
    assert list(ev.values("lines")) == [0.0, 0.0, 0.0]
    assert any("no table for `line`" in w for w in ev.warnings)


def test_missing_child_value_makes_the_aggregate_unknown_unless_filtered_out(sites):
    lines = _lines(site_id=["A", "A", "B"], co2=[1, np.nan, 2], fuel=["gas", "coal", "coal"],
                   metered=[True, None, True])
    ev = sites.evaluate({"site_id": ["A", "B"], "limit": [10.0, 10.0]}, children={"line": lines})
    assert math.isnan(ev.values("total")[0]) and ev.values("total")[1] == 2.0
    assert math.isnan(ev.values("coal")[0])                            # the unknown line is a coal line
    assert ev.values("lines")[0] == 2.0                                # count needs no value
    assert ev.columns["any_metered"].data[0] and ev.columns["any_metered"].known[0]   # true or unknown = true
    assert not ev.columns["all_metered"].known[0]


def test_mean_with_where_divides_by_the_rows_kept():
    rs = normrules.loads(SITES + "let site.coal_mean = mean(co2 where fuel == \"coal\")\n")
    lines = _lines(site_id=["A", "A", "A"], co2=[2, 4, 100], fuel=["coal", "coal", "gas"], metered=[True] * 3)
    ev = rs.evaluate({"site_id": ["A"], "limit": [1.0]}, children={"line": lines})
    assert ev.values("coal_mean")[0] == 3.0


# ------------------------------------------------------------------ summation order


def _sequential_sums(parents: np.ndarray, values: np.ndarray, n: int) -> list[float]:
    totals = [0.0] * n
    for p, v in zip(parents.tolist(), values.tolist()):
        totals[p] += v
    return totals


def test_sum_is_sequential_in_child_row_order_and_repeatable(sites):
    rng = np.random.default_rng(7)
    n, m = 50, 2000
    parents = rng.integers(0, n, m)
    co2 = rng.choice([1e16, -1e16, 1.0, 3.3, -2.7e3, 1e-3], m) * rng.uniform(0.5, 1.5, m)
    lines = {"site_id": np.array([f"S{p}" for p in parents], dtype=object), "co2": co2,
             "fuel": ["gas"] * m, "metered": [True] * m}
    roots = {"site_id": [f"S{i}" for i in range(n)], "limit": np.zeros(n)}
    first = sites.evaluate(roots, children={"line": lines}).columns["total"].data
    again = sites.evaluate(roots, children={"line": lines}).columns["total"].data
    factor = normrules.loads(SITES).checked.inputs[1].type.unit.factor          # t CO2/yr → base units
    want = _sequential_sums(parents, co2 * factor, n)
    assert first.tolist() == want                                           # float-exact
    assert again.tolist() == want
    # the order matters for these values: pairwise or sorted summation would differ somewhere
    by_parent = [co2[parents == p] * factor for p in range(n)]
    assert any(float(np.sum(v)) != w or math.fsum(v) != w for v, w in zip(by_parent, want))


def test_pv_footprint_is_the_sequential_sum_of_line_emissions():
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from strategies import PV_COUNTRIES, PV_PROCESSES, PV_UNITS, pv_tables

    pcr = normrules.load(PCR)
    modules, lines, codes = pv_tables(200, lines=10, seed=11, missing=0.0)
    order = np.random.default_rng(3).permutation(len(lines["quantity"]))   # lines of all modules interleaved
    lines = {k: v[order] for k, v in lines.items()}
    codes = {k: v[order] for k, v in codes.items()}
    ev = pcr.evaluate(modules, children={"line": lines})
    table = next(t for t in pcr.checked.tables if t.name == "pv_factor")
    factor = {(r[0], r[1]): r[2] for r in table.rows}                          # canonical kg CO2e
    unit_of = {(r[0], r[1]): r[3] for r in table.rows}
    units = {"kg": 1.0, "g": 0.001, "t": 1000.0, "wafer": 1.0, "cell": 1.0}
    emissions = [q * (units[PV_UNITS[u]] / units[unit_of[PV_PROCESSES[p], PV_COUNTRIES[c]]])
                 * factor[PV_PROCESSES[p], PV_COUNTRIES[c]]
                 for q, u, p, c in zip(lines["quantity"].tolist(), codes["unit"].tolist(), codes["process"].tolist(),
                                       codes["country"].tolist())]
    want = _sequential_sums(codes["module"], np.array(emissions), 200)
    assert ev.columns["cfp"].data.tolist() == want
    assert ev.values("cfp").tolist() == want                                   # kg CO2e is the base unit
    assert pcr.evaluate(modules, children={"line": lines}).columns["cfp"].data.tolist() == want


# ------------------------------------------------------------------ lookup misses


def test_lookup_misses_are_counted_and_shown_in_the_summary(sites):
    lines = _lines(site_id=["A", "A", "B", "C"], co2=[1, 2, 3, 4], fuel=["oil", "coal", "oil", None],
                   metered=[True] * 4)
    ev = sites.evaluate({"site_id": SITE_IDS, "limit": [1.0] * 3}, children={"line": lines})
    assert ev.counters.total_lookup_misses == 2                        # two oil lines; the missing fuel is no miss
    ((table, span), count), = ev.counters.lookup_misses.items()
    assert table == "ef" and count == 2
    assert span.line == SITES.splitlines().index("let line.fossil : percent = ef[fuel].share") + 1
    summary = _summary(ev)
    assert f"no row in table `ef` (unknown): 2 at {span}" in summary


def test_lookup_misses_in_the_cli_summary(tmp_path):
    nr = tmp_path / "sites.nr"
    nr.write_text(SITES, "utf-8")
    (tmp_path / "sites.csv").write_text("site_id,limit [t CO2/yr]\nA,10\nB,10\n", "utf-8")
    (tmp_path / "lines.csv").write_text("site_id,co2 [t CO2/yr],fuel,metered\nA,1,oil,yes\nA,2,coal,no\nB,3,oil,yes\n",
                                        "utf-8")
    result = CliRunner().invoke(main, ["eval", str(nr), "--input", f"site={tmp_path / 'sites.csv'}",
                                       "--input", f"line={tmp_path / 'lines.csv'}", "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    assert "no row in table `ef` (unknown): 2 at" in result.stderr


# ------------------------------------------------------------------ the PV footprint: unit conversion


def _bom(*rows):
    keys = ("module_id", "process", "country", "quantity", "unit")
    return {k: ([r[i] for r in rows] if k != "quantity" else np.array([r[i] for r in rows], dtype=float))
            for i, k in enumerate(keys)}


def test_grams_are_converted_to_kilograms():
    pcr = normrules.load(PCR)
    modules = {"module_id": ["M1", "M2", "M3"], "rated_power": np.array([400.0, 400.0, 400.0])}
    lines = _bom(("M1", "glass", "CN", 12_000, "g"), ("M2", "glass", "CN", 12, "kg"), ("M3", "glass", "CN", 0.012, "t"))
    ev = pcr.evaluate(modules, children={"line": lines})
    assert ev.values("cfp") == pytest.approx([13.968] * 3, rel=1e-12)
    assert ev.values("cfp_glass") == pytest.approx([13.968] * 3, rel=1e-12)


def test_a_line_in_a_unit_of_another_kind_is_a_data_error_naming_the_row():
    pcr = normrules.load(PCR)
    modules = {"module_id": ["M1", "M2"], "rated_power": np.array([400.0, 400.0])}
    lines = _bom(("M1", "glass", "CN", 12, "kg"), ("M2", "cell", "CN", 108, "cell"), ("M2", "cell", "CN", 1.5, "kg"))
    with pytest.raises(DataError, match="unit `kg` cannot be converted to `cell`") as info:
        pcr.evaluate(modules, children={"line": lines})
    assert info.value.row == 3
    assert "row 3" in str(info.value)


def test_a_line_with_an_unknown_unit_is_unknown_not_an_error():
    pcr = normrules.load(PCR)
    modules = {"module_id": ["M1"], "rated_power": np.array([400.0])}
    lines = _bom(("M1", "cell", "CN", 108, None), ("M1", "glass", "CN", 12, "kg"))
    ev = pcr.evaluate(modules, children={"line": lines})
    assert math.isnan(ev.values("cfp")[0])
    assert ev.values("cfp_glass")[0] == pytest.approx(13.968, rel=1e-12)


# ------------------------------------------------------------------ normrules eval, end to end


def test_cli_eval_export_markets_with_module_and_line_csvs(tmp_path):
    modules = tmp_path / "modules.csv"
    lines = tmp_path / "lines.csv"
    out = tmp_path / "out.csv"
    modules.write_text("module_id,rated_power [W],project_capacity [kW]\n"
                       "M1,400,150\n"          # CN module: 214.066 kg CO2e / 0.4 kW = 535.165 kg/kW
                       "M2,1000,50\n"          # FR glass: 526.3 kg × 1.045 = 549.98 kg/kW
                       "M3,400,200\n", "utf-8")  # no BOM lines: unknown
    lines.write_text("line_id,module_id,process,country,quantity,unit\n"
                     "L1,M1,polysilicon,CN,1,kg\n"
                     "L2,M2,glass,FR,526300,g\n"
                     "L3,M1,cell,CN,108,cell\n"
                     "L4,M1,glass,CN,12000,g\n"
                     "L5,M1,eva,CN,0.001,t\n", "utf-8")
    result = CliRunner().invoke(main, ["eval", str(EXPORT), "--input", f"module={modules}", "--input", f"line={lines}",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as f:
        rows = {r["module_id"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"M1", "M2", "M3"}
    assert float(rows["M1"]["pcr.cfp_per_kw [kg CO2e/kW]"]) == pytest.approx(535.165, rel=1e-9)
    assert float(rows["M2"]["pcr.cfp_per_kw [kg CO2e/kW]"]) == pytest.approx(549.9835, rel=1e-9)
    assert rows["M3"]["pcr.cfp_per_kw [kg CO2e/kW]"] == ""
    assert (rows["M1"]["fr.cre"], rows["M2"]["fr.cre"], rows["M3"]["fr.cre"]) == ("pass", "not_applicable", "unknown")
    m1 = rows["M1"]
    assert (m1["us.epeat_low"], m1["us.epeat_ultra"], m1["epeat"]) == ("pass", "fail", "low carbon")
    assert rows["M2"]["kr.best_class"] == "pass" and rows["M3"]["epeat"] == "unknown"
    assert all(r["_ruleset"] == "intl.pv_export_markets@2025" for r in rows.values())
    assert "3 module entities evaluated" in result.stderr


def test_cli_eval_reports_a_line_naming_no_module(tmp_path):
    modules = tmp_path / "modules.csv"
    lines = tmp_path / "lines.csv"
    modules.write_text("module_id,rated_power [W],project_capacity [kW]\nM1,400,150\n", "utf-8")
    lines.write_text("module_id,process,country,quantity,unit\nM1,cell,CN,108,cell\nM9,cell,CN,1,cell\n", "utf-8")
    result = CliRunner().invoke(main, ["eval", str(EXPORT), "--input", f"module={modules}", "--input", f"line={lines}"])
    assert result.exit_code == 2
    assert "`M9` matches no module" in result.output and "row 2" in result.output


# ------------------------------------------------------------------ rules on child rows


def test_a_line_rule_reading_another_line_rule_is_judged_per_line():
    # the checker once wrapped a line rule read in a line in `Up` (as if it were the parent's):
    # the executor then read the verdicts of other lines, indexed by parent row
    rs = normrules.loads("""
ruleset t { title "t" document "d" version "1" status draft }
entity site key id
entity line of site key line_id
input site.energy : tce/yr
input line.c : t CO2/yr
rule k.r0
  require c > 1 t CO2/yr
rule k.r1
  require k.r0
""")
    ev = rs.evaluate({"id": ["A", "B"], "energy": [1.0, 2.0]},
                     children={"line": {"id": ["A", "A", "B"], "c": np.array([0.5, 2.0, 3.0])}})
    assert ev.verdicts("k.r0") == ["fail", "pass", "pass"]
    assert ev.verdicts("k.r1") == ["fail", "pass", "pass"]


def test_a_parent_verdict_state_read_in_a_line():
    rs = normrules.loads("""
ruleset t { title "t" document "d" version "1" status draft }
entity site key id
entity line of site key line_id
input site.energy : tce/yr
input line.c : t CO2/yr
rule a.r0
  require energy > 1 tce/yr
let line.w = if (a.r0 is pass) then c else 0 t CO2/yr
let site.s = sum(w) default 0 t CO2/yr
""")
    ev = rs.evaluate({"id": ["A", "B"], "energy": [2.0, 0.5]},
                     children={"line": {"id": ["A", "B", "A"], "c": np.array([1.0, 2.0, 3.0])}})
    assert list(ev.values("w")) == [1.0, 0.0, 3.0]
    assert list(ev.values("s")) == [4.0, 0.0]


# ------------------------------------------------------------------ fast paths read the same


def test_sum_with_where_ignores_a_missing_value_it_excludes(sites):
    lines = _lines(site_id=["A", "A", "A"], co2=[2, np.nan, 4], fuel=["coal", "gas", "coal"], metered=[True] * 3)
    ev = sites.evaluate({"site_id": ["A"], "limit": [1.0]}, children={"line": lines})
    assert ev.values("coal")[0] == 6.0                                 # the gas line's missing co2 is not summed
    assert math.isnan(ev.values("total")[0])


def test_integer_keys_link_like_text_keys(sites):
    import pyarrow as pa

    roots = {"site_id": np.array([10, 30, 20]), "limit": [10.0, 10.0, 10.0]}
    lines = _lines(site_id=np.array([20, 10, 20]), co2=[1, 2, 3], fuel=["gas"] * 3, metered=[True] * 3)
    ev = sites.evaluate(roots, children={"line": lines})
    assert ev.values("total")[0] == 2.0 and ev.values("total")[2] == 4.0
    assert math.isnan(ev.values("total")[1]) and list(ev.keys) == ["10", "30", "20"]
    # integers on one side and text on the other still match as text
    text_lines = dict(lines, site_id=["20", "10", "20"])
    assert np.array_equal(sites.evaluate(roots, children={"line": text_lines}).values("total"), ev.values("total"),
                          equal_nan=True)
    wide = {"site_id": pa.array([1, 10**12], pa.int64()), "limit": [1.0, 1.0]}          # too sparse for a table
    wide_lines = _lines(site_id=pa.array([10**12, 1], pa.int64()), co2=[5, 6], fuel=["gas"] * 2, metered=[True] * 2)
    assert list(sites.evaluate(wide, children={"line": wide_lines}).values("total")) == [6.0, 5.0]


def test_integer_keys_missing_parent_and_duplicates_are_data_errors(sites):
    roots = {"site_id": np.array([1, 2, 3]), "limit": [1.0] * 3}
    with pytest.raises(DataError, match="`7` matches no site") as info:
        sites.evaluate(roots, children={"line": _lines(site_id=np.array([1, 7]), co2=[1, 1], fuel=["gas"] * 2,
                                                       metered=[True] * 2)})
    assert info.value.row == 2
    with pytest.raises(DataError, match="site key `2` appears twice"):
        sites.evaluate({"site_id": np.array([1, 2, 2]), "limit": [1.0] * 3},
                       children={"line": _lines(site_id=np.array([1]), co2=[1], fuel=["gas"], metered=[True])})


def test_dictionary_encoded_text_reads_like_plain_text(sites):
    import pyarrow as pa

    fuel = [" coal", "gas", None, "oil", "", "gas"]
    plain = _lines(site_id=["A"] * 6, co2=[1, 2, 3, 4, 5, 6], fuel=fuel, metered=[True] * 6)
    coded = dict(plain, fuel=pa.array(fuel).dictionary_encode())
    roots = {"site_id": ["A"], "limit": [1.0]}
    a = sites.evaluate(roots, children={"line": plain})
    b = sites.evaluate(roots, children={"line": coded})
    for name in ("fuel", "fossil"):
        assert np.array_equal(a.columns[name].known, b.columns[name].known), name
        known = a.columns[name].known
        assert np.array_equal(a.columns[name].data[known], b.columns[name].data[known]), name
    for name in ("coal", "total", "fossil_max"):      # unknown: the fuel of two lines is missing
        assert np.array_equal(a.values(name), b.values(name), equal_nan=True), name
    # an undeclared category: an error naming the row, or unknown and counted
    bad = pa.DictionaryArray.from_arrays(pa.array([0, 1, None, 1], pa.int8()), pa.array(["gas", "wood"]))
    lines = _lines(site_id=["A"] * 4, co2=[1, 2, 3, 4], fuel=bad, metered=[True] * 4)
    with pytest.raises(DataError, match='"wood" is not a declared category of `fuel`') as info:
        sites.evaluate(roots, children={"line": lines})
    assert info.value.row == 2
    ev = sites.evaluate(roots, children={"line": lines}, invalid="unknown")
    assert ev.invalid_counts == {"fuel": 2}
    assert list(ev.columns["fuel"].known) == [True, False, False, False]


def test_a_table_cell_left_empty_is_unknown(tmp_path):
    (tmp_path / "ef.csv").write_text("fuel,share [percent]\ncoal,90\ngas,\n", "utf-8")
    nr = tmp_path / "t.nr"
    nr.write_text(SITES.replace('''  row "coal", 90
  row "gas", 50''', '  rows from "ef.csv"'), "utf-8")
    rs = normrules.load(nr)
    lines = _lines(site_id=["A", "A", "A"], co2=[1, 2, 3], fuel=["coal", "gas", "oil"], metered=[True] * 3)
    ev = rs.evaluate({"site_id": ["A"], "limit": [1.0]}, children={"line": lines})
    assert list(ev.columns["fossil"].known) == [True, False, False]
    assert ev.counters.total_lookup_misses == 1                        # oil has no row; gas has one, empty
